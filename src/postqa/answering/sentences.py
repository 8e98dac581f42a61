"""Sentences of the retrieved chunks (from their stored analyses), ranked against the question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from postqa.answering.similarity import EmbedFn, WordSimilarity
from postqa.core.types import Chunk, Hit
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Analysis, Span

AnalysesFn = Callable[[Sequence[str]], list[Analysis]]
_WH_TERMS = {"who", "when", "where", "how", "which", "what"}


@dataclass(frozen=True)
class Scored:
    """A candidate sentence from a retrieved chunk, with the chunk's analysis and the sentence's tokens."""

    chunk: Chunk
    text: str
    start: int  # offset in the chunk text
    score: float
    lexical: float
    cosine: float
    rank: int  # rank of the chunk among the hits
    analysis: Analysis | None = None
    sent: Span | None = None


def question_terms(question: str) -> list[str]:
    return [t for t in tokenize(question) if t not in _WH_TERMS]


class SentenceRanker:
    """0.6 x cosine + 0.4 x rarity-weighted overlap with the question; overlap is soft: a question word the
    sentence lacks still counts, scaled down, when one of its words means nearly the same to the model."""

    RERANK = 8  # sentences embedded per question: the rest keep their cheap score (the encoder is the cost)
    SOFT_MIN = 0.6
    SOFT_WEIGHT = 0.7

    def __init__(self, embed: EmbedFn, embed_query: Callable[[str], np.ndarray], idf: Callable[[str], float],
                 analyses: AnalysesFn, words: WordSimilarity) -> None:
        self.embed = embed
        self.embed_query = embed_query
        self.idf = idf
        self.analyses = analyses
        self.words = words

    def weights(self, terms: Sequence[str]) -> dict[str, float]:
        """IDF weights; a term the corpus never uses counts as much as the rarest one."""
        idf = {t: self.idf(t) for t in terms}
        rarest = max([v for v in idf.values() if v > 0], default=1.0)
        return {t: (v if v > 0 else rarest) for t, v in idf.items()}

    def sentences(self, hits: Sequence[Hit]) -> list[tuple[Chunk, str, int, set[str], int, Analysis, Span]]:
        out = []
        seen: set[tuple[str, int]] = set()
        analyses = self.analyses([h.chunk.text for h in hits]) if hits else []
        for rank, (hit, a) in enumerate(zip(hits, analyses, strict=True)):
            for sent in a.sents:
                lo, hi = a.char_span(sent)
                text = a.text[lo:hi].strip()
                key = (hit.chunk.article_id, hit.chunk.start + lo)
                if not text or key in seen:
                    continue
                seen.add(key)
                out.append((hit.chunk, text, lo, set(tokenize(text)), rank, a, sent))
        return out

    def rank(self, question: str, hits: Sequence[Hit], context: str = "") -> list[Scored]:
        own = self.weights(question_terms(question))
        extra = {t: 0.5 * w for t, w in self.weights(question_terms(context)).items() if t not in own}
        weights = {**extra, **own}
        total = sum(weights.values()) or 1.0
        cands = self.sentences(hits)
        if not cands:
            return []
        exact = [sum(w for t, w in weights.items() if t in c[3]) / total for c in cands]
        chunk_cos = {h.chunk.id: (h.dense_score if h.dense_score is not None else 0.0) for h in hits}
        cheap = [0.6 * chunk_cos.get(c[0].id, 0.0) + 0.4 * lex for c, lex in zip(cands, exact, strict=True)]
        top = sorted(range(len(cands)), key=lambda i: -cheap[i])[: self.RERANK]
        soft = self._soft(weights, [cands[i][3] for i in top])
        q = self.embed_query(f"{context} {question}".strip() if context else question)
        vecs = self.embed([cands[i][1] for i in top])
        qn = float(np.linalg.norm(q)) or 1.0
        cos = {i: float(v @ q) / (float(np.linalg.norm(v)) * qn + 1e-9) for i, v in zip(top, vecs, strict=True)}
        scored = []
        for i, c in enumerate(cands):
            if i in cos:
                cs = cos[i]
                lex = sum(w if t in c[3] else w * max((soft.get((t, x), 0.0) for x in c[3]), default=0.0)
                          for t, w in weights.items()) / total
            else:  # not reranked: a little below its chunk
                cs, lex = chunk_cos.get(c[0].id, 0.0) - 0.1, exact[i]
            scored.append(Scored(chunk=c[0], text=c[1], start=c[2], lexical=lex, cosine=cs,
                                 score=0.6 * cs + 0.4 * lex - 0.005 * c[4], rank=c[4], analysis=c[5], sent=c[6]))
        return sorted(scored, key=lambda x: -x.score)

    def _soft(self, weights: dict[str, float], sentence_terms: list[set[str]]) -> dict[tuple[str, str], float]:
        """(question term, sentence term) -> credit, for question terms some sentence lacks."""
        every = set().union(*sentence_terms) if sentence_terms else set()
        missing = [t for t in weights if t.isalpha() and not all(t in toks for toks in sentence_terms)]
        words = sorted(t for t in every if t.isalpha() and len(t) > 2)
        if not missing or not words:
            return {}
        sims = self.words.matrix(missing, words)
        out: dict[tuple[str, str], float] = {}
        for i, t in enumerate(missing):
            for j in np.nonzero(sims[i] >= self.SOFT_MIN)[0]:
                if words[j] != t:
                    out[(t, words[j])] = self.SOFT_WEIGHT * float(sims[i, j])
        return out
