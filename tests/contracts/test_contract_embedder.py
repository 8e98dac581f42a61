"""The Embedder contract, run against every registered provider (postqa.index.embedding.EMBEDDERS).

A new provider registered there is picked up here: unit-length vectors when asked to normalise, stable
dimensions, deterministic output, a query vector that matches the document vector of the same text, a stable
fingerprint and a token counter that agrees with its input. Providers that load a real model run in the
slow tier."""

from __future__ import annotations

import numpy as np
import pytest

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ModelNotAvailableError
from postqa.index.embedding import EMBEDDERS, Embedder, create_embedder, describe

TEXTS = ["China Post and Xinhua News Agency start strategic cooperation.",
         "Zhang Yongping presided over the meeting in Beijing on 11 September 2020.",
         "Parcels", "短文本 and mixed script 2.0"]
FAST = {"hash"}


def _providers() -> list[object]:
    return [p if p in FAST else pytest.param(p, marks=pytest.mark.slow) for p in sorted(EMBEDDERS)]


@pytest.fixture(scope="module", params=_providers())
def embedder(request: pytest.FixtureRequest) -> Embedder:
    try:
        return create_embedder(EmbeddingSettings(provider=request.param, threads=1, dim=256))
    except ModelNotAvailableError as err:  # a provider whose weights are not installed on this machine
        pytest.skip(str(err))


def test_documents_are_a_stable_float_matrix_of_unit_rows(embedder: Embedder) -> None:
    vecs = embedder.embed_documents(TEXTS)
    assert vecs.shape == (len(TEXTS), embedder.dim) and np.issubdtype(vecs.dtype, np.floating)
    assert np.all(np.isfinite(vecs))
    if embedder.normalize:
        assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert np.allclose(embedder.embed_documents(TEXTS), vecs, atol=1e-5)  # deterministic
    assert np.allclose(embedder.embed_documents(TEXTS[:1])[0], vecs[0], atol=1e-4)  # batch-independent


def test_a_query_vector_matches_the_document_vector_of_the_same_text(embedder: Embedder) -> None:
    q = embedder.embed_query(TEXTS[1])
    assert q.shape == (embedder.dim,)
    docs = embedder.embed_documents(TEXTS)
    sims = docs @ q / (np.linalg.norm(docs, axis=1) * np.linalg.norm(q))
    assert int(np.argmax(sims)) == 1 and sims[1] > 0.99


def test_no_texts_give_an_empty_matrix_of_the_right_width(embedder: Embedder) -> None:
    assert embedder.embed_documents([]).shape == (0, embedder.dim)


def test_the_description_is_stable_and_names_the_model(embedder: Embedder) -> None:
    d = describe(embedder)
    assert d == describe(embedder) and d["dim"] == embedder.dim and d["model"] and d["fingerprint"]
    assert isinstance(embedder.fingerprint, str) and embedder.max_tokens > 0


def test_token_counts_are_positive_and_grow_with_the_text(embedder: Embedder) -> None:
    counts = embedder.count_tokens(TEXTS)
    assert len(counts) == len(TEXTS) and all(isinstance(c, int) and c > 0 for c in counts)
    short, long = embedder.count_tokens([TEXTS[0], f"{TEXTS[0]} {TEXTS[1]}"])
    assert long > short
