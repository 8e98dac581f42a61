"""Ingest: idempotent, incremental by content hash, deletions, model swaps, interrupted runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import AUTO, XINHUA, make_settings

from postqa.core.config import Settings
from postqa.core.errors import IndexMismatchError, IndexMissingError, IngestLockedError
from postqa.index.embedding import HashEmbedder, register_embedder
from postqa.index.indexer import IngestLock, keyword_path
from postqa.index.ledger import Ledger
from postqa.index.store import ChromaIndex
from postqa.service.pipeline import build_assistant, index_spec, ingest, open_store


def _index(settings: Settings) -> ChromaIndex:
    emb = HashEmbedder(dim=settings.embedding.dim)
    return open_store(settings).open_index(index_spec(settings, emb), create=False)


def _consistent(settings: Settings) -> None:
    """No orphan or missing chunks; BM25 agrees with Chroma; the recorded state is true."""
    index = _index(settings)
    stored = index.stored_articles()
    for art in stored.values():
        assert art.present == art.n_chunks and art.article_hash, art
    fp = index.fingerprint()
    bm25 = Ledger.open(keyword_path(settings.paths.vectorstore, index.name))
    assert bm25 is not None and bm25.fingerprint == fp and sorted(bm25.ids) == sorted(c.id for c in index.all_chunks())
    assert bm25.stored_articles() == stored and not bm25.pending()  # the catalogue is what a full scan finds
    state = index.state()
    assert state["fingerprint"] == fp and not state["dirty"]
    assert state["chunks"] == index.count() and state["articles"] == len(stored)


def test_first_ingest_then_nothing_to_embed(hash_settings: Settings) -> None:
    first = ingest(hash_settings)
    assert sorted(first.added) == [AUTO, XINHUA] and first.chunks_embedded == first.chunks_total > 5
    again = ingest(hash_settings)
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    assert again.unchanged == 2 and not again.keyword_rebuilt
    # the same file given twice, and the folder plus one of its files, never duplicates
    twice = ingest(hash_settings, [hash_settings.paths.corpus, hash_settings.paths.corpus / f"{AUTO}.txt"])
    assert twice.chunks_total == first.chunks_total and twice.chunks_embedded == 0
    _consistent(hash_settings)


def test_changed_article_replaces_its_chunks_and_reuses_unchanged_vectors(hash_settings: Settings) -> None:
    first = ingest(hash_settings)
    path = hash_settings.paths.corpus / f"{XINHUA}.txt"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("shared their experience.", "shared their experience. A new closing line."),
                    encoding="utf-8")
    report = ingest(hash_settings)
    assert report.updated == [XINHUA] and report.added == [] and report.unchanged == 1
    assert 0 < report.chunks_embedded < first.chunks_total and report.chunks_reused > 0
    index = _index(hash_settings)
    texts = " ".join(c.text for c in index.all_chunks() if c.article_id == XINHUA)
    assert "A new closing line." in texts
    # shortening an article removes its now-surplus chunks
    path.write_text(text.split("Gong Xixiang said")[0], encoding="utf-8")
    ingest(hash_settings)
    assert len([c for c in _index(hash_settings).all_chunks() if c.article_id == XINHUA]) == 1
    _consistent(hash_settings)


def test_deleted_article_loses_its_chunks_but_unreadable_one_keeps_them(hash_settings: Settings) -> None:
    ingest(hash_settings)
    (hash_settings.paths.corpus / f"{AUTO}.txt").unlink()
    report = ingest(hash_settings)
    assert report.removed == [AUTO]
    assert {c.article_id for c in _index(hash_settings).all_chunks()} == {XINHUA}
    # a file that turns unreadable is reported and skipped, and its indexed version is kept
    (hash_settings.paths.corpus / f"{XINHUA}.txt").write_bytes(b"\x00\x00binary")
    report = ingest(hash_settings)
    assert report.removed == [] and "binary" in report.skipped[0].reason
    assert {c.article_id for c in _index(hash_settings).all_chunks()} == {XINHUA}
    _consistent(hash_settings)


def test_ingesting_one_file_does_not_remove_others(hash_settings: Settings, tmp_path: Path) -> None:
    ingest(hash_settings)
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "note.txt").write_text("An extra article\nKang Ning visited Shanghai on June 1.", encoding="utf-8")
    report = ingest(hash_settings, [extra])
    assert report.added == ["note"] and report.removed == [] and report.articles_total == 3


def test_rebuild_starts_over(hash_settings: Settings) -> None:
    first = ingest(hash_settings)
    report = ingest(hash_settings, rebuild=True)
    assert sorted(report.added) == [AUTO, XINHUA] and report.chunks_embedded == first.chunks_total


class _OtherModel(HashEmbedder):
    """Same dimension as the hash embedder, different weights: Chroma alone would not notice."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim=dim)
        self.name = "other-model"

    @property
    def fingerprint(self) -> str:
        return "other-weights"

    def _vector(self, text: str) -> np.ndarray:
        return super()._vector(text[::-1])


