"""Word-to-word similarity by the embedding model, cached: 'chaired' ~ 'presided', 'car' ~ 'automobile'."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

EmbedFn = Callable[[Sequence[str]], np.ndarray]


class WordSimilarity:
    """Cosine of single words' vectors; unit vectors cached (news vocabularies repeat across questions)."""

    MAX_CACHE = 50_000

    def __init__(self, embed: EmbedFn) -> None:
        self.embed = embed
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def vectors(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            todo = sorted({w for w in words if w not in self._cache})
        if todo:
            vecs = np.asarray(self.embed(todo), dtype=np.float32)
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = (vecs / np.where(norms == 0, 1.0, norms)).astype(np.float32)
            with self._lock:
                if len(self._cache) > self.MAX_CACHE:
                    self._cache.clear()
                self._cache.update(zip(todo, vecs, strict=True))
        with self._lock:
            return {w: self._cache[w] for w in words}

    def matrix(self, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
        """len(left) x len(right) cosines (1.0 where the words are equal)."""
        if not left or not right:
            return np.zeros((len(left), len(right)), dtype=np.float32)
        vecs = self.vectors(list(left) + list(right))
        out = np.stack([vecs[w] for w in left]) @ np.stack([vecs[w] for w in right]).T
        for i, a in enumerate(left):
            for j, b in enumerate(right):
                if a == b:
                    out[i, j] = 1.0
        return out

    def __call__(self, a: str, b: str) -> float:
        return 1.0 if a == b else float(self.matrix([a], [b])[0, 0])
