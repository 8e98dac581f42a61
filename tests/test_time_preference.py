"""Time as a ranking preference: phrasings -> windows, preferences that never empty the candidates, questions
asked on a date (--as-of, JSON lines), follow-ups that stay with the story, the reference date from the env."""

from __future__ import annotations

import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import AUTO, XINHUA

from postqa.answering.timeexpr import RECENT, asked_on_preference, parse_time_expression, preference, seen_from
from postqa.core.config import Settings, load_settings
from postqa.core.types import Chunk, SearchFilter
from postqa.index.retrieve import DatePreference
from postqa.interfaces.asklines import AskLineError, parse_ask_line
from postqa.service.pipeline import build_assistant, ingest

REF = date(2022, 6, 16)  # a Thursday
D = date


@pytest.fixture
def assistant(hash_settings: Settings):  # type: ignore[no-untyped-def]
    ingest(hash_settings)
    return build_assistant(hash_settings)


# ------------------------------------------------------------------------------------ phrasings -> windows

@pytest.mark.parametrize("question,lo,hi,relative", [
    # written for the news-quiz style ("this week", "recently"), and phrasings the parser was not built around
    ("Broadway's biggest stars were recognized this week at which awards show?", D(2022, 6, 13), D(2022, 6, 19),
     True),
    ("Which company said last week that it would cut jobs?", D(2022, 6, 6), D(2022, 6, 12), True),
    ("What did the central bank do over the past three months?", D(2022, 3, 18), REF, True),
    ("What was announced earlier this year?", D(2022, 1, 1), D(2022, 12, 31), True),
    ("Which team won two years ago?", D(2020, 1, 1), D(2020, 12, 31), True),
    ("What happened in the summer of 2019?", D(2019, 1, 1), D(2019, 12, 31), False),
    ("Who was elected in mid-2019?", D(2019, 5, 1), D(2019, 8, 31), False),
    ("Which law took effect on 3 January 2022?", D(2022, 1, 3), D(2022, 1, 3), False),
    ("Which storm hit the coast in Sep 2021?", D(2021, 9, 1), D(2021, 9, 30), False),
    ("What did the court decide on June 2?", D(2022, 6, 2), D(2022, 6, 2), True),
    ("What happened in December?", D(2021, 12, 1), D(2021, 12, 31), True),
])
def test_phrasings_resolve_to_windows(question: str, lo: date, hi: date, relative: bool) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None
    assert (intent.date_from, intent.date_to, intent.relative) == (lo, hi, relative)
    assert not intent.publication


@pytest.mark.parametrize("question", [
    "Which continent will require a common charger for all mobile devices?",
    "Who may lead the party?", "How many people attended the 2013 summit's closing session?",
    "Which fortnight-long festival ended?", "What does the March for Our Lives movement want?",
])
def test_no_time_expression(question: str) -> None:
    assert parse_time_expression(question, REF) is None


@pytest.mark.parametrize("question,newest", [
    ("An anonymous bidder recently paid a record sum for lunch with which investor?", False),
    ("What did the company say lately?", False),
    ("What was decided at the latest summit?", True),
    ("Who won the most recent election?", True),
])
def test_recency_words(question: str, newest: bool) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None and intent.recency and intent.newest is newest and not intent.has_range
    pref = preference(intent, REF)
    assert pref is not None and pref.window() == (REF - RECENT, REF)


@pytest.mark.parametrize("question,publication", [
    ("Any news from 2013?", True), ("What was published in May 2019?", True),
    ("Which articles of September 2020 mention Xinhua?", True), ("What was in the news in March 2021?", True),
    ("Who won the election in 2013?", False), ("What did China Post announce in May 2019?", False),
])
def test_only_publication_questions_are_filters(question: str, publication: bool) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None and intent.publication is publication


def _chunk(published: date | None, text: str = "text") -> Chunk:
    return Chunk(id="a#0", article_id="a", n=0, text=text, start=0, end=len(text), published=published)


def test_a_year_prefers_that_year_the_months_after_and_passages_naming_it() -> None:
    intent = parse_time_expression("Who won the election in 2013?", REF)
    assert intent is not None
    pref = preference(intent, REF)
    assert pref is not None
    inside, after, later, before = (pref.weight(_chunk(d)) for d in (D(2013, 6, 1), D(2014, 4, 1), D(2017, 1, 1),
                                                                     D(2010, 1, 1)))
    assert inside == after == 1.0 and 1.0 > before and later == pref.floor
    assert pref.weight(_chunk(D(2022, 1, 1), "Back in 2013, the party won.")) == 1.0
    assert pref.weight(_chunk(D(2022, 1, 1), "In 20130 units")) == pref.floor
    assert 0 < pref.weight(_chunk(None)) < 1


