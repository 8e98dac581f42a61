"""Sentences of the retrieved chunks (from their stored analyses), ranked against the question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from postqa.answering.candidates import has_type
from postqa.answering.question import Question
from postqa.answering.similarity import EmbedFn, WordSimilarity
from postqa.core.types import Chunk, Hit
from postqa.index.keyword import tokenize
from postqa.index.wordvectors import soft_terms
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
    TYPE_BONUS = 0.08  # a sentence that holds something of the asked type ('who' -> a person) ranks a little higher
    TITLE_CREDIT = 0.5  # a question word the sentence lacks but its article's headline has (the story's subject,
    # which news sentences leave implicit: "Sales rose 2.8%" under "Deutsche Telekom sees mobile gain")
    CARRY = 0.8  # news elaborates a lede in the next sentence: a typed sentence inherits this share of the
    # score of the untyped sentence right before it ("X has been appointed. Y, ..., was chosen")

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

    def discourse(self, scores: list[float], typed: list[bool | None], chunks: Sequence[str]) -> list[float]:
        """Scores with the answer-type bonus, and carried over from an untyped sentence to the typed one after it
        in the same chunk (``typed[i]`` None: the question asks for no type, nothing changes)."""
        out = []
        for i, sc in enumerate(scores):
            if typed[i]:
                sc += self.TYPE_BONUS
                if i > 0 and typed[i - 1] is False and chunks[i - 1] == chunks[i]:
                    sc = max(sc, self.CARRY * scores[i - 1] + self.TYPE_BONUS)
            out.append(sc)
        return out

    def rank(self, question: str, hits: Sequence[Hit], context: str = "", q: Question | None = None) -> list[Scored]:
        own = self.weights(question_terms(question))
        extra = {t: 0.5 * w for t, w in self.weights(question_terms(context)).items() if t not in own}
        weights = {**extra, **own}
        total = sum(weights.values()) or 1.0
        cands = self.sentences(hits)
        if not cands:
            return []
        titles = {c[0].id: set(tokenize(c[0].title)) for c in cands}
        exact = [self.lexical(weights, c[3], titles[c[0].id], {}) / total for c in cands]
        chunk_cos = {h.chunk.id: (h.dense_score if h.dense_score is not None else 0.0) for h in hits}
        typed = [has_type(q, c[5], c[6]) if q is not None else None for c in cands]
        ids = [c[0].id for c in cands]
        cheap = self.discourse([0.6 * chunk_cos.get(i, 0.0) + 0.4 * lex for i, lex in zip(ids, exact, strict=True)],
                               typed, ids)
        top = sorted(range(len(cands)), key=lambda i: -cheap[i])[: self.RERANK]
        missing, words = self._soft_words(weights, [cands[i][3] for i in top])
        qv = self.embed_query(f"{context} {question}".strip() if context else question)
        vecs = self.embed_with_words([cands[i][1] for i in top], [*missing, *words])
        soft = self._soft(missing, words)
        qn = float(np.linalg.norm(qv)) or 1.0
        cos = {i: float(v @ qv) / (float(np.linalg.norm(v)) * qn + 1e-9) for i, v in zip(top, vecs, strict=True)}
        parts = []
        for i, c in enumerate(cands):
            if i in cos:
                cs = cos[i]
                lex = self.lexical(weights, c[3], titles[c[0].id], soft) / total
            else:  # not reranked: a little below its chunk
                cs, lex = chunk_cos.get(c[0].id, 0.0) - 0.1, exact[i]
            parts.append((cs, lex))
        final = self.discourse([0.6 * cs + 0.4 * lex - 0.005 * c[4] for (cs, lex), c in zip(parts, cands, strict=True)],
                               typed, ids)
        scored = [Scored(chunk=c[0], text=c[1], start=c[2], lexical=lex, cosine=cs, score=sc, rank=c[4], analysis=c[5],
                         sent=c[6]) for (cs, lex), c, sc in zip(parts, cands, final, strict=True)]
        return sorted(scored, key=lambda x: -x.score)

    def lexical(self, weights: dict[str, float], terms: set[str], title: set[str],
                soft: dict[tuple[str, str], float]) -> float:
        """Weighted overlap: a question term in the sentence counts whole; one it lacks counts by its nearest
        synonym in the sentence (``soft``) or, if its article's headline has it, TITLE_CREDIT."""
        total = 0.0
        for t, w in weights.items():
            if t in terms:
                total += w
                continue
            near = max((soft.get((t, x), 0.0) for x in terms), default=0.0) if soft else 0.0
            total += w * max(near, self.TITLE_CREDIT if t in title else 0.0)
        return total

    def embed_with_words(self, texts: list[str], words: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, embedded in one encoder call together with the ``words`` that neither memory
        nor the stored word table holds (the call sorts by length, so the short words pad little)."""
        todo = self.words.missing(words)
        vecs = np.asarray(self.embed([*todo, *texts]))
        if todo:
            self.words.add(todo, vecs[:len(todo)])
        return vecs[len(todo):]

    def _soft_words(self, weights: dict[str, float], sentence_terms: list[set[str]]) -> tuple[list[str], list[str]]:
        """(question terms some sentence lacks, the sentences' words they may be near)."""
        every = set().union(*sentence_terms) if sentence_terms else set()
        missing = [t for t in weights if t.isalpha() and not all(t in toks for toks in sentence_terms)]
        words = sorted(soft_terms(every))
        return (missing, words) if missing and words else ([], [])

    def _soft(self, missing: list[str], words: list[str]) -> dict[tuple[str, str], float]:
        """(question term, sentence term) -> credit, for question terms some sentence lacks."""
        if not missing or not words:
            return {}
        sims = self.words.matrix(missing, words)
        out: dict[tuple[str, str], float] = {}
        for i, t in enumerate(missing):
            for j in np.nonzero(sims[i] >= self.SOFT_MIN)[0]:
                if words[j] != t:
                    out[(t, words[j])] = self.SOFT_WEIGHT * float(sims[i, j])
        return out
