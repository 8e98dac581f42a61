"""Chunker properties: offsets point into the article, limits hold, ids are stable, nothing is lost."""

from __future__ import annotations

import random

import pytest
from conftest import CORPUS

from postqa.core.types import Article
from postqa.index.chunking import chunk_article, split_sentences
from postqa.index.embedding import HashEmbedder
from postqa.reading.corpus import read_corpus

COUNT = HashEmbedder().count_tokens


def _articles() -> list[Article]:
    arts = read_corpus([CORPUS]).articles
    rng = random.Random(7)
    words = ["alpha", "beta", "Gamma.", "delta,", "No.", "3.5", "U.S.", "end!", "why?"]
    for i in range(5):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(1, 900)))
        arts.append(Article(id=f"rand{i}", title="Random", published=None, source="x", text=text))
    arts.append(Article(id="long", title="One long sentence", published=None, source="x", text="word " * 1000))
    return arts


def test_sentences_keep_offsets_and_abbreviations() -> None:
    text = "Mr. Li met Dr. Wang on May 3. Sales rose 3.5 percent in the U.S. market! Did it? Yes."
    sents = split_sentences(text)
    assert [s.text for s in sents] == ["Mr. Li met Dr. Wang on May 3.",
                                      "Sales rose 3.5 percent in the U.S. market!", "Did it?", "Yes."]
    for s in sents:
        assert text[s.start:s.end] == s.text


@pytest.mark.parametrize("max_tokens", [40, 120, 254])
def test_chunk_properties(max_tokens: int) -> None:
    for art in _articles():
        chunks = chunk_article(art, max_tokens, COUNT, overlap_sentences=1)
        assert chunks, art.id
        assert [c.id for c in chunks] == [f"{art.id}#{i}" for i in range(len(chunks))]
        for c in chunks:
            assert art.text[c.start:c.end] == c.text
            assert COUNT([c.context_text])[0] <= max_tokens, (art.id, c.id)
        starts = [c.start for c in chunks]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        # every sentence character is covered by some chunk
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        for s in split_sentences(art.text):
            assert s.start in covered and s.end - 1 in covered
        assert chunk_article(art, max_tokens, COUNT) == chunks  # stable


def test_chunks_carry_title_and_date() -> None:
    art = read_corpus([CORPUS]).articles[1]
    chunk = chunk_article(art, 200, COUNT)[0]
    assert chunk.context_text.startswith(f"{art.title} ({art.published.isoformat()})\n")  # type: ignore[union-attr]
