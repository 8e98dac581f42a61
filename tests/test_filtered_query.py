"""A filtered dense query (date window, chosen articles) finds the same chunks whether the filter is applied to
the nearest unfiltered chunks (when they hold enough) or by Chroma's where-clause, and uses the where-clause
only when it must (issue 15: the where-clause costs a pass over every chunk's metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from postqa.core.config import Settings
from postqa.core.types import Chunk, SearchFilter
from postqa.index.embedding import HashEmbedder
from postqa.index.ledger import Ledger, chunk_row
from postqa.index.retrieve import HybridRetriever
from postqa.index.store import FILTER_PROBE, ChromaIndex, _where, chunk_metadata, stored_from_records, where_accepts
from postqa.service.pipeline import index_spec, open_store

N = 240
DIM = 16


def _chunks() -> list[Chunk]:
    """N chunks of N / 2 articles: every fifth article undated, the rest one a day from 2020-01-01."""
    out = []
    for i in range(N):
        a = i // 2
        day = None if a % 5 == 0 else date(2020, 1, 1) + timedelta(days=a)
        out.append(Chunk(id=f"a{a}#{i % 2}", article_id=f"a{a}", n=i % 2, text=f"chunk {i} of article {a}",
                         start=0, end=10, title=f"article {a}", published=day, source="test"))
    return out


@pytest.fixture
def index(hash_settings: Settings) -> ChromaIndex:
    idx = open_store(hash_settings).open_index(index_spec(hash_settings, HashEmbedder(dim=DIM)), create=True)
    chunks = _chunks()
    vecs = np.random.default_rng(3).normal(size=(N, DIM)).astype(np.float32)
    idx.upsert(chunks, vecs / np.linalg.norm(vecs, axis=1, keepdims=True),
               [chunk_metadata(c, "h", "test", 2) for c in chunks])
    return idx


class _Spy:
    """The collection, recording the where-clause of every query."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.wheres: list[Any] = []
        self.ids: list[Any] = []

    def query(self, **kwargs: Any) -> Any:
        self.wheres.append(kwargs.get("where"))
        self.ids.append(kwargs.get("ids"))
        return self.collection.query(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)


def _by_where(index: ChromaIndex, vec: np.ndarray, k: int, flt: SearchFilter) -> list[str]:
    where = _where(flt)
    assert where is not None
    return [c.id for c, _ in index._nearest(vec, k, where)[0]]


FILTERS = [
    SearchFilter(date_to=date(2020, 4, 1)),  # broad, open below: undated chunks are kept, as Chroma keeps them
    SearchFilter(date_from=date(2020, 1, 20)),  # broad, open above: undated chunks are not
    SearchFilter(date_from=date(2020, 2, 1), date_to=date(2020, 2, 3)),  # a few days: narrow
    SearchFilter(article_ids=frozenset({"a3", "a7", "a50"})),
    SearchFilter(date_from=date(2020, 1, 5), date_to=date(2020, 3, 1), article_ids=frozenset({"a9", "a11"})),
]


@pytest.mark.parametrize("flt", FILTERS)
def test_filtered_query_finds_what_the_where_clause_finds(index: ChromaIndex, flt: SearchFilter) -> None:
    rng = np.random.default_rng(11)
    for _ in range(6):
        vec = rng.normal(size=DIM).astype(np.float32)
        got = [c.id for c, _ in index.query(vec, 10, flt)]
        assert got == _by_where(index, vec, 10, flt)
        assert all(flt.article_ids is None or cid.split("#")[0] in flt.article_ids for cid in got)


def test_where_clause_only_when_the_nearest_chunks_do_not_hold_k(index: ChromaIndex) -> None:
    spy = _Spy(index.collection)
    index.collection = spy
    vec = np.random.default_rng(5).normal(size=DIM).astype(np.float32)
    index.query(vec, 10, SearchFilter(date_to=date(2021, 1, 1)))  # keeps nearly every chunk
    assert spy.wheres == [None]
    spy.wheres.clear()
    index.query(vec, 10, SearchFilter(date_from=date(2020, 2, 1), date_to=date(2020, 2, 3)))  # 3 articles
    assert spy.wheres[0] is None and spy.wheres[1] is not None and len(spy.wheres) == 2
    spy.wheres.clear()
    few = index.query(vec, N, SearchFilter(date_from=date(2020, 2, 1), date_to=date(2020, 2, 3)))
    assert spy.wheres == [None]  # k * FILTER_PROBE > N: the probe saw every chunk
    assert len(few) == 6 and N * FILTER_PROBE > N


