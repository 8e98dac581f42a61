"""Word-to-word similarity by the embedding model, cached: 'chaired' ~ 'presided', 'car' ~ 'automobile'."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from postqa.index.wordvectors import unit_rows

EmbedFn = Callable[[Sequence[str]], np.ndarray]


class WordTable(Protocol):
    """Stored word vectors (postqa.index.wordvectors.WordVectors): read before the encoder, written after it."""

    def lookup(self, words: Sequence[str]) -> dict[str, np.ndarray]: ...

    def save(self, items: dict[str, np.ndarray]) -> None: ...


class WordSimilarity:
    """Cosine of single words' vectors; unit vectors cached (news vocabularies repeat across questions). With a
    ``table`` (the collection's vocabulary, embedded at ingest) the encoder sees only words the news never used."""

    MAX_CACHE = 50_000

    def __init__(self, embed: EmbedFn, table: WordTable | None = None) -> None:
        self.embed = embed
        self.table = table
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def missing(self, words: Sequence[str]) -> list[str]:
        """The words neither in memory nor in the table (looked up once; found ones are kept in memory)."""
        with self._lock:
            todo = sorted({w for w in words if w not in self._cache})
        if todo and self.table is not None:
            found = self.table.lookup(todo)
            self._keep(found)
            todo = [w for w in todo if w not in found]
        return todo

    def add(self, words: Sequence[str], vectors: np.ndarray) -> None:
        """Vectors the caller embedded for ``missing`` words (one encoder call shared with other texts)."""
        fresh = dict(zip(words, unit_rows(vectors), strict=True))
        self._keep(fresh)
        if self.table is not None and fresh:
            self.table.save(fresh)

    def _keep(self, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            if len(self._cache) + len(items) > self.MAX_CACHE:
                self._cache.clear()
            self._cache.update(items)

    def vectors(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        todo = self.missing(words)
        if todo:
            self.add(todo, np.asarray(self.embed(todo), dtype=np.float32))
        with self._lock:
            known = {w: self._cache[w] for w in words if w in self._cache}
        if len(known) < len(set(words)):  # the cache was cleared between: embed what fell out
            rest = sorted(set(words) - set(known))
            known.update(zip(rest, unit_rows(self.embed(rest)), strict=True))
        return known

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
