"""The index spec names the chunker: a store the former regex chunker cut is refused with the way forward, and
the next ingest re-chunks into a new index and drops the old one; nothing serves a mix of the two."""

from __future__ import annotations

import hashlib
import json

import pytest

from postqa.core.config import Settings
from postqa.core.errors import IndexMissingError
from postqa.index.chunking import CHUNKER_VERSION, LEGACY_CHUNKER
from postqa.index.embedding import HashEmbedder
from postqa.index.store import IndexSpec
from postqa.service.pipeline import build_assistant, index_spec, ingest, open_store


def _legacy_collection(settings: Settings) -> str:
    """A collection as postqa wrote it before the spec named the chunker: no chunker key in its metadata and a
    name from the spec without it."""
    spec = index_spec(settings, HashEmbedder(dim=256))
    old = {k: v for k, v in spec.__dict__.items() if k != "chunker"}
    key = hashlib.sha1(json.dumps(old, sort_keys=True).encode()).hexdigest()[:10]
    name = f"{settings.store.collection_prefix}-hash-256-{key}"
    meta = {f"postqa_{k}": v for k, v in old.items()}
    open_store(settings).client.get_or_create_collection(name=name, metadata={**meta, "postqa_state": ""},
                                                         configuration={"hnsw": {"space": "cosine"}},
                                                         embedding_function=None)
    return name


def test_the_spec_names_the_spacy_chunker(hash_settings: Settings) -> None:
    spec = index_spec(hash_settings, HashEmbedder(dim=256))
    assert spec.chunker == f"{CHUNKER_VERSION}:{hash_settings.nlp.model}"
    assert "sentences by spacy-sentences-1" in spec.describe()
    other = index_spec(hash_settings.model_copy(update={"nlp": hash_settings.nlp.model_copy(
        update={"model": "some_other_pipeline"})}), HashEmbedder(dim=256))
    assert other.collection_name("p") != spec.collection_name("p")  # another pipeline cuts other chunks
    assert not spec.rechunked(other)  # ... but it is not an older chunker: both indexes are kept


def test_an_old_chunker_store_is_refused_then_rechunked_by_the_next_ingest(hash_settings: Settings) -> None:
    name = _legacy_collection(hash_settings)
    store = open_store(hash_settings)
    recorded = {n: s for n, s, _ in store.indexes()}[name]
    assert recorded is not None and recorded.chunker == LEGACY_CHUNKER
    assert index_spec(hash_settings, HashEmbedder(dim=256)).rechunked(recorded)
    with pytest.raises(IndexMissingError, match=r"older version of postqa's chunker.*postqa ingest"):
        build_assistant(hash_settings, embedder=HashEmbedder(dim=256))
    report = ingest(hash_settings, embedder=HashEmbedder(dim=256))
    assert report.added and report.chunks_embedded > 0  # every article re-chunked and embedded
    names = [n for n, _, _ in open_store(hash_settings).indexes()]
    assert name not in names and len(names) == 1  # the old index went with its side files
    spec = IndexSpec.from_meta(dict(open_store(hash_settings).client.get_collection(names[0]).metadata or {}))
    assert spec is not None and spec.chunker.startswith(CHUNKER_VERSION)
    answer = build_assistant(hash_settings, embedder=HashEmbedder(dim=256)).ask("Who presided over the meeting?")
    assert answer.citations
