"""Split articles into sentences and pack them into token-bounded chunks with offsets and stable ids."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from postqa.core.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

# What cuts articles into sentences, recorded in the index spec (index.store.IndexSpec.chunker) with the spaCy
# pipeline's name: chunks cut another way make another collection, never a mix. Stores written before the
# spec recorded it were cut by postqa's former regular-expression splitter (LEGACY_CHUNKER).
CHUNKER_VERSION = "spacy-sentences-1"
LEGACY_CHUNKER = "regex-sentences"


def chunker_id(nlp_model: str) -> str:
    """The chunker's name in the index spec: this version of the chunker with that spaCy pipeline."""
    return f"{CHUNKER_VERSION}:{nlp_model}"


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def sentences_at(text: str, offsets: Sequence[tuple[int, int]]) -> list[Sentence]:
    return [Sentence(text[a:b], a, b) for a, b in offsets if b > a]


def _split_long(sentence: Sentence, budget: int, count: TokenCounter) -> list[Sentence]:
    """Cut a sentence longer than the budget into word windows that each fit."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", sentence.text)]
    sizes = count([sentence.text[s:e] for s, e in words])
    pieces: list[Sentence] = []
    i = 0
    while i < len(words):
        used, j = 0, i
        while j < len(words) and (used + sizes[j] <= budget or j == i):
            used += sizes[j]
            j += 1
        s, e = words[i][0], words[j - 1][1]
        pieces.append(Sentence(sentence.text[s:e], sentence.start + s, sentence.start + e))
        i = j
    return pieces


def chunk_article(article: Article, max_tokens: int, count: TokenCounter, overlap_sentences: int = 1,
                  sentences: Sequence[tuple[int, int]] | None = None) -> list[Chunk]:
    """Pack whole sentences into chunks whose embedded text (title and date line included) fits
    ``max_tokens`` as the model counts them; ids are ``{article_id}#{n}`` and stable for stable text.

    ``sentences``: the article's sentence offsets (``nlp.sentences.SentenceSplitter``, which the indexer
    runs over a batch of articles at once); by default the shared splitter of the default spaCy pipeline."""
    probe = Chunk(id="", article_id=article.id, n=0, text="", start=0, end=0, title=article.title,
                  published=article.published)
    head_tokens = count([probe.context_text])[0] + 1
    budget = max(8, max_tokens - head_tokens)
    if sentences is None:
        from postqa.nlp.sentences import shared_splitter

        sentences = shared_splitter().split(article.text)
    fitted, sizes = _fit(sentences_at(article.text, sentences), budget, count)
    chunks: list[Chunk] = []
    i = 0
    while i < len(fitted):
        used, j = 0, i
        while j < len(fitted) and (used + sizes[j] + 1 <= budget or j == i):
            used += sizes[j] + 1
            j += 1
        start, end = fitted[i].start, fitted[j - 1].end
        chunks.append(Chunk(id=f"{article.id}#{len(chunks)}", article_id=article.id, n=len(chunks),
                            text=article.text[start:end], start=start, end=end, title=article.title,
                            published=article.published, source=article.source))
        if j >= len(fitted):
            break
        i = max(i + 1, j - overlap_sentences)
    return chunks


def _fit(raw: list[Sentence], budget: int, count: TokenCounter) -> tuple[list[Sentence], list[int]]:
    """The sentences with any longer than the budget cut into word windows, and their token counts."""
    fitted: list[Sentence] = []
    fitted_sizes: list[int] = []
    sizes = count([s.text for s in raw]) if raw else []
    for sent, size in zip(raw, sizes, strict=True):
        if size <= budget:
            fitted.append(sent)
            fitted_sizes.append(size)
        else:
            parts = _split_long(sent, budget, count)
            fitted.extend(parts)
            fitted_sizes.extend(count([p.text for p in parts]))
    return fitted, fitted_sizes
