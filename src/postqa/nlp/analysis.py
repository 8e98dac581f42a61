"""The Analysis of one text: sentences, tokens (lemma, POS, dependency, head), entities, noun chunks."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FORMAT = 1


@dataclass(frozen=True)
class Token:
    """One token; ``start``/``end`` are character offsets into the analysed text, ``head`` a token index."""

    i: int
    start: int
    end: int
    lemma: str
    pos: str
    dep: str
    head: int
    stop: bool = False


@dataclass(frozen=True)
class Span:
    """Tokens ``[start, end)`` of the analysed text, with an entity label ('' for noun chunks)."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True)
class Analysis:
    """What the answerer needs of a text, computed once (at ingest) and stored beside the chunk."""

    text: str
    tokens: tuple[Token, ...]
    sents: tuple[Span, ...]
    ents: tuple[Span, ...]
    chunks: tuple[Span, ...]

    def span_text(self, span: Span) -> str:
        a, b = self.char_span(span)
        return self.text[a:b]

    def char_span(self, span: Span) -> tuple[int, int]:
        if span.end <= span.start:
            return (0, 0)
        return self.tokens[span.start].start, self.tokens[span.end - 1].end

    def word(self, i: int) -> str:
        t = self.tokens[i]
        return self.text[t.start:t.end]

    def children(self, i: int) -> Iterator[Token]:
        return (t for t in self.tokens if t.head == i and t.i != i)

    def sentence_of(self, i: int) -> Span:
        return next((s for s in self.sents if s.start <= i < s.end), Span(0, len(self.tokens)))

    def within(self, spans: tuple[Span, ...], sent: Span) -> list[Span]:
        return [s for s in spans if sent.start <= s.start and s.end <= sent.end]

    def to_json(self) -> dict[str, Any]:
        """Compact lists (the text itself is not stored: the chunk holds it)."""
        return {
            "v": FORMAT,
            "t": [[t.start, t.end, t.lemma, t.pos, t.dep, t.head, int(t.stop)] for t in self.tokens],
            "s": [[s.start, s.end] for s in self.sents],
            "e": [[s.start, s.end, s.label] for s in self.ents],
            "c": [[s.start, s.end] for s in self.chunks],
        }

    @staticmethod
    def from_json(text: str, data: dict[str, Any]) -> Analysis:
        if data.get("v") != FORMAT:
            raise ValueError(f"analysis format {data.get('v')!r}; expected {FORMAT}")
        tokens = tuple(Token(i, int(a), int(b), str(lem), str(pos), str(dep), int(h), bool(st))
                       for i, (a, b, lem, pos, dep, h, st) in enumerate(data["t"]))
        return Analysis(text=text, tokens=tokens,
                        sents=tuple(Span(int(a), int(b)) for a, b in data["s"]),
                        ents=tuple(Span(int(a), int(b), str(lab)) for a, b, lab in data["e"]),
                        chunks=tuple(Span(int(a), int(b)) for a, b in data["c"]))


def text_key(text: str) -> str:
    """The content hash an analysis is stored under."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]


def from_doc(doc: Any) -> Analysis:
    """An Analysis from a spaCy Doc (duck-typed: this module never imports spaCy)."""
    tokens = tuple(Token(t.i, t.idx, t.idx + len(t.text), t.lemma_, t.pos_, t.dep_, t.head.i, bool(t.is_stop))
                   for t in doc)
    sents = tuple(Span(s.start, s.end) for s in doc.sents) if len(doc) else ()
    ents = tuple(Span(e.start, e.end, e.label_) for e in doc.ents)
    try:
        chunks = tuple(Span(c.start, c.end) for c in doc.noun_chunks)
    except ValueError:  # a pipeline without a parser has no noun chunks
        chunks = ()
    return Analysis(text=doc.text, tokens=tokens, sents=sents, ents=ents, chunks=chunks)
