"""The Generator protocol: numbered passages and a question in, a reply with [n] markers out."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from postqa.answering.generate.prompt import Passage


@runtime_checkable
class Generator(Protocol):
    """A language model behind a prompt: numbered passages and a question in, a reply with [n] out."""

    name: str

    def generate(self, question: str, passages: Sequence[Passage]) -> str: ...

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]: ...
