"""Retrieval fusion and diversity; extractive answers (hash embedder here, the real model in the slow tier)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import AUTO, ROOT, XINHUA

from postqa.answering.answer import NOT_COVERED, is_follow_up, question_kind
from postqa.core.config import Settings
from postqa.core.types import SearchFilter
from postqa.index.retrieve import diversify, reciprocal_rank_fusion
from postqa.service.assistant import QuestionError
from postqa.service.pipeline import build_assistant, ingest


def test_rrf_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert max(fused, key=fused.__getitem__) == "b"
    assert fused["a"] == pytest.approx(1 / 61)


def test_diversify_caps_one_article_while_others_wait() -> None:
    ids = ["A#0", "A#1", "A#2", "A#3", "A#4", "B#0"]
    assert diversify(ids, lambda c: c.split("#")[0], 5, 2) == ["A#0", "A#1", "B#0", "A#2", "A#3"]
    assert diversify(ids[:5], lambda c: c.split("#")[0], 3, 2) == ["A#0", "A#1", "A#2"]


@pytest.mark.parametrize("q,kind", [
    ("Who presided over the Xinhua meeting?", "person"), ("When was the meeting held?", "date"),
    ("How many provinces attended?", "number"), ("Where was the teleconference held?", "place"),
    ("What brand will China Post build?", "entity"), ("What did Kang Ning announce?", "clause"),
    ("And who addressed it?", "person"), ("On what date did it happen?", "date"),
])
def test_question_kind(q: str, kind: str) -> None:
    assert question_kind(q) == kind


def test_follow_up_detection() -> None:
    assert is_follow_up("And who addressed it?")
    assert is_follow_up("What about the auto meeting?")
    assert not is_follow_up("Who presided over the Xinhua teleconference in Beijing?")


def test_hash_pipeline_answers_and_filters(hash_settings: Settings) -> None:
    ingest(hash_settings)
    assistant = build_assistant(hash_settings)
    answer = assistant.ask("Who presided over the Xinhua meeting?")
    assert answer.hits and answer.citations
    assert any(h.chunk.article_id == XINHUA for h in answer.hits)
    only_auto = assistant.ask("Who presided over the meeting?", flt=SearchFilter(article_ids=frozenset({AUTO})))
    assert {h.chunk.article_id for h in only_auto.hits} == {AUTO}
    from datetime import date
    in_2020 = assistant.ask("meeting", flt=SearchFilter(date_from=date(2020, 1, 1)))
    assert {h.chunk.article_id for h in in_2020.hits} == {XINHUA}
    with pytest.raises(QuestionError, match="empty"):
        assistant.ask("  \x00 ")
    with pytest.raises(QuestionError, match="20,000 characters"):
        assistant.ask("x" * 20000)


# ------------------------------------------------------------------------------ the real model (slow)


@pytest.mark.slow
def test_xinhua_question_with_the_real_model(real_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = real_assistant.ask("Who presided over the Xinhua meeting?")
    assert answer.answerable
    assert answer.text == "Zhang Yongping, Head of the General Manager’s Office of Xinhua News Agency"
    cite = answer.citations[0]
    assert (cite.article_id, cite.published.isoformat()) == (XINHUA, "2020-09-11")  # type: ignore[union-attr]
    assert cite.span is not None and "Zhang Yongping" in cite.passage[cite.span[0]:cite.span[1]]


@pytest.mark.slow
def test_follow_up_uses_the_conversation(real_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = real_assistant.ask("And who addressed it?", history=["Who presided over the Xinhua meeting?"])
    assert "Gong Xixiang" in answer.text and "Kang Ning" in answer.text


@pytest.mark.slow
def test_unanswerable_is_refused_with_nearest_passages(real_assistant) -> None:  # type: ignore[no-untyped-def]
    answer = real_assistant.ask("What is the recipe for chocolate cake?")
    assert not answer.answerable and answer.text == NOT_COVERED and answer.citations


@pytest.mark.slow
def test_cli_ask_json_contract(real_settings: Settings, real_assistant) -> None:  # type: ignore[no-untyped-def]
    env = {"POSTQA_PATHS__VECTORSTORE": str(real_settings.paths.vectorstore), "HF_HUB_OFFLINE": "1",
           "POSTQA_EMBEDDING__THREADS": "1", "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "postqa.interfaces.cli", "ask", "--json", "Who presided over the Xinhua meeting?"]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True).stdout
    obj = json.loads(out)
    assert set(obj) >= {"question", "answer", "answerable", "citations"}
    assert obj["answerable"] is True and obj["answer"].startswith("Zhang Yongping")
    c = obj["citations"][0]
    assert set(c) >= {"n", "article_id", "title", "date", "source", "passage", "span", "score"}
    assert c["date"] == "2020-09-11" and c["passage"][c["span"][0]:c["span"][1]].startswith("Zhang Yongping")
    # JSON Lines from stdin, models loaded once
    cmd = [sys.executable, "-m", "postqa.interfaces.cli", "ask", "-"]
    lines = subprocess.run(cmd, cwd=ROOT, env=env, input="Who presided over the Xinhua meeting?\n\nWhen was it?\n",
                           capture_output=True, text=True, timeout=300, check=True).stdout.strip().split("\n")
    # exactly one output line per input line, the blank one answered with the documented error object
    objs = [json.loads(x) for x in lines]
    assert len(objs) == 3 and "answer" in objs[0] and "answer" in objs[2], objs
    assert "error" in objs[1], objs[1]
    # a second ingest embeds nothing
    cmd = [sys.executable, "-m", "postqa.interfaces.cli", "ingest", "--json"]
    rep = json.loads(subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                                    check=True).stdout)
    assert rep["chunks_embedded"] == 0 and rep["unchanged"] == 2


def test_bad_history_items_are_skipped_and_top_k_is_checked(hash_settings: Settings) -> None:
    ingest(hash_settings)
    assistant = build_assistant(hash_settings)
    answer = assistant.ask("And who addressed it?", history=["x" * 5000, "", "Who presided over the Xinhua meeting?"])
    assert answer.hits
    with pytest.raises(QuestionError, match="top_k = 0"):
        assistant.ask("Who presided?", top_k=0)
    # a follow-up of a follow-up still borrows the original question
    assert assistant.retrieval_query("And when?", ["Who presided over the Xinhua meeting?",
                                                   "And who addressed it?"])[1] == \
        "Who presided over the Xinhua meeting?"


def test_example_questions_come_from_the_index(hash_settings: Settings) -> None:
    ingest(hash_settings)
    examples = build_assistant(hash_settings).example_questions()
    assert 2 <= len(examples) <= 4 and len(set(examples)) == len(examples)
    assert "What happened in September 2020?" in examples  # the newest article's month
    assert any(q.startswith("Who is") and ("Kang Ning" in q or " of " in q) for q in examples)