def test_weights_fall_with_distance_and_never_reach_zero() -> None:
    pref = DatePreference(D(2022, 6, 13), D(2022, 6, 19), timedelta(0), timedelta(days=7))
    days = [D(2022, 6, 19) + timedelta(days=n) for n in (0, 1, 3, 7, 30, 3000)]
    weights = [pref.weight(_chunk(d)) for d in days]
    assert weights == sorted(weights, reverse=True) and weights[0] == 1.0 and min(weights) == pref.floor > 0
    asked = asked_on_preference(REF)
    assert asked.weight(_chunk(D(2015, 1, 1))) == 1.0 and asked.weight(_chunk(D(2026, 1, 1))) == asked.floor
    # an undated article is not known to be later than the day asked: it weighs as the dated news up to it
    # (an uploaded page without a date, asked about in the web chat, which always says when it asks)
    assert asked.weight(_chunk(None)) == 1.0


def test_seen_from_the_date_asked_nothing_later_is_preferred() -> None:
    week = preference(parse_time_expression("Who won the award this week?", REF), REF)  # type: ignore[arg-type]
    assert week is not None and week.window()[1] is not None and week.window()[1] > REF  # Sunday + reporting lag
    seen = seen_from(week, REF)
    assert seen is not None and seen.window() == (D(2022, 6, 13), REF)  # Monday up to the Thursday asked
    assert seen.weight(_chunk(D(2022, 6, 14))) == 1.0 and seen.weight(_chunk(D(2022, 6, 25))) < 1.0
    assert seen_from(week, D(2022, 7, 30)) == week  # asked after the window: unchanged
    assert seen_from(week, None) == week and seen_from(None, REF) is None
    # a period wholly after the date asked ("planned for 2024", asked in 2022): the news up to that day,
    # and the passages that name the year
    later = seen_from(preference(parse_time_expression("Which two chains plan to merge in 2024?", REF), REF), REF)
    assert later is not None and later.window() == (None, REF) and later.mentions == ("2024",)
    assert later.weight(_chunk(D(2022, 6, 1))) == 1.0 and later.weight(_chunk(D(2024, 6, 1))) < 1.0
    assert later.weight(_chunk(D(2024, 6, 1), "The merger is due to close in 2024.")) == 1.0


# ------------------------------------------------------------------------------------ never empties

@pytest.mark.parametrize("lo,hi", [
    (D(2019, 5, 1), D(2019, 5, 31)), (D(2030, 1, 1), D(2030, 12, 31)), (D(1990, 1, 1), D(1990, 1, 2)),
    (None, D(2000, 1, 1)), (D(2025, 1, 1), None),
])
def test_a_preference_never_empties_or_shrinks_the_candidates(assistant, lo: date | None,  # type: ignore[no-untyped-def]
                                                              hi: date | None) -> None:
    pref = DatePreference(lo, hi, timedelta(days=7), timedelta(days=30))
    for query in ("Who presided over the meeting?", "China Post Group cooperation", "zzzz unknown words"):
        for mode in ("hybrid", "keyword", "dense"):
            plain = assistant.retriever.retrieve(query, top_k=5, mode=mode)
            preferred = assistant.retriever.retrieve(query, top_k=5, mode=mode, prefer=pref)
            assert len(preferred) >= len(plain), (query, mode)
    only_auto = SearchFilter(article_ids=frozenset({AUTO}))
    hits = assistant.retriever.retrieve("meeting", top_k=5, flt=only_auto, prefer=pref)
    assert hits and {h.chunk.article_id for h in hits} == {AUTO}  # an explicit filter still filters


def test_relative_dates_far_from_the_news_still_answer(assistant) -> None:  # type: ignore[no-untyped-def]
    # asked years after the news: "this week" finds no article of that week, the best ones still answer
    ans = assistant.ask("Who presided over the Xinhua teleconference this week?", as_of=D(2026, 3, 5))
    assert ans.hits and ans.answerable
    assert ans.citations[0].article_id == XINHUA
    assert "this week (2026-03-02..2026-03-08) is after the newest article" in ans.note


# ------------------------------------------------------------------------------------ asked on a date

