"""Refusal-threshold calibration: ask once with the threshold at 0, then sweep it offline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from postqa.interfaces.evaluation.cases import Case
from postqa.interfaces.evaluation.metrics import contains_answer, refusal_metrics
from postqa.interfaces.evaluation.suite import prepare_assistant

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.config import Settings


def calibration_table(
    rows: Sequence[tuple[bool, bool, float, bool]], thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """For each threshold, refusal metrics when a case is answered iff it has a span and confidence ≥ t,
    and the share of the answered answerable cases whose answer is right.

    ``rows`` are (answerable case, a typed span was found, confidence, the answer is right).
    """
    table = []
    for t in thresholds:
        answered = [(a, ok) for a, has_span, conf, ok in rows if has_span and conf >= t]
        pairs = [(not a, not (has_span and conf >= t)) for a, has_span, conf, _ in rows]
        right = [ok for a, ok in answered if a]
        table.append(
            {
                "threshold": round(t, 4),
                **refusal_metrics(pairs),
                "answered_right": sum(right) / len(right) if right else 0.0,
            }
        )
    return table


def best_threshold(table: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The middle of the widest run of thresholds with the best refusal F1 (ties: the most margin)."""
    best_f1 = max(r["refusal_f1"] for r in table)
    runs: list[list[dict[str, float]]] = []
    for r in table:
        if abs(r["refusal_f1"] - best_f1) < 1e-9:
            if runs and runs[-1][-1] is table[table.index(r) - 1]:
                runs[-1].append(r)
            else:
                runs.append([r])
    widest = max(runs, key=len)
    mid = widest[(len(widest) - 1) // 2]
    return {
        "threshold": mid["threshold"],
        "range": (widest[0]["threshold"], widest[-1]["threshold"]),
        "row": mid,
    }


def calibrate(settings: Settings, cases: Sequence[Case]) -> dict[str, Any]:
    """Ask every calibration case once with the threshold at 0, then sweep the threshold offline."""
    assistant, info = prepare_assistant(settings.with_overrides(**{"answer.min_confidence": 0.0}))
    rows, per_case = [], []
    for case in cases:
        a = assistant.ask(case.question, history=list(case.history))
        right = bool(case.answerable and a.answerable and contains_answer(a.text, case.answers))
        rows.append((case.answerable, a.answerable, a.confidence, right))
        per_case.append(
            {
                "id": case.id,
                "answerable": case.answerable,
                "has_span": a.answerable,
                "confidence": round(a.confidence, 4),
                "got": a.text,
                "correct": right,
            }
        )
    grid = [i / 100 for i in range(0, 101)]
    table = calibration_table(rows, grid)
    return {
        "model": assistant.info.get("embedding", {}).get("model"),
        "cases": per_case,
        "table": table,
        "best": best_threshold(table),
        **info,
    }
