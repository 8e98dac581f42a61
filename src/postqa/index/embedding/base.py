"""The Embedder protocol and what every implementation shares: how a store describes one, thread hints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


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


def set_threads(embedder: Embedder, threads: int) -> None:
    """Ask an embedder to compute with ``threads`` intra-op threads (0 = all cores) when it has such a knob:
    ingest uses all cores, serving one thread per request (two busy processes with oversubscribed threads
    made single queries ~30x slower in a trial). Embedders without threads (hash) ignore it."""
    setter = getattr(embedder, "set_threads", None)
    if callable(setter):
        setter(threads)


def describe(embedder: Embedder) -> dict[str, Any]:
    """What status reports about the embedder that serves an index (the spec itself lives in the store)."""
    return {"model": embedder.name, "dim": embedder.dim, "normalize": embedder.normalize,
            "fingerprint": embedder.fingerprint, "max_tokens": embedder.max_tokens,
            "provider": str(getattr(embedder, "provider", type(embedder).__name__))}


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    return float(np.dot(a, b) / (na * nb)) if na and nb else 0.0


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return (vectors / norms).astype(np.float32)
