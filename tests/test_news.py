"""News-aware answers end to end: date filters and notes, recency, people and roles, `postqa who`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import AUTO, XINHUA, make_settings

from postqa.core.config import Settings
from postqa.core.types import SearchFilter
from postqa.index.people import ledger_file, open_stored_people, people_path
from postqa.index.people_store import LedgerPeople
from postqa.service.pipeline import build_assistant, ingest


@pytest.fixture
def hash_assistant(hash_settings: Settings):  # type: ignore[no-untyped-def]
    ingest(hash_settings)
    return build_assistant(hash_settings)


def _ranked_first(hits, article: str) -> bool:  # type: ignore[no-untyped-def]
    """The first hit is from ``article`` and every hit of it scores above every hit of another article (the
    order after that also spreads hits over articles)."""
    mine = [h.score for h in hits if h.chunk.article_id == article]
    others = [h.score for h in hits if h.chunk.article_id != article]
    return bool(hits) and hits[0].chunk.article_id == article and min(mine) > max(others, default=0.0)


def test_time_question_prefers_the_period_and_says_which_dates(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    # a period the question is about ranks its articles first; the others stay candidates (a preference)
    ans = hash_assistant.ask("What did China Post announce in May 2019?")
    assert _ranked_first(ans.hits, AUTO) and {h.chunk.article_id for h in ans.hits} == {AUTO, XINHUA}
    assert ans.citations[0].article_id == AUTO
    assert ans.note.startswith("Dates: May 2019 (2019-05-01 to 2019-05-31)")
    rel = hash_assistant.ask("What did China Post do last year?")
    assert _ranked_first(rel.hits, AUTO)
    assert "last year (2019)" in rel.note and "relative to 2020-09-11 (newest article)" in rel.note
    before = hash_assistant.ask("What happened before 2020?")
    assert _ranked_first(before.hits, AUTO)
    from postqa.interfaces.web import answer_markdown

    shown = answer_markdown(ans).replace("\\", "")  # the chat shows it (markdown-escaped)
    assert "Dates: May 2019 (2019-05-01 to 2019-05-31)" in shown


def test_publication_questions_filter(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    # asking what was published then is a filter: only that period's articles
    for q in ("Any news from May 2019?", "What was published in May 2019?"):
        ans = hash_assistant.ask(q)
        assert {h.chunk.article_id for h in ans.hits} == {AUTO}, q
        assert "articles published up to 2019-06-07" in ans.note


def test_question_asked_on_a_date(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    # "this month" asked in May 2019 is May 2019, not the newest article's month; nothing is filtered away
    ans = hash_assistant.ask("What did China Post hold this month?", as_of=date(2019, 5, 25))
    assert _ranked_first(ans.hits, AUTO) and XINHUA in {h.chunk.article_id for h in ans.hits}
    assert "this month (May 2019)" in ans.note and "relative to 2019-05-25 (the date asked)" in ans.note
    # without a time expression, news published after the date asked ranks below the news before it
    plain = hash_assistant.ask("What did China Post Group do at the meeting?", as_of=date(2019, 6, 1))
    assert _ranked_first(plain.hits, AUTO)
    later = hash_assistant.ask("What did China Post Group do at the meeting?", as_of=date(2020, 9, 30))
    assert {h.chunk.article_id for h in later.hits} == {AUTO, XINHUA}


def test_no_article_in_range_is_said_plainly(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    ans = hash_assistant.ask("What did China Post announce in March 2018?")
    assert not ans.answerable and not ans.citations
    assert "March 2018" in ans.text and "2018-03-01 to 2018-03-31" in ans.note
    # the question's dates are intersected with a filter the user set
    only_auto = SearchFilter(article_ids=frozenset({AUTO}))
    ans = hash_assistant.ask("What happened in September 2020?", flt=only_auto)
    assert not ans.answerable and not ans.hits


def test_latest_answers_from_the_newest_relevant_article(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    ans = hash_assistant.ask("What happened at the latest meeting?")
    assert ans.answerable
    assert ans.citations[0].article_id == XINHUA
    assert "relative to 2020-09-11 (newest article)" in ans.note


def test_reference_date_setting(tmp_path: Path, corpus_dir: Path) -> None:
    settings = make_settings(tmp_path, corpus_dir, **{"answer.reference_date": "2021-03-01"})
    ingest(settings)
    ans = build_assistant(settings).ask("What did China Post do last year?")
    assert _ranked_first(ans.hits, XINHUA)
    assert "last year (2020)" in ans.note and "relative to 2021-03-01 (configured reference date)" in ans.note


def test_who_is_and_role_questions(hash_assistant) -> None:  # type: ignore[no-untyped-def]
    ans = hash_assistant.ask("Who is Kang Ning?")
    assert ans.text == "Kang Ning: Vice President of China Post Group (as of 2020-09-11; also 2019-05-21)"
    assert [c.article_id for c in ans.citations] == [XINHUA, AUTO]
    president = hash_assistant.ask("Who is the President of China Post Group?")
    assert president.text == "Zhang Jinliang (as of 2019-05-21)"
    assert president.citations[0].n == 1 and president.citations[0].article_id == AUTO
    both = hash_assistant.ask("Which executive attended both the auto services meeting and the Xinhua "
                              "teleconference?")
    assert both.text == "Kang Ning"
    assert {c.article_id for c in both.citations} == {AUTO, XINHUA}


def test_people_index_follows_ingest_and_deletion(hash_settings: Settings) -> None:
    report = ingest(hash_settings)
    ledger = ledger_file(hash_settings.paths.vectorstore, report.collection)
    saved = open_stored_people(ledger)  # kept in the ledger, per article, by the ingest
    assert saved is not None and "Gong Xixiang" in saved.names()
    assert not people_path(hash_settings.paths.vectorstore, report.collection).exists()  # no whole-index file
    assistant = build_assistant(hash_settings)
    assert isinstance(assistant.people_index(), LedgerPeople)
    next(hash_settings.paths.corpus.glob(f"{XINHUA}*")).unlink()
    ingest(hash_settings)
    after = open_stored_people(ledger)
    assert after is not None and "Gong Xixiang" not in after.names()
    assistant.people.ttl = 0  # type: ignore[union-attr]
    assert "Gong Xixiang" not in assistant.people_index().names()
    kang = assistant.ask("Who is Kang Ning?")
    assert kang.text == "Kang Ning: Vice President of China Post Group (as of 2019-05-21)"


def test_cli_who(hash_settings: Settings, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> None:
    from postqa.interfaces.cli import main

    ingest(hash_settings)
    for key, value in {"EMBEDDING__PROVIDER": "hash", "EMBEDDING__DIM": "256",
                       "PATHS__CORPUS": str(hash_settings.paths.corpus),
                       "PATHS__VECTORSTORE": str(hash_settings.paths.vectorstore)}.items():
        monkeypatch.setenv(f"POSTQA_{key}", value)
    monkeypatch.delenv("POSTQA_CONFIG", raising=False)
    monkeypatch.chdir(hash_settings.paths.vectorstore.parent)
    assert main(["who", "Kang Ning", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["roles"][0] == {"role": "Vice President of China Post Group",
                                "dates": ["2020-09-11", "2019-05-21"], "articles": [XINHUA, AUTO]}
    assert [a["id"] for a in data["articles"]] == [XINHUA, AUTO]
    assert main(["who", "Kang Ning"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Kang Ning: Vice President of China Post Group (as of 2020-09-11; also 2019-05-21)")
    assert "[1]" in out and "[2]" in out and "[Kang Ning, Vice President of China Post Group]" in out
    assert main(["who", "Nobody Known"]) == 1
    assert "Kang Ning" in capsys.readouterr().out


# ------------------------------------------------------------------------------------- the real model

@pytest.mark.slow
@pytest.mark.parametrize("question,note_part,article", [
    ("What did China Post announce in May 2019?", "Dates: May 2019 (2019-05-01 to 2019-05-31)", AUTO),
    ("What happened in September 2020?", "Dates: September 2020 (2020-09-01 to 2020-09-30)", XINHUA),
    ("What did China Post do last year?", "relative to 2020-09-11 (newest article)", AUTO),
    ("What happened at the latest meeting?", "relative to 2020-09-11 (newest article)", XINHUA),
    ("What did China Post do before 2020?", "Dates: before 2020 (up to 2019-12-31)", AUTO),
])
def test_real_model_time_questions_show_the_date_used(real_assistant, question: str, note_part: str,  # type: ignore[no-untyped-def]
                                                      article: str) -> None:
    ans = real_assistant.ask(question)
    assert ans.answerable, ans
    assert note_part in ans.note
    assert ans.citations and ans.citations[0].article_id == article


@pytest.mark.slow
def test_real_model_people(real_assistant) -> None:  # type: ignore[no-untyped-def]
    who = real_assistant.ask("Who is Kang Ning?")
    assert "Vice President of China Post Group" in who.text and "2020-09-11" in who.text
    assert [c.article_id for c in who.citations] == [XINHUA, AUTO]
    sec = real_assistant.ask("Who is the Secretary General of Xinhua News Agency?")
    assert sec.text == "Gong Xixiang (as of 2020-09-11)"
    both = real_assistant.ask("Which executive attended both the auto services meeting and the Xinhua "
                              "teleconference?")
    assert both.text == "Kang Ning" and {c.article_id for c in both.citations} == {AUTO, XINHUA}
    nobody = real_assistant.ask("Who is the President of Xinhua News Agency?")
    assert not nobody.answerable