def test_ask_lines_plain_and_json() -> None:
    assert parse_ask_line("  Who won?\n").question == "Who won?"
    line = parse_ask_line('{"question": "And who spoke?", "as_of": "2022-06-16", "history": ["Who won?"]}')
    assert (line.question, line.as_of, line.history) == ("And who spoke?", D(2022, 6, 16), ["Who won?"])
    for bad, match in [('{"question": 3}', "needs a \"question\""), ("{not json", "not a JSON object"),
                       ('{"question": "q", "as_of": "16/06/2022"}', "YYYY-MM-DD"),
                       ('{"question": "q", "history": "Who won?"}', "list of earlier questions")]:
        with pytest.raises(AskLineError, match=match):
            parse_ask_line(bad)


def _use_store(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {"EMBEDDING__PROVIDER": "hash", "EMBEDDING__DIM": "256",
                       "PATHS__CORPUS": str(settings.paths.corpus),
                       "PATHS__VECTORSTORE": str(settings.paths.vectorstore)}.items():
        monkeypatch.setenv(f"POSTQA_{key}", value)
    monkeypatch.delenv("POSTQA_CONFIG", raising=False)
    monkeypatch.chdir(settings.paths.vectorstore.parent)


def test_cli_as_of_and_json_lines(hash_settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    from postqa.interfaces.cli import main

    ingest(hash_settings)
    _use_store(hash_settings, monkeypatch)
    assert main(["ask", "--json", "--as-of", "2019-05-25", "What did China Post hold this month?"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert "this month (May 2019)" in obj["note"] and obj["citations"][0]["article_id"] == AUTO
    lines = ['{"question": "What did China Post hold this month?", "as_of": "2020-09-20"}',
             "What did China Post hold this month?",
             '{"question": "And who addressed it?", "history": ["Who presided over the Xinhua meeting?"]}',
             "{broken", ""]
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(("\n".join(lines) + "\n").encode())))
    assert main(["ask", "-", "--as-of", "2019-05-25"]) == 0
    out = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert "this month (September 2020)" in out[0]["note"]  # the line's own date wins
    assert "this month (May 2019)" in out[1]["note"]  # else --as-of
    assert out[2]["citations"][0]["article_id"] == XINHUA
    assert "error" in out[3] and "not a JSON object" in out[3]["error"]
    with pytest.raises(SystemExit) as exc:
        main(["ask", "--as-of", "yesterday-ish", "Who?"])
    assert exc.value.code == 2 and "YYYY-MM-DD" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ follow-ups

def test_a_follow_up_stays_with_the_story(assistant) -> None:  # type: ignore[no-untyped-def]
    first = assistant.ask("Who presided over the Xinhua meeting?")
    assert first.citations[0].article_id == XINHUA
    # the hash embedder knows no synonyms ("spoke" ~ "addressed" needs the real model): the routing is the point
    follow = assistant.ask("Who addressed it there on behalf of China Post?",
                           history=["Who presided over the Xinhua meeting?"])
    assert follow.answerable and {c.article_id for c in follow.citations} == {XINHUA}
    assert "previous answer" in follow.note
    other = assistant.ask("And who attended it?", history=["Which executives attended the promotion meeting?"])
    assert other.citations and other.citations[0].article_id == AUTO


# ------------------------------------------------------------------------------------ reference date from env

def test_reference_date_from_the_environment(hash_settings: Settings, tmp_path: Path) -> None:
    ingest(hash_settings)
    overrides = {"embedding.provider": "hash", "embedding.dim": 256, "paths.corpus": hash_settings.paths.corpus,
                 "paths.vectorstore": hash_settings.paths.vectorstore}
    settings = load_settings(environ={"POSTQA_ANSWER__REFERENCE_DATE": "2021-03-01"}, overrides=overrides)
    assert settings.answer.reference_date == "2021-03-01"
    ans = build_assistant(settings).ask("What did China Post do last year?")
    assert "last year (2020), relative to 2021-03-01 (configured reference date)" in ans.note
    assert ans.citations[0].article_id == XINHUA


def test_diversity_does_not_promote_passages_ranked_far_lower() -> None:
    from postqa.index.retrieve import diversify

    ids = ["A#0", "A#1", "A#2", "B#0", "B#1"]
    art = lambda c: c.split("#")[0]  # noqa: E731
    assert diversify(ids, art, 4, 2) == ["A#0", "A#1", "B#0", "B#1"]
    far = {"A#0": 1.0, "A#1": 0.9, "A#2": 0.8, "B#0": 0.2, "B#1": 0.1}.__getitem__
    assert diversify(ids, art, 4, 2, score=far) == ["A#0", "A#1", "A#2", "B#0"]
    near = {"A#0": 1.0, "A#1": 0.9, "A#2": 0.8, "B#0": 0.7, "B#1": 0.6}.__getitem__
    assert diversify(ids, art, 4, 2, score=near) == ["A#0", "A#1", "B#0", "B#1"]
