"""Refusal-threshold calibration: ask once with the threshold at 0, then sweep it offline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from postqa.interfaces.evaluation.cases import Case
from postqa.interfaces.evaluation.metrics import contains_answer, refusal_metrics
from postqa.interfaces.evaluation.suite import prepare_assistant

if TYPE_CHECKING:  # pragma: no cover
    from postqa.answering.answerability import AnswerabilityModel
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


def answerability_table(
    rows: Sequence[tuple[bool, bool, float, float | None, bool]], thresholds: Sequence[float], min_confidence: float
) -> list[dict[str, float]]:
    """Like calibration_table for the answerability rule: a case is answered iff it has an answer at
    threshold 0, its confidence is at least ``min_confidence`` and its score at least t (a case with no score,
    answered by another path, keeps its answer). ``rows`` are (answerable case, answered at 0, confidence,
    score or None, the answer is right)."""
    return calibration_table(
        [(a, has and conf >= min_confidence, 1.0 if score is None else score, ok) for a, has, conf, score, ok in rows],
        thresholds)


NEAR_EXTRA_REFUSED = 0.04  # the near-miss model may refuse at most this share of the answerable calibration cases
# beyond those the first model and the confidence floor already refuse (its threshold is chosen under that cap)


def fit_answerability(per_case: Sequence[dict[str, Any]], meta: dict[str, Any],
                      min_confidence: float) -> dict[str, Any]:
    """Fit the answerability model in two parts, on calibration cases only. First, the answerable cases against
    the general-knowledge ones (questions the news does not touch), its threshold the middle of the widest run
    of best refusal F1 over those cases with the min_confidence floor applied as in answering. Then the near-miss
    model (fit_near): answerable against unanswerable questions *about* the news, over the features that ask
    whether the answer is said of the thing asked about. The score is the lower of the two."""
    from postqa.answering.answerability import fit

    usable = [c for c in per_case if c["features"] and (c["answerable"] or c["kind"] == "general")]
    model = fit([c["features"] for c in usable], [c["answerable"] for c in usable])
    own = {id(c): model.own_score(c["features"]) for c in per_case if c["features"]}
    rows = [(c["answerable"], c["has_span"], c["confidence"], own.get(id(c)), c["correct"]) for c in per_case]
    grid = [i / 100 for i in range(0, 101)]
    chosen = [r for r, c in zip(rows, per_case, strict=True) if c["answerable"] or c["kind"] == "general"]
    best = best_threshold(answerability_table(chosen, grid, min_confidence))
    model = replace(model, threshold=float(best["threshold"]),
                    meta={**meta, "fitted_cases": len(usable), "min_confidence": min_confidence})
    model = replace(model, near=fit_near(per_case, model, min_confidence))
    for c in per_case:
        c["answerability"] = round(model.score(c["features"]), 4) if c["features"] else None
    rows = [(c["answerable"], c["has_span"], c["confidence"], c["answerability"], c["correct"]) for c in per_case]
    return {"model": model, "table": answerability_table(rows, grid, min_confidence), "best": best}


def fit_near(per_case: Sequence[dict[str, Any]], first: AnswerabilityModel, min_confidence: float,
             extra: float | None = None) -> AnswerabilityModel | None:
    """The near-miss model: answerable against unanswerable-about-the-news cases over NEAR_FEATURES; its
    threshold gives the best refusal F1 over those cases among the thresholds that refuse at most ``extra``
    (default NEAR_EXTRA_REFUSED) of the answerable ones beyond ``first`` and the floor; its intercept is then
    shifted so that ``first``'s threshold applies to both. None when the cases cannot fit one or no threshold
    refuses anything."""
    from postqa.answering.answerability import NEAR_FEATURES, fit

    cases = [c for c in per_case if c["features"] and c["kind"] != "general"]
    if all(c["answerable"] for c in cases) or not any(c["answerable"] for c in cases):
        return None
    near = fit([c["features"] for c in cases], [c["answerable"] for c in cases], names=NEAR_FEATURES)
    kept = [c["has_span"] and c["confidence"] >= min_confidence and first.own_score(c["features"]) >= first.threshold
            for c in cases]
    scores = [near.own_score(c["features"]) for c in cases]
    extra = NEAR_EXTRA_REFUSED if extra is None else extra
    budget = extra * sum(c["answerable"] for c in cases)
    grid = [i / 100 for i in range(0, 101)]
    table = calibration_table([(c["answerable"], k, s, c["correct"]) for c, k, s in
                               zip(cases, kept, scores, strict=True)], grid)
    triples = list(zip(cases, kept, scores, strict=True))
    for row in table:
        if sum(c["answerable"] and k and s < row["threshold"] for c, k, s in triples) > budget:
            row["refusal_f1"] = -1.0
    t = float(best_threshold(table)["threshold"])
    if t <= 0.0:
        return None
    shift = _logit(first.threshold) - _logit(t)
    return replace(near, intercept=near.intercept + shift, threshold=first.threshold,
                   meta={"fitted_cases": len(cases), "own_threshold": t, "max_extra_refused": extra})


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def calibrate(settings: Settings, cases: Sequence[Case], fit: bool = False,
              meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Ask every calibration case once with nothing refused by a score, then sweep the min_confidence
    threshold offline; with ``fit``, also fit the answerability model on the answers' features."""
    assistant, info = prepare_assistant(settings.with_overrides(
        **{"answer.min_confidence": 0.0, "answer.refusal": "confidence"}))
    rows, per_case = [], []
    for case in cases:
        a = assistant.ask(case.question, history=list(case.history))
        right = bool(case.answerable and a.answerable and contains_answer(a.text, case.answers))
        rows.append((case.answerable, a.answerable, a.confidence, right))
        per_case.append(
            {
                "id": case.id,
                "kind": case.kind,
                "answerable": case.answerable,
                "has_span": a.answerable,
                "confidence": round(a.confidence, 4),
                "got": a.text,
                "correct": right,
                "features": dict(a.features),
            }
        )
    grid = [i / 100 for i in range(0, 101)]
    table = calibration_table(rows, grid)
    out: dict[str, Any] = {
        "model": assistant.info.get("embedding", {}).get("model"),
        "cases": per_case,
        "table": table,
        "best": best_threshold(table),
        **info,
    }
    if fit:
        out["answerability"] = fit_answerability(per_case, {**(meta or {}), "embedding": out["model"]},
                                                 settings.answer.min_confidence)
    return out