@pytest.mark.parametrize("flt", FILTERS)
def test_where_accepts_matches_chroma(index: ChromaIndex, flt: SearchFilter) -> None:
    where = _where(flt)
    assert where is not None
    kept = set(index.collection.get(where=where, include=[])["ids"])
    assert {c.id for c in _chunks() if where_accepts(where, c)} == kept


def test_where_accepts_refuses_an_operator_it_does_not_know() -> None:
    with pytest.raises(ValueError, match=r"\$ne"):
        where_accepts({"published_int": {"$ne": 0}}, _chunks()[1])


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """The ledger of the same chunks, as an ingest writes it."""
    chunks = _chunks()
    metas = [chunk_metadata(c, "h", "test", 2) for c in chunks]
    led = Ledger.create(tmp_path / "ledger")
    led.replace(list(stored_from_records([(c.id, m) for c, m in zip(chunks, metas, strict=True)]).values()),
                [chunk_row(c, m) for c, m in zip(chunks, metas, strict=True)])
    yield led
    led.close()


@pytest.mark.parametrize("flt", [f for f in FILTERS if f.date_from or f.date_to])
def test_ledger_dates_keep_what_the_where_clause_keeps(index: ChromaIndex, ledger: Ledger,
                                                       flt: SearchFilter) -> None:
    where = _where(flt)
    assert where is not None
    found = ledger.dated_chunk_ids(flt.date_from, flt.date_to, N)
    assert found is not None
    kept = set(index.collection.get(where=where, include=[])["ids"])
    among = [cid for cid, aid in found if flt.article_ids is None or aid in flt.article_ids]
    assert set(among) == kept
    vec = np.random.default_rng(2).normal(size=DIM).astype(np.float32)
    assert [c.id for c, _ in index.query(vec, 10, flt, among=among)] == _by_where(index, vec, 10, flt)


def test_ledger_dates_give_up_beyond_the_limit(ledger: Ledger) -> None:
    assert ledger.dated_chunk_ids(None, date(2021, 1, 1), 50) is None
    assert ledger.dated_chunk_ids(None, None, N) is None
    few = ledger.dated_chunk_ids(date(2020, 2, 1), date(2020, 2, 3), 50)
    assert few is not None and sorted(a for _, a in few) == ["a31", "a31", "a32", "a32", "a33", "a33"]


def test_retriever_searches_a_short_range_among_its_ids(index: ChromaIndex, ledger: Ledger,
                                                       hash_settings: Settings) -> None:
    spy = _Spy(index.collection)
    index.collection = spy
    vec = np.random.default_rng(4).normal(size=DIM).astype(np.float32)
    retriever = HybridRetriever(lambda q: vec, index, lambda: ledger, hash_settings.retrieval)
    short = SearchFilter(date_from=date(2020, 2, 1), date_to=date(2020, 2, 3))
    hits = retriever.retrieve("chunk", flt=short, mode="dense")
    assert spy.ids[-1] is not None and len(spy.ids[-1]) == 6 and spy.wheres[-1] is None
    assert {h.chunk.article_id for h in hits} <= {"a31", "a32", "a33"} and hits


@pytest.mark.server
def test_short_range_among_ids_through_a_chroma_server(tmp_path: Path, ledger: Ledger) -> None:
    """The same search among ids, against a real `chroma run` (the HTTP client sends the ids)."""
    from conftest import CORPUS, make_settings
    from test_server_mode import CHROMA, ChromaServer, _free_port

    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` CLI (from the chromadb package) is not installed")
    server = ChromaServer(tmp_path / "chroma-data", _free_port(), tmp_path / "chroma.log")
    server.start()
    try:
        settings = make_settings(tmp_path, CORPUS, **{"store.mode": "server", "store.port": server.port})
        idx = open_store(settings).open_index(index_spec(settings, HashEmbedder(dim=DIM)), create=True)
        chunks = _chunks()
        vecs = np.random.default_rng(3).normal(size=(N, DIM)).astype(np.float32)
        idx.upsert(chunks, vecs, [chunk_metadata(c, "h", "test", 2) for c in chunks])
        short = SearchFilter(date_from=date(2020, 2, 1), date_to=date(2020, 2, 3))
        found = ledger.dated_chunk_ids(short.date_from, short.date_to, N)
        assert found is not None
        vec = np.random.default_rng(8).normal(size=DIM).astype(np.float32)
        got = [c.id for c, _ in idx.query(vec, 4, short, among=[cid for cid, _ in found])]
        assert got == _by_where(idx, vec, 4, short) and len(got) == 4
    finally:
        server.stop()
