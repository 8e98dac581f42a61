"""The hash embedder: deterministic feature hashing for fast offline tests (words and word bigrams, signed)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)


class HashEmbedder:
    """Deterministic feature-hashing embedder for fast offline tests: words and word bigrams, signed."""

    provider = "hash"

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
