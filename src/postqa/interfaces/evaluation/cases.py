"""The fixed Q&A suite's cases (evals/cases*.jsonl): where they live, their shape, loading and checking."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from postqa.core.errors import PostqaError

REPO_ROOT = Path(__file__).resolve().parents[4]


EVALS_DIR = REPO_ROOT / "evals"


REPORTS_DIR = EVALS_DIR / "reports"


CASES_GLOB = "cases*.jsonl"


CALIBRATION_FILE = EVALS_DIR / "calibration.jsonl"


UNANSWERABLE = "unanswerable"
# kinds whose cases must be refused: not in the news, or general knowledge the news never touches
REFUSAL_KINDS = frozenset({UNANSWERABLE, "general"})


class EvalError(PostqaError):
    """An eval file or dataset is missing or malformed."""


@dataclass(frozen=True)
class Case:
    """One fixed question with its acceptable answers and where the answer is written."""

    id: str
    kind: str
    question: str
    answers: tuple[str, ...] = ()
    gold_articles: tuple[str, ...] = ()
    gold_sentence: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    notes: str = ""
    file: str = ""

    @property
    def answerable(self) -> bool:
        return self.kind not in REFUSAL_KINDS and bool(self.answers)


def _as_tuple(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise EvalError(f"{where}: {key!r} must be a string or a list of strings, got {value!r}")


def _parse_case(line: str, where: str, file: str) -> Case:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise EvalError(f"{where}: not valid JSON ({err.msg})") from None
    for key in ("id", "kind", "question"):
        if not isinstance(obj.get(key), str) or not obj[key].strip():
            raise EvalError(f"{where}: {key!r} must be a non-empty string, got {obj.get(key)!r}")
    return Case(
        id=obj["id"],
        kind=obj["kind"],
        question=obj["question"],
        answers=_as_tuple(obj.get("answers"), where, "answers"),
        gold_articles=_as_tuple(obj.get("gold_articles"), where, "gold_articles"),
        gold_sentence=_as_tuple(obj.get("gold_sentence"), where, "gold_sentence"),
        history=_as_tuple(obj.get("history"), where, "history"),
        notes=str(obj.get("notes") or ""),
        file=file,
    )


def _check_case(case: Case, where: str, seen: dict[str, str]) -> None:
    if case.id in seen:
        raise EvalError(f"{where}: duplicate case id {case.id!r} (first in {seen[case.id]})")
    seen[case.id] = where
    if case.kind in REFUSAL_KINDS and case.answers:
        raise EvalError(f"{where}: an {case.kind} case must have no answers, got {case.answers!r}")
    if case.kind not in REFUSAL_KINDS and not (case.answers and case.gold_articles):
        raise EvalError(f"{where}: an answerable case needs answers and gold_articles")


def load_cases(paths: Iterable[str | Path] | None = None) -> list[Case]:
    """Cases from the given JSONL files (default: every evals/cases*.jsonl), ids unique across files."""
    files = [Path(p) for p in paths] if paths is not None else sorted(EVALS_DIR.glob(CASES_GLOB))
    if not files:
        raise EvalError(f"no case files found (looked for {EVALS_DIR / CASES_GLOB})")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            raise EvalError(f"case file {str(path)!r} does not exist")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            case = _parse_case(line, where, path.name)
            _check_case(case, where, seen)
            cases.append(case)
    return cases
