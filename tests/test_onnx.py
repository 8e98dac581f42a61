"""The ONNX embedder: same vectors and index as sentence-transformers, refused when it does not reproduce
them, chosen by "auto" when an export exists, and a question path that never imports torch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ConfigError, ModelNotAvailableError
from postqa.index.embedding import create_embedder, resolve_model, weights_fingerprint
from postqa.index.embedding.export import PROBE_TEXTS, ExportRefusedError, check_reproduces
from postqa.index.embedding.onnx_runtime import EXPORT_META, OnnxEmbedder, export_name, find_export, read_meta
from tests.conftest import CORPUS, ROOT, XINHUA, make_settings

HEAVY = ("torch", "sentence_transformers", "llama_index", "transformers")
# what `ask` has no use for: the command line imports only the module that defines the command; scipy only
# builds keyword segments (ingest); the OTLP exporter (grpc) only exports chromadb's traces when configured
OTHER_INTERFACES = ("gradio", "postqa.interfaces.web", "postqa.interfaces.evaluation", "postqa.interfaces.who",
                    "scipy", "grpc")
QUESTION = "Who presided over the Xinhua meeting?"


def _ask_in_subprocess(config: Path, env_extra: dict[str, str]) -> dict[str, object]:
    """Run `postqa ask --json` in a fresh interpreter; report the answer and which heavy modules it loaded."""
    code = ("import json, sys\nfrom postqa.interfaces.cli import main\n"
            f"rc = main(['ask', '--json', '--config', {str(config)!r}, {QUESTION!r}])\n"
            f"print(json.dumps({{'rc': rc, 'loaded': [m for m in {HEAVY!r} if m in sys.modules],\n"
            f"                  'interfaces': [m for m in {OTHER_INTERFACES!r} if m in sys.modules]}}))\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1", **env_extra}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    return {**json.loads(lines[-1]), "answer": json.loads(lines[-2])}


def _write_config(path: Path, corpus: Path, store: Path, provider: str, extra: str = "") -> Path:
    path.write_text(f'[paths]\ncorpus = "{corpus}"\nvectorstore = "{store}"\n'
                    f'[embedding]\nprovider = "{provider}"\n{extra}', encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------------ fast tier


def test_check_reproduces_accepts_equal_and_refuses_different_vectors() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(len(PROBE_TEXTS), 16)).astype(np.float32)
    lo, mean = check_reproduces(ref, ref * 2.0, PROBE_TEXTS, "m")  # scale does not matter, direction does
    assert lo > 0.9999 and mean > 0.9999
    bad = ref.copy()
    bad[3] = rng.normal(size=16)
    with pytest.raises(ExportRefusedError, match=r"does not reproduce.*probe text 3.*at least 0.9999.*"
                                                 r"provider = \"sentence-transformers\""):
        check_reproduces(ref, bad, PROBE_TEXTS, "m")
    with pytest.raises(ExportRefusedError, match="shape"):
        check_reproduces(ref, ref[:, :8], PROBE_TEXTS, "m")
    assert issubclass(ExportRefusedError, ModelNotAvailableError)


def test_ask_with_hash_embedder_imports_no_torch_or_llama_index(tmp_path: Path, corpus_dir: Path) -> None:
    from postqa.service.pipeline import ingest

    settings = make_settings(tmp_path, corpus_dir)
    ingest(settings)
    config = _write_config(tmp_path / "postqa.toml", corpus_dir, tmp_path / "vectorstore", "hash", "dim = 256\n")
    result = _ask_in_subprocess(config, {})
    assert result["rc"] == 0 and result["loaded"] == [] and result["interfaces"] == []
    assert "Zhang Yongping" in str(result["answer"])


def _fake_export(base: Path, settings: EmbeddingSettings, meta: dict[str, object] | None = None) -> Path:
    """An export folder with the real tokenizer and a placeholder model file (the session is never made)."""
    target, canonical = resolve_model(settings.model, offline=True)
    folder = base / "onnx" / export_name(canonical, weights_fingerprint(target), settings.quantize)
    folder.mkdir(parents=True)
    shutil.copy2(Path(target) / "tokenizer.json", folder / "tokenizer.json")
    (folder / "model.onnx").write_bytes(b"not a model")
    full = {"format": 1, "name": canonical, "fingerprint": weights_fingerprint(target), "dim": 384,
            "max_seq_length": 256, "pooling": "mean", "normalize_module": True,
            "input_names": ["input_ids", "attention_mask", "token_type_ids"], "pad_id": 0, **(meta or {})}
    (folder / EXPORT_META).write_text(json.dumps(full), encoding="utf-8")
    return folder


def test_auto_serves_from_an_export_and_it_keeps_the_source_identity(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTQA_MODELS_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    # only the test's own folder: the repository's models/ may hold real exports
    monkeypatch.setattr("postqa.index.embedding.onnx_runtime.models_dirs", lambda: [tmp_path])
    settings = EmbeddingSettings(provider="auto")
    folder = _fake_export(tmp_path, settings)
    assert find_export(settings) == folder
    emb = create_embedder(settings)
    assert isinstance(emb, OnnxEmbedder) and emb.provider == "onnx"
    target, _ = resolve_model(settings.model, offline=True)
    # the sentence-transformers embedder reports these for the same weights: same IndexSpec, same collection
    assert (emb.name, emb.dim, emb.max_tokens, emb.fingerprint) == \
        ("all-MiniLM-L6-v2", 384, 254, weights_fingerprint(target))
    assert emb.count_tokens(["Zhang Yongping presided over the meeting.", ""]) == [8, 0]
    # int8 is another export, not found until made; sentence-transformers cannot run it
    assert find_export(settings.model_copy(update={"quantize": "int8"})) is None
    with pytest.raises(ConfigError, match="quantize = 'int8' needs the ONNX runtime"):
        create_embedder(EmbeddingSettings(provider="sentence-transformers", quantize="int8"))


def test_unreadable_export_says_how_to_redo_it(tmp_path: Path) -> None:
    folder = _fake_export(tmp_path, EmbeddingSettings(), {"pooling": "weighted"})
    with pytest.raises(ModelNotAvailableError, match=r"pooling 'weighted'.*python -m postqa.index.onnx_export"):
        read_meta(folder)
    (folder / EXPORT_META).write_text("{", encoding="utf-8")
    with pytest.raises(ModelNotAvailableError, match="cannot be read"):
        read_meta(folder)


# ------------------------------------------------------------------------------------------ slow tier


@pytest.fixture(scope="session")
def onnx_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real export of the default model into a private models folder (torch is needed this once)."""
    from postqa.index.embedding.export import export_model

    base = tmp_path_factory.mktemp("models")
    old = os.environ.get("POSTQA_MODELS_DIR")
    os.environ["POSTQA_MODELS_DIR"] = str(base)
    try:
        export_model(EmbeddingSettings(threads=1))
    finally:
        if old is None:
            os.environ.pop("POSTQA_MODELS_DIR", None)
        else:
            os.environ["POSTQA_MODELS_DIR"] = old
    return base