def test_model_swap_is_caught_even_at_the_same_dimension(hash_settings: Settings) -> None:
    ingest(hash_settings)
    register_embedder("other-test", lambda s: _OtherModel(s.dim))
    swapped = hash_settings.with_overrides(**{"embedding.provider": "other-test"})
    with pytest.raises(IndexMissingError) as err:
        build_assistant(swapped)
    msg = str(err.value)
    assert "other-model" in msg and "hash-256" in msg and "postqa ingest" in msg
    # building the second model's index leaves the first untouched; switching back needs no wipe
    ingest(swapped)
    assert build_assistant(swapped).status()["embedding"]["model"] == "other-model"
    assert build_assistant(hash_settings).status()["chunks"] > 0
    # another dimension also gets the clear message, never a raw Chroma dimension error
    with pytest.raises(IndexMissingError, match="postqa ingest"):
        build_assistant(hash_settings.with_overrides(**{"embedding.dim": 128}))


def test_tampered_collection_is_reported_as_mismatch(hash_settings: Settings) -> None:
    ingest(hash_settings)
    index = _index(hash_settings)
    meta = dict(index.collection.metadata)
    meta["postqa_fingerprint"] = "forged"
    index.collection.modify(metadata=meta)
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        build_assistant(hash_settings)


def test_interrupted_ingest_leaves_a_consistent_store_and_the_next_run_completes(
        hash_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    hash_settings = hash_settings.with_overrides(**{"embedding.write_batch": 2})  # a write step per article
    ingest(hash_settings)
    for name in (AUTO, XINHUA):
        p = hash_settings.paths.corpus / f"{name}.txt"
        p.write_text(p.read_text(encoding="utf-8").replace("meeting", "conference"), encoding="utf-8")
    calls = {"n": 0}
    original = ChromaIndex.upsert

    def crash_on_second(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated kill")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ChromaIndex, "upsert", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        ingest(hash_settings)
    monkeypatch.setattr(ChromaIndex, "upsert", original)
    index = _index(hash_settings)
    assert index.state()["dirty"] is True
    # readers still answer meanwhile
    assert build_assistant(hash_settings).ask("Who presided over the meeting?").citations
    report = ingest(hash_settings)
    assert report.updated == [XINHUA] or sorted(report.updated) == [AUTO, XINHUA]
    _consistent(hash_settings)
    again = ingest(hash_settings)
    assert again.chunks_embedded == 0


def test_keyword_index_lost_or_stale_is_rebuilt(hash_settings: Settings) -> None:
    ingest(hash_settings)
    index = _index(hash_settings)
    path = keyword_path(hash_settings.paths.vectorstore, index.name)
    shutil.rmtree(path)
    assistant = build_assistant(hash_settings)
    assert assistant.ask("Who presided over the Xinhua meeting?").hits
    assert path.exists()
    report = ingest(hash_settings)
    assert report.chunks_embedded == 0
    _consistent(hash_settings)


def test_second_ingest_stops_with_a_clear_message(hash_settings: Settings) -> None:
    with IngestLock(hash_settings.paths.vectorstore):
        with pytest.raises(IngestLockedError, match="another ingest .*pid"):
            ingest(hash_settings)


def test_empty_store_and_status(tmp_path: Path, corpus_dir: Path) -> None:
    settings = make_settings(tmp_path, corpus_dir)
    with pytest.raises(IndexMissingError, match="Run `postqa ingest`"):
        build_assistant(settings)
    ingest(settings)
    status = build_assistant(settings).status()
    assert status["articles"] == 2 and status["chunks"] > 0 and status["last_ingest"]
    assert status["embedding"]["model"] == "hash-256" and status["embedding"]["dim"] == 256


def test_a_moved_corpus_updates_sources_everywhere(hash_settings: Settings, tmp_path: Path) -> None:
    ingest(hash_settings)
    before = _index(hash_settings).fingerprint()
    moved = tmp_path / "news"
    hash_settings.paths.corpus.rename(moved)
    report = ingest(hash_settings.with_overrides(**{"paths.corpus": moved}))
    assert sorted(report.updated) == [AUTO, XINHUA] and report.chunks_embedded == 0
    assert _index(hash_settings).fingerprint() != before  # so the keyword and people indexes follow
    assert {c.source for c in _index(hash_settings).all_chunks()} == {f"news/{AUTO}.txt", f"news/{XINHUA}.txt"}
    _consistent(hash_settings)
