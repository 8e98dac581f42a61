"""Hybrid retrieval: dense (Chroma) and BM25 candidates fused by reciprocal rank, then diversified."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from postqa.core.config import RetrievalSettings
from postqa.core.types import Chunk, Hit, SearchFilter
from postqa.index.keyword import KeywordIndex
from postqa.index.store import ChromaIndex

# a date range keeping at most this many chunks is searched among their ids (the ledger's date lookup), one
# keeping more by the store's filter (Chroma's cost for ids follows their number, for a where-clause the store's)
DATED_LIMIT = 5000


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Sum of 1 / (k + rank) over the rankings each id appears in (rank starts at 1)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass(frozen=True)
class DatePreference:
    """Rank articles of a period first, never drop the others: a chunk published in ``[lo, hi + grace]`` (an
    open side is unbounded), or whose text names one of ``mentions`` ("2013"), weighs 1; others fade with
    their distance ``d`` from that window as ``1 / (1 + (d / scale)^2)``, down to ``floor``; an undated one
    weighs ``undated``."""

    lo: date | None
    hi: date | None
    grace: timedelta = timedelta(0)
    scale: timedelta = timedelta(days=30)
    mentions: tuple[str, ...] = ()
    floor: float = 0.2
    undated: float = 0.5

    def window(self) -> tuple[date | None, date | None]:
        """The dates that weigh 1."""
        return self.lo, (self.hi + self.grace) if self.hi else None

    def zone(self) -> tuple[date | None, date | None]:
        """The window widened by ``scale`` on both sides (weights of at least 0.5): where extra candidates are
        drawn from, so that an article just outside the window ("this week" asked on Thursday, reported on
        Sunday) is ranked by its weight, not lost to the window's own."""
        lo, hi = self.window()
        return (lo - self.scale) if lo else None, (hi + self.scale) if hi else None

    def distance(self, day: date) -> int:
        lo, hi = self.window()
        if lo is not None and day < lo:
            return (lo - day).days
        return (day - hi).days if hi is not None and day > hi else 0

    def weight(self, chunk: Chunk) -> float:
        if self.mentions and any(re.search(rf"\b{re.escape(m)}\b", chunk.text) for m in self.mentions):
            return 1.0
        if chunk.published is None:
            return self.undated
        d = self.distance(chunk.published) / max(1, self.scale.days)
        return max(self.floor, 1.0 / (1.0 + d * d))

    def as_filter(self, flt: SearchFilter | None) -> SearchFilter:
        """The zone as a filter (intersected with ``flt``): where the extra candidates come from."""
        lo, hi = self.zone()
        return (flt or SearchFilter()).narrowed(lo, hi)


def diversify(ordered: list[str], article_of: Callable[[str], str], top_k: int, max_per_article: int,
              score: Callable[[str], float] | None = None, close: float = 0.5) -> list[str]:
    """The first ``top_k`` ids, at most ``max_per_article`` from one article while others are waiting;
    the cap is lifted only when no other article has candidates left — or, given ``score``, when no other
    article's waiting candidate scores at least ``close`` times as much (diversity never promotes passages
    that were ranked far lower, e.g. by a date preference)."""
    picked: list[str] = []
    per: dict[str, int] = {}
    rest: list[str] = []
    for i, cid in enumerate(ordered):
        art = article_of(cid)
        if per.get(art, 0) < max_per_article or (score is not None and not _close_other(
                ordered[i + 1:], art, article_of, close * score(cid), score)):
            picked.append(cid)
            per[art] = per.get(art, 0) + 1
        else:
            rest.append(cid)
        if len(picked) == top_k:
            return picked
    return (picked + rest)[:top_k]


def _close_other(later: list[str], art: str, article_of: Callable[[str], str], at_least: float,
                 score: Callable[[str], float]) -> bool:
    """Whether another article has a later candidate scoring ``at_least`` (``later`` is sorted by score)."""
    best = next((score(c) for c in later if article_of(c) != art), 0.0)
    return best >= at_least


