"""The chunker contract, for every token counter it is used with: chunks cover the text in order, each is
the article text at its offsets, fits the budget with its title line, and ids are stable and consecutive."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postqa.core.types import Article
from postqa.index.chunking import chunk_article
from postqa.index.embedding import HashEmbedder

COUNTERS: dict[str, Callable[[Sequence[str]], list[int]]] = {
    "hash-words": HashEmbedder().count_tokens,
    "characters/4": lambda texts: [max(1, len(t) // 4) for t in texts],
}
SENTENCE = st.text(st.sampled_from("abcdefgh ijk,"), min_size=1, max_size=120).map(lambda s: s.strip() or "x")


def article(sentences: list[str]) -> Article:
    return Article(id="art", title="A title", published=date(2020, 1, 2), source="corpus/art.txt",
                   text=" ".join(f"{s.capitalize()}." for s in sentences))


@pytest.mark.parametrize("counter", sorted(COUNTERS))
@settings(max_examples=40, deadline=None)
@given(sentences=st.lists(SENTENCE, min_size=1, max_size=30), max_tokens=st.integers(32, 120),
       overlap=st.integers(0, 2))
def test_chunks_fit_cover_and_are_ordered(counter: str, sentences: list[str], max_tokens: int, overlap: int) -> None:
    count = COUNTERS[counter]
    art = article(sentences)
    chunks = chunk_article(art, max_tokens, count, overlap_sentences=overlap)
    assert chunks
    assert [c.id for c in chunks] == [f"art#{n}" for n in range(len(chunks))]
    assert [c.n for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert art.text[c.start : c.end] == c.text and c.text.strip()
        assert count([c.context_text])[0] <= max_tokens
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})  # strictly increasing
    assert all(a.end <= b.end for a, b in zip(chunks, chunks[1:], strict=False))
    assert chunks[0].start == 0 and chunks[-1].end == len(art.text.rstrip())
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(art.text) if not ch.isspace())
    assert chunk_article(art, max_tokens, count, overlap_sentences=overlap) == chunks  # stable
