"""Pages of a second site (not China Post), saved as one-line dumps: the reader must find each title, date and
body (tested without a model), and the cases in evals/pages_cases.jsonl must keep passing over them, so that a
reader regression shows up in `pytest evals`. A run of its own: evals/pages/ only, in a private store."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT / "evals" / "pages"
CASES = ROOT / "evals" / "pages_cases.jsonl"
# First run (MiniLM, before the spaCy answerer): 6 of 12 cases passed, every answerable case found its page
# first (the failures were answer spans and refusals, not the reader's). With the spaCy answerer (main at
# 818555d): 9 of 12 (misses: the ferry's seats, the race winner, the unanswerable first night). The bar is
# that run less one case of slack.
MIN_PASSED = 8 / 12

EXPECTED = {
    "ferry_night_service": ("Night ferry service starts on Lake Dongting", date(2022, 10, 12), "YUEYANG, Oct. 12"),
    "wetland_birds": ("Record number of migratory birds counted at wetland reserve", date(2023, 1, 6),
                      "A winter survey at the East Lake wetland reserve"),
    "rural_library_boat": ("Library boat brings books to island villages", date(2022, 5, 23),
                           "A converted cargo boat"),
    "dragon_boat_race": ("Forty teams race dragon boats at the lakeside festival", date(2022, 6, 3),
                         "Forty teams from six provinces"),
    "water_quality": ("Lake water quality improves for third straight year", date(2023, 3, 1),
                      "Water quality in the lake improved"),
}
JUNK = ("Web editor", "Related reading", "Most Read", "Share this story", "Log in", "Copyright", "Home>>",
        "Languages:", "Lakeside Daily Online")


def test_the_second_site_pages_read_with_title_date_and_clean_body() -> None:
    from postqa.reading.corpus import read_corpus

    result = read_corpus([PAGES])
    assert result.problems == []
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == set(EXPECTED)
    for aid, (title, published, first) in EXPECTED.items():
        article = by_id[aid]
        assert (article.title, article.published) == (title, published), aid
        assert article.text.startswith(first) and article.text.endswith("."), aid
        assert not [j for j in JUNK if j in article.text], aid
        assert article.report is not None and not article.report.warnings, article.report


@pytest.fixture(scope="module")
def pages_run(tmp_path_factory: pytest.TempPathFactory, base_settings: Any) -> dict[str, Any]:  # noqa: ANN401
    from postqa.core.errors import ModelNotAvailableError
    from postqa.interfaces.evaluation import eval_settings, evaluate, load_cases

    settings = eval_settings(base_settings, tmp_path_factory.mktemp("pages") / "vectorstore", None, corpus=PAGES)
    try:
        return evaluate(settings, load_cases([CASES]))
    except ModelNotAvailableError as err:
        pytest.skip(f"the configured embedding model is not available: {err}")


def test_cases_over_the_second_site_pass(pages_run: dict[str, Any]) -> None:
    cases = pages_run["cases"]
    failed = [f"{c['id']}: got {c['got']!r} ({c['why']})" for c in cases if not c["passed"]]
    passed = 1 - len(failed) / len(cases)
    assert passed >= MIN_PASSED, "\n".join(failed)
    # every answerable case finds its page first: a misread page (wrong date, menus as text) would not
    ranks = {c["id"]: c["hit_rank"] for c in cases if c["answerable"]}
    assert sum(1 for r in ranks.values() if r == 1) >= len(ranks) - 1, ranks
