"""Refusal by what the question names: a name or rare word that no retrieved passage contains is a sign
the news does not answer it ('Who is the CEO of PSBC?' over news that never names a CEO)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from postqa.answering.question import Question

MISSING_NAME = 0.55  # confidence kept per named thing no passage contains
MISSING_WORD = 0.85  # ... per content word the corpus never uses (at most two count)


def _folded(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower().replace("’", "'"))


def missing(q: Question, passages: Sequence[str], idf: Callable[[str], float],
            tokenize: Callable[[str], list[str]]) -> tuple[list[str], list[str]]:
    """(names, rare words) of the question that none of the passages contains."""
    text = _folded(" ".join(passages))
    words = set(tokenize(text))
    names = [n for n in q.named if _folded(n) not in text
             and not all(t in words for t in tokenize(n))]
    named_words = {t for n in q.named for t in tokenize(n)}
    terms = [t for c in q.content for t in tokenize(c) if t not in named_words]
    scores = {t: idf(t) for t in terms}
    # a word the corpus never uses at all; words the corpus knows but these passages lack are left to the
    # sentence score (a paraphrase says "car" where the passage says "automobile")
    rare = [t for t, v in scores.items() if v <= 0 and t not in words]
    return names, rare


def factor(names: Sequence[str], rare: Sequence[str]) -> float:
    """How much of the confidence survives what the passages lack."""
    return float(MISSING_NAME ** len(names) * MISSING_WORD ** min(len(rare), 2))
