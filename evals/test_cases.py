"""The case files themselves: schema, coverage of question kinds, and answers that the articles really say."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from postqa.interfaces.evaluation import CALIBRATION_FILE, EVALS_DIR, load_cases, normalize
from postqa.reading.corpus import read_corpus

ROOT = Path(__file__).resolve().parents[1]
# the kinds the suite must cover (issue 4); other case files may add kinds of their own
REQUIRED_KINDS = {
    "who",
    "what",
    "when",
    "where",
    "how-many",
    "paraphrase",
    "multi-article",
    "date",
    "follow-up",
    "unanswerable",
}
CORE_FILES = ("cases.jsonl", "calibration.jsonl")


@pytest.fixture(scope="module")
def articles() -> dict[str, str]:
    read = read_corpus([ROOT / "corpus"])
    return {a.id: f"{a.title}\n{a.text}" for a in read.articles}


def _fold(text: str) -> str:
    return text.lower().replace("’", "'")


def test_the_suite_is_big_enough_and_covers_every_kind() -> None:
    cases = load_cases()
    kinds = Counter(c.kind for c in cases)
    assert len(cases) >= 50, f"only {len(cases)} cases"
    assert kinds["unanswerable"] >= 8, kinds
    assert REQUIRED_KINDS <= set(kinds), f"missing kinds: {REQUIRED_KINDS - set(kinds)}"
    assert all(c.history for c in cases if c.kind == "follow-up"), "a follow-up needs its earlier question"
    assert all(len(c.gold_articles) >= 2 for c in cases if c.kind == "multi-article")


def test_calibration_cases_are_separate_from_the_suite() -> None:
    suite = load_cases()
    calib = load_cases([CALIBRATION_FILE])
    assert not {c.id for c in suite} & {c.id for c in calib}
    assert not {normalize(c.question) for c in suite} & {normalize(c.question) for c in calib}
    assert {c.answerable for c in calib} == {True, False}


@pytest.mark.parametrize("name", CORE_FILES)
def test_answers_and_gold_sentences_are_in_the_gold_articles(name: str, articles: dict[str, str]) -> None:
    problems = []
    for case in load_cases([EVALS_DIR / name]):
        for gold in case.gold_articles:
            if gold not in articles:
                problems.append(f"{case.id}: unknown gold article {gold}")
        text = _fold("\n".join(articles.get(g, "") for g in case.gold_articles))
        for alias in case.answers:
            if _fold(alias) not in text:
                problems.append(f"{case.id}: answer {alias!r} is not in its gold article(s)")
        for sentence in case.gold_sentence:
            if _fold(sentence) not in text:
                problems.append(f"{case.id}: gold sentence not found: {sentence[:60]!r}")
    assert not problems, "\n".join(problems)


def test_every_case_file_points_at_existing_articles(articles: dict[str, str]) -> None:
    unknown = [(c.file, c.id, g) for c in load_cases() for g in c.gold_articles if g not in articles]
    assert not unknown
