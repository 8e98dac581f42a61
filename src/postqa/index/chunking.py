"""Split articles into sentences and pack them into token-bounded chunks with offsets and stable ids."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from postqa.core.dates import MONTHS
from postqa.core.types import Article, Chunk

TokenCounter = Callable[[Sequence[str]], list[int]]

_ABBREV = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "no", "nos", "co", "corp", "inc", "ltd", "dept",
    "gov", "gen", "col", "lt", "sgt", "rep", "sen", "vs", "e.g", "i.e", "u.s", "u.k", "u.n", "p.m", "a.m", "approx",
} | {word for word, n in MONTHS.items() if word != calendar.month_name[n].lower()}  # "Sept." but not "May."
# A sentence ends at . ! ? (plus closing quotes/brackets) followed by space and an opener, or at a newline.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` as (text, start, end) with offsets into ``text``; never loses characters
    other than the whitespace between sentences."""
    out: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.start()
        # keep closing quotes with the sentence they close
        close = re.match(r"[\"'”’)\]]*", text[end:])
        if close and close.end():
            end += close.end()
        piece = text[start:end]
        if m.group(0).strip("\n") and _ends_with_abbrev(piece):
            continue
        _append(out, text, start, end)
        start = m.end()
    _append(out, text, start, len(text))
    return out


def _ends_with_abbrev(piece: str) -> bool:
    m = re.search(r"(?:^|\s)([A-Za-z][A-Za-z.]*)\.[\"'”’)\]]*$", piece)
    if not m:
        return False
    word = m[1].lower()
    return word in _ABBREV or (len(word) == 1 and word.isalpha())  # initials: "J. Smith"


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        out.append(Sentence(text[start:end], start, end))


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


def chunk_article(article: Article, max_tokens: int, count: TokenCounter, overlap_sentences: int = 1) -> list[Chunk]:
    """Pack whole sentences into chunks whose embedded text (title and date line included) fits
    ``max_tokens`` as the model counts them; ids are ``{article_id}#{n}`` and stable for stable text."""
    probe = Chunk(id="", article_id=article.id, n=0, text="", start=0, end=0, title=article.title,
                  published=article.published)
    head_tokens = count([probe.context_text])[0] + 1
    budget = max(8, max_tokens - head_tokens)
    sentences: list[Sentence] = []
    raw = split_sentences(article.text)
    sizes = count([s.text for s in raw]) if raw else []
    fitted_sizes: list[int] = []
    for sent, size in zip(raw, sizes, strict=True):
        if size <= budget:
            sentences.append(sent)
            fitted_sizes.append(size)
        else:
            parts = _split_long(sent, budget, count)
            sentences.extend(parts)
            fitted_sizes.extend(count([p.text for p in parts]))
    chunks: list[Chunk] = []
    i = 0
    while i < len(sentences):
        used, j = 0, i
        while j < len(sentences) and (used + fitted_sizes[j] + 1 <= budget or j == i):
            used += fitted_sizes[j] + 1
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        chunks.append(Chunk(id=f"{article.id}#{len(chunks)}", article_id=article.id, n=len(chunks),
                            text=article.text[start:end], start=start, end=end, title=article.title,
                            published=article.published, source=article.source))
        if j >= len(sentences):
            break
        i = max(i + 1, j - overlap_sentences)
    return chunks
