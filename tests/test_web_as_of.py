"""A question asked in the web chat carries the date it is asked (like `postqa ask --as-of`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from postqa.core.types import Answer
from postqa.interfaces.web import AssistantHolder, ChatService


class _Recording:
    def __init__(self) -> None:
        self.asked: list[date | None] = []

    def stream(self, question: str, history: Any = (), flt: Any = None, top_k: Any = None,
               as_of: date | None = None) -> Iterator[tuple[str, Answer | None]]:
        self.asked.append(as_of)
        yield "", Answer(question=question, text="Zhang Yongping", answerable=True)


def test_the_chat_asks_on_today_and_the_api_on_the_date_it_names() -> None:
    fake = _Recording()
    service = ChatService(AssistantHolder(lambda: fake), today=lambda: date(2022, 6, 16))  # type: ignore[arg-type, return-value]
    assert service.reply("What happened this week?").answer is not None
    assert service.reply("What happened this week?", as_of="2019-05-21").answer is not None
    assert service.reply("What happened this week?", as_of=" ").answer is not None  # blank: today
    assert fake.asked == [date(2022, 6, 16), date(2019, 5, 21), date(2022, 6, 16)]
    bad = service.reply("What happened this week?", as_of="last Tuesday")
    assert bad.answer is None and "as_of" in bad.error and "YYYY-MM-DD" in bad.error
    assert len(fake.asked) == 3  # a bad date is refused before the assistant is asked


def test_the_real_clock_is_the_default() -> None:
    fake = _Recording()
    before = date.today()
    ChatService(AssistantHolder(lambda: fake)).reply("Who presided?")  # type: ignore[arg-type, return-value]
    assert len(fake.asked) == 1 and fake.asked[0] in (before, date.today())  # (a run across midnight)
