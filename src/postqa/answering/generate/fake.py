"""The fake generator: scripted replies (or passage 1's first sentence) for tests and plumbing."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from postqa.answering.generate.prompt import Passage
from postqa.nlp.sentences import shared_splitter


class FakeGenerator:
    """Scripted replies for tests; without a script, repeats passage 1's first sentence citing [1]."""

    def __init__(self, replies: Sequence[str | Exception] | None = None, name: str = "fake") -> None:
        self.replies = list(replies or [])
        self.name = name
        self.calls: list[tuple[str, list[Passage]]] = []

    def _next(self, question: str, passages: Sequence[Passage]) -> str:
        self.calls.append((question, list(passages)))
        if self.replies:
            reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
            if isinstance(reply, Exception):
                raise reply
            return reply
        if not passages:
            return "The passages do not say."
        text = passages[0].text
        first = shared_splitter().split(text)
        return f"{text[first[0][0]:first[0][1]].rstrip('.')} [1]." if first else "The passages do not say."

    def generate(self, question: str, passages: Sequence[Passage]) -> str:
        return self._next(question, passages)

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        reply = self._next(question, passages)
        yield from re.findall(r"\S+\s*|\s+", reply)
