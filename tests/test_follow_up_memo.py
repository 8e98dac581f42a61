"""A follow-up answers from the story of the previous answer without answering the previous question again."""

from __future__ import annotations

from typing import Any

from postqa.core.config import Settings
from postqa.service.memo import AnswerMemo

FIRST = "Who presided over the Xinhua meeting?"
FOLLOW = "And who addressed it?"


def _counting(assistant: Any) -> list[str]:
    asked: list[str] = []
    real = assistant.news_answer

    def news_answer(q: str, *args: Any, **kwargs: Any) -> Any:
        asked.append(q)
        return real(q, *args, **kwargs)

    assistant.news_answer = news_answer
    return asked


def test_follow_ups_reuse_the_previous_answer_and_answer_the_same(hash_settings: Settings) -> None:
    from postqa.service.pipeline import build_assistant, ingest

    ingest(hash_settings)
    expected = [build_assistant(hash_settings).ask(FOLLOW, history=[FIRST]).to_json() for _ in range(2)]
    assistant = build_assistant(hash_settings)
    first = assistant.ask(FIRST)
    asked = _counting(assistant)
    got = [assistant.ask(FOLLOW, history=[FIRST]).to_json() for _ in range(2)]
    assert got == expected  # the same answers as an assistant that answered the first question anew
    assert FIRST not in asked  # the first question was answered once, before the follow-ups
    assert first.answerable and "Gong Xixiang" in got[0]["answer"]
    other = build_assistant(hash_settings)  # follow-ups without the first question asked here: answered once
    asked = _counting(other)
    for _ in range(3):
        other.ask(FOLLOW, history=[FIRST])
    assert asked.count(FIRST) == 1


def test_the_memo_forgets_the_least_recently_used() -> None:
    from postqa.core.types import Answer

    memo = AnswerMemo(max_items=2)
    a, b, c = (Answer(question=q, text=q, answerable=True) for q in "abc")
    memo.remember("a", a), memo.remember("b", b), memo.get("a"), memo.remember("c", c)
    assert (memo.get("a"), memo.get("b"), memo.get("c"), len(memo)) == (a, None, c, 2)