class HybridRetriever:
    """Dense + keyword retrieval over one index; thread-safe for reads."""

    def __init__(self, embed_query: Callable[[str], np.ndarray], index: ChromaIndex,
                 keyword: Callable[[], KeywordIndex | None], settings: RetrievalSettings) -> None:
        self.embed_query = embed_query
        self.index = index
        self.keyword = keyword
        self.settings = settings

    def retrieve(self, query: str, top_k: int | None = None, flt: SearchFilter | None = None,
                 mode: str | None = None, prefer: DatePreference | None = None) -> list[Hit]:
        """Top chunks for ``query``; ``mode`` = "hybrid" | "dense" | "keyword" (default from settings).

        ``flt`` removes candidates; ``prefer`` only reorders them: the preferred window's own best chunks join
        the candidates (so a relevant article of the period is there to be ranked) and every fused score is
        weighed by ``prefer.weight``. A preference never leaves fewer candidates than no preference."""
        s = self.settings
        k = top_k or s.top_k
        mode = mode or ("hybrid" if s.hybrid else "dense")
        n_cand = max(s.candidates, k * 3)
        chunks: dict[str, Chunk] = {}
        dense_score: dict[str, float] = {}
        dense: list[list[str]] = []
        keyword: list[list[str]] = []
        for scope in [flt] if prefer is None else [flt, prefer.as_filter(flt)]:
            if mode in ("hybrid", "dense"):
                dense.append(self._dense(query, n_cand, scope, chunks, dense_score))
            if mode in ("hybrid", "keyword"):
                keyword.append(self._keyword(query, n_cand, scope, chunks))
        fused = reciprocal_rank_fusion([r for r in dense + keyword if r], s.rrf_k)
        if prefer is not None:
            fused = {cid: score * prefer.weight(chunks[cid]) for cid, score in fused.items()}
        ordered = sorted(fused, key=lambda cid: (-fused[cid], cid))
        chosen = diversify(ordered, lambda cid: chunks[cid].article_id, k, s.max_per_article,
                           score=fused.__getitem__ if prefer is not None else None)
        dense_rank, kw_rank = _first_ranks(dense), _first_ranks(keyword)
        return [Hit(chunk=chunks[cid], score=fused[cid], dense_score=dense_score.get(cid),
                    dense_rank=dense_rank.get(cid), keyword_rank=kw_rank.get(cid)) for cid in chosen]

    def _dense(self, query: str, n: int, flt: SearchFilter | None, chunks: dict[str, Chunk],
               scores: dict[str, float]) -> list[str]:
        found = self.index.query(self.embed_query(query), n, flt or None, among=self._dated(flt))
        for c, score in found:
            chunks[c.id] = c
            scores[c.id] = score
        return [c.id for c, _ in found]

    def _dated(self, flt: SearchFilter | None) -> list[str] | None:
        """The ids of every chunk a short date range keeps, from the ledger's date lookup (None: no date range,
        no ledger, or more than DATED_LIMIT chunks: the store filters then)."""
        if flt is None or not (flt.date_from or flt.date_to):
            return None
        lookup = getattr(self.keyword(), "dated_chunk_ids", None)  # the ledger has it, an in-memory BM25 not
        found = lookup(flt.date_from, flt.date_to, DATED_LIMIT) if lookup is not None else None
        if found is None:
            return None
        return [cid for cid, aid in found if flt.article_ids is None or aid in flt.article_ids]

    def _keyword(self, query: str, n: int, flt: SearchFilter | None, chunks: dict[str, Chunk]) -> list[str]:
        bm25 = self.keyword()
        if bm25 is None or not len(bm25):
            return []
        found = bm25.search(query, n * (3 if flt else 1))
        chunks.update(self.index.get_chunks([cid for cid, _ in found if cid not in chunks]))
        return [cid for cid, _ in found if cid in chunks and (not flt or flt.accepts(chunks[cid]))][:n]


def _first_ranks(rankings: list[list[str]]) -> dict[str, int]:
    """Each id's rank (from 1) in the first ranking that has it."""
    out: dict[str, int] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            out.setdefault(cid, rank)
    return out
