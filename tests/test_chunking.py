"""Chunker properties: offsets point into the article, limits hold, ids are stable, nothing is lost."""

from __future__ import annotations

import random

import pytest
from conftest import CORPUS

from postqa.core.types import Article
from postqa.index.chunking import chunk_article
from postqa.index.embedding import HashEmbedder
from postqa.nlp.sentences import SentenceSplitter, shared_splitter
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


@pytest.fixture(scope="module")
def splitter() -> SentenceSplitter:
    return shared_splitter()


def _texts(splitter: SentenceSplitter, text: str) -> list[str]:
    return [text[a:b] for a, b in splitter.split(text)]


def test_sentences_keep_offsets_and_abbreviations(splitter: SentenceSplitter) -> None:
    text = "Mr. Li met Dr. Wang on May 3. Sales rose 3.5 percent in the U.S. market! Did it? Yes."
    assert _texts(splitter, text) == ["Mr. Li met Dr. Wang on May 3.", "Sales rose 3.5 percent in the U.S. market!",
                                      "Did it?", "Yes."]
    assert splitter.component == "senter"  # en_core_web_sm's statistical recogniser, loaded alone


def test_initials_and_abbreviations_stay_in_their_sentence(splitter: SentenceSplitter) -> None:
    text = "The report was written by J. Smith and R. K. Jones. It was published in Sept. 2019 by the Co. in London."
    assert _texts(splitter, text) == ["The report was written by J. Smith and R. K. Jones.",
                                      "It was published in Sept. 2019 by the Co. in London."]


def test_closing_quotes_stay_with_their_sentence(splitter: SentenceSplitter) -> None:
    text = 'He said: "It is done." The crowd cheered. "We are ready," she said. "It will work." Then he left.'
    assert _texts(splitter, text) == ['He said: "It is done."', "The crowd cheered.", '"We are ready," she said.',
                                      '"It will work."', "Then he left."]


def test_a_line_break_always_ends_a_sentence(splitter: SentenceSplitter) -> None:
    text = "Orders rose\nThe plan:\n\n- three cranes in 2022,\n- three in 2023\n\nHe said it would work.\n"
    assert _texts(splitter, text) == ["Orders rose", "The plan:", "- three cranes in 2022,", "- three in 2023",
                                      "He said it would work."]
    assert splitter.split("") == [] and splitter.split(" \n\t ") == []


def test_texts_longer_than_spacy_takes_are_split_in_pieces(splitter: SentenceSplitter,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    text = "First one here. Second one there.\nThird line is long enough to be cut somewhere. Fourth."
    whole = splitter.split(text)
    monkeypatch.setattr(splitter.nlp, "max_length", 40)
    pieces = splitter.split(text)
    assert all(text[a:b].strip() == text[a:b] and b > a for a, b in pieces)
    assert pieces[:2] == whole[:2] and pieces[-1] == whole[-1]
    assert all(x[1] <= y[0] for x, y in zip(pieces, pieces[1:], strict=False))


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
        for a, b in shared_splitter().split(art.text):
            assert a in covered and b - 1 in covered
        assert chunk_article(art, max_tokens, COUNT) == chunks  # stable


def test_chunks_carry_title_and_date() -> None:
    art = read_corpus([CORPUS]).articles[1]
    chunk = chunk_article(art, 200, COUNT)[0]
    assert chunk.context_text.startswith(f"{art.title} ({art.published.isoformat()})\n")  # type: ignore[union-attr]
