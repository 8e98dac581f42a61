"""Document vectors remembered by text: the answerer embeds the same sentences again and again (the sentences
of the chunks a story's questions retrieve), and the encoder is most of a question's time."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

EmbedFn = Callable[[Sequence[str]], np.ndarray]


class CachedEmbed:
    """``embed(texts)`` through a bounded least-recently-used map from text to its vector; only the texts not
    remembered go to the encoder, in one call, in their first-seen order. Thread-safe; the encoder runs
    outside the lock. The vectors are the encoder's own (copied, so a caller cannot change what is kept)."""

    def __init__(self, embed: EmbedFn, max_items: int = 20_000) -> None:
        if max_items < 1:
            raise ValueError(f"max_items = {max_items}; expected at least 1")
        self.embed = embed
        self.max_items = max_items
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.asarray(self.embed([]))
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for t in known:
                self._vectors.move_to_end(t)
        todo = list(dict.fromkeys(t for t in texts if t not in known))
        if todo:
            fresh = np.asarray(self.embed(todo))
            if fresh.shape[0] != len(todo):
                raise ValueError(f"the encoder returned {fresh.shape[0]} vectors for {len(todo)} texts")
            with self._lock:
                for t, v in zip(todo, fresh, strict=True):
                    self._vectors[t] = known[t] = v.copy()
                while len(self._vectors) > self.max_items:
                    self._vectors.popitem(last=False)
        with self._lock:
            self.hits += len(texts) - len(todo)
            self.misses += len(todo)
        return np.stack([known[t] for t in texts])  # a new array: the kept vectors stay as they are

    def __len__(self) -> int:
        return len(self._vectors)
