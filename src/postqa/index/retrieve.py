"""Hybrid retrieval: dense (Chroma) and BM25 candidates fused by reciprocal rank, then diversified."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from postqa.core.config import RetrievalSettings
from postqa.core.types import Chunk, Hit, SearchFilter
from postqa.index.keyword import BM25Index
from postqa.index.store import ChromaIndex


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = 60) -> dict[str, float]:
    """Sum of 1 / (k + rank) over the rankings each id appears in (rank starts at 1)."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, start=1):
            fused[cid] = fused.get(cid, 0.0) + 1.0 / (k + rank)
    return fused


def diversify(ordered: list[str], article_of: Callable[[str], str], top_k: int, max_per_article: int) -> list[str]:
    """The first ``top_k`` ids, at most ``max_per_article`` from one article while others are waiting;
    the cap is lifted only when no other article has candidates left."""
    picked: list[str] = []
    per: dict[str, int] = {}
    rest: list[str] = []
    for cid in ordered:
        art = article_of(cid)
        if per.get(art, 0) < max_per_article:
            picked.append(cid)
            per[art] = per.get(art, 0) + 1
        else:
            rest.append(cid)
        if len(picked) == top_k:
            return picked
    return (picked + rest)[:top_k]


class HybridRetriever:
    """Dense + keyword retrieval over one index; thread-safe for reads."""

    def __init__(self, embed_query: Callable[[str], np.ndarray], index: ChromaIndex,
                 keyword: Callable[[], BM25Index | None], settings: RetrievalSettings) -> None:
        self.embed_query = embed_query
        self.index = index
        self.keyword = keyword
        self.settings = settings

    def retrieve(self, query: str, top_k: int | None = None, flt: SearchFilter | None = None,
                 mode: str | None = None) -> list[Hit]:
        """Top chunks for ``query``; ``mode`` = "hybrid" | "dense" | "keyword" (default from settings)."""
        s = self.settings
        k = top_k or s.top_k
        mode = mode or ("hybrid" if s.hybrid else "dense")
        n_cand = max(s.candidates, k * 3)
        dense: list[tuple[Chunk, float]] = []
        if mode in ("hybrid", "dense"):
            dense = self.index.query(self.embed_query(query), n_cand, flt or None)
        chunks: dict[str, Chunk] = {c.id: c for c, _ in dense}
        dense_score = {c.id: score for c, score in dense}
        dense_rank = {c.id: i for i, (c, _) in enumerate(dense, start=1)}
        kw_rank: dict[str, int] = {}
        if mode in ("hybrid", "keyword"):
            bm25 = self.keyword()
            if bm25 is not None and len(bm25):
                found = bm25.search(query, n_cand * (3 if flt else 1))
                missing = [cid for cid, _ in found if cid not in chunks]
                chunks.update(self.index.get_chunks(missing))
                kept = [cid for cid, _ in found if cid in chunks and (not flt or flt.accepts(chunks[cid]))]
                kw_rank = {cid: i for i, cid in enumerate(kept[:n_cand], start=1)}
        rankings = [sorted(dense_rank, key=dense_rank.__getitem__), sorted(kw_rank, key=kw_rank.__getitem__)]
        fused = reciprocal_rank_fusion([r for r in rankings if r], s.rrf_k)
        ordered = sorted(fused, key=lambda cid: (-fused[cid], cid))
        chosen = diversify(ordered, lambda cid: chunks[cid].article_id, k, s.max_per_article)
        return [Hit(chunk=chunks[cid], score=fused[cid], dense_score=dense_score.get(cid),
                    dense_rank=dense_rank.get(cid), keyword_rank=kw_rank.get(cid)) for cid in chosen]
