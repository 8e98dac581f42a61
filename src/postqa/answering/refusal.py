"""Refusal by what the question names: a name or rare word that no retrieved passage contains is a sign
the news does not answer it ('Who is the CEO of PSBC?' over news that never names a CEO)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from postqa.answering.question import Question
from postqa.nlp.analysis import Analysis

MISSING_NAME = 0.55  # confidence kept per named thing no passage contains
MISSING_WORD = 0.85  # ... per content word the corpus never uses (at most two count)


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("’", "'"))


def lemmas_of(analyses: Iterable[Analysis | None]) -> set[str]:
    """Every lemma (lower-cased) of the passages' stored analyses."""
    seen: dict[int, Analysis] = {id(a): a for a in analyses if a is not None}
    return {t.lemma.lower() for a in seen.values() for t in a.tokens}


def missing(q: Question, passages: Sequence[str], idf: Callable[[str], float],
            tokenize: Callable[[str], list[str]], lemmas: set[str] | None = None) -> tuple[list[str], list[str]]:
    """(names, rare words) of the question that none of the passages contains. A content word is present
    when its lemma is one of the passages' ``lemmas`` (from their stored analyses: 'held' in a passage is
    'hold' in the question) or its own stemmed form is one of the passages' words."""
    text = _folded(" ".join(passages))
    words = set(tokenize(text))
    names = [n for n in q.named if _folded(n) not in text
             and not all(t in words for t in tokenize(n))]
    named_words = {t for n in q.named for t in tokenize(n)}
    a, content = q.analysis, set(q.content)
    rare: list[str] = []
    for tok in a.tokens:
        if tok.lemma.lower() not in content or (lemmas is not None and tok.lemma.lower() in lemmas):
            continue
        # a word the corpus never uses at all; words the corpus knows but these passages lack are left to the
        # sentence score (a paraphrase says "car" where the passage says "automobile")
        rare += [t for t in tokenize(a.word(tok.i)) if t not in named_words and t not in words and idf(t) <= 0
                 and t not in rare]
    return names, rare


def factor(names: Sequence[str], rare: Sequence[str]) -> float:
    """How much of the confidence survives what the passages lack."""
    return float(MISSING_NAME ** len(names) * MISSING_WORD ** min(len(rare), 2))
