"""CachedEmbed: vectors remembered by text give the encoder's own vectors, call it only for new texts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from postqa.index.embedding import HashEmbedder
from postqa.index.embedding.cache import CachedEmbed


class Counting:
    def __init__(self) -> None:
        self.inner = HashEmbedder(dim=64)
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return self.inner.embed_documents(list(texts))


def test_cached_vectors_equal_the_encoders_and_only_new_texts_are_encoded() -> None:
    enc = Counting()
    cached = CachedEmbed(enc, max_items=10)
    first = cached(["a b", "c d", "a b"])
    assert np.array_equal(first, enc.inner.embed_documents(["a b", "c d", "a b"]))
    assert enc.calls == [["a b", "c d"]]  # a repeated text is encoded once
    again = cached(["c d", "e f", "a b"])
    assert enc.calls[-1] == ["e f"]
    assert np.array_equal(again, enc.inner.embed_documents(["c d", "e f", "a b"]))
    again[0] += 1.0  # the caller's copy: what is kept does not change
    assert np.array_equal(cached(["c d"])[0], enc.inner.embed_documents(["c d"])[0])
    assert (cached.hits, cached.misses, len(cached)) == (4, 3, 3)
    assert cached([]).shape[0] == 0


def test_least_recently_used_texts_are_forgotten_first() -> None:
    enc = Counting()
    cached = CachedEmbed(enc, max_items=2)
    cached(["a"]), cached(["b"]), cached(["a"]), cached(["c"])  # b is the least recently used
    assert len(cached) == 2
    cached(["a", "b"])
    assert enc.calls[-1] == ["b"]
    with pytest.raises(ValueError, match="max_items = 0"):
        CachedEmbed(enc, max_items=0)