def _probe() -> list[str]:
    texts = [*PROBE_TEXTS, "Who is the President of China Post Group?", "What was launched in May 2019?"]
    for path in sorted(CORPUS.glob("*.txt"))[:3]:
        body = path.read_text(encoding="utf-8")
        texts += [body[:400], body[400:2400]]
    return texts


@pytest.mark.slow
def test_onnx_vectors_equal_sentence_transformers(onnx_models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from postqa.index.embedding import SentenceTransformerEmbedder

    monkeypatch.setenv("POSTQA_MODELS_DIR", str(onnx_models))
    settings = EmbeddingSettings(threads=1)
    st = SentenceTransformerEmbedder(settings)
    onnx = create_embedder(settings.model_copy(update={"provider": "onnx"}))
    texts = _probe()
    ref, got = st.embed_documents(texts), onnx.embed_documents(texts)
    cos = (ref * got).sum(axis=1)
    assert cos.min() >= 0.9999, (float(cos.min()), texts[int(np.argmin(cos))][:80])
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    assert np.allclose(onnx.embed_query(texts[3]), got[3], atol=1e-5)
    assert onnx.count_tokens(texts) == st.count_tokens(texts)
    assert (onnx.name, onnx.dim, onnx.max_tokens, onnx.fingerprint, onnx.normalize) == \
        (st.name, st.dim, st.max_tokens, st.fingerprint, st.normalize)


@pytest.mark.slow
def test_export_that_does_not_reproduce_is_refused(tmp_path: Path) -> None:
    from postqa.index.embedding.export import export_fp32

    # the right transformer with the wrong pooling: the probe check must catch it and keep nothing
    with pytest.raises(ExportRefusedError, match="does not reproduce its sentence-transformers vectors"):
        export_fp32(EmbeddingSettings(threads=1), base=tmp_path, pooling="cls")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_ask_with_onnx_serves_the_sentence_transformers_index_without_torch(
        onnx_models: Path, real_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from postqa.service.pipeline import build_assistant, ingest

    st_settings = real_settings.with_overrides(**{"embedding.provider": "sentence-transformers"})
    ingest(st_settings)
    expected = build_assistant(st_settings).ask(QUESTION)
    store = real_settings.paths.vectorstore
    config = _write_config(tmp_path / "postqa.toml", CORPUS, store, "auto")
    result = _ask_in_subprocess(config, {"POSTQA_MODELS_DIR": str(onnx_models)})
    assert result["rc"] == 0 and result["loaded"] == [] and result["interfaces"] == [], result
    answer = result["answer"]
    # the same index, the same vectors: the same answer and citations as sentence-transformers gives
    assert isinstance(answer, dict) and answer["answer"] == expected.text
    assert [c["article_id"] for c in answer["citations"]] == [c.article_id for c in expected.citations]
    assert answer["citations"][0]["article_id"] == XINHUA


@pytest.mark.slow
def test_one_call_for_words_and_sentences_equals_separate_calls(onnx_models: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTQA_MODELS_DIR", str(onnx_models))
    onnx = create_embedder(EmbeddingSettings(threads=1, provider="onnx"))
    texts = ["presid", "chair", *_probe()[2:6], "meeting"]
    together = onnx.embed_documents(texts)
    alone = np.stack([onnx.embed_documents([t])[0] for t in texts])
    assert np.allclose(together, alone, atol=1e-5)
