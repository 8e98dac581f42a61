"""A value kept in step with an index: reloaded when the collection's content fingerprint changes (another
process ingested), checked at most once every ``ttl`` seconds, thread-safe. The keyword (BM25) and people
indexes both follow their collection this way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class FollowFingerprint(Generic[T]):
    """``load(fingerprint)`` again whenever ``fingerprint()`` differs from the one the value was loaded under.

    An empty fingerprint (no state recorded yet) keeps the current value; a value of None (nothing to load
    yet) is retried at the next check. ``on_change`` runs before a reload
    that replaces an earlier value (e.g. reopening the collection to see another process's vectors).
    """

    def __init__(self, fingerprint: Callable[[], str], load: Callable[[str], T | None], ttl: float = 2.0,
                 on_change: Callable[[], object] | None = None) -> None:
        self.fingerprint = fingerprint
        self.load = load
        self.ttl = ttl
        self.on_change = on_change
        self._value: T | None = None
        self._loaded_under: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def _fresh(self) -> bool:
        return self._value is not None and time.monotonic() - self._checked < self.ttl

    def __call__(self) -> T | None:
        if self._fresh():
            return self._value
        with self._lock:
            if self._fresh():
                return self._value
            fp = self.fingerprint()
            if self._value is None or (fp and fp != self._loaded_under):
                if self._value is not None and self.on_change is not None:
                    self.on_change()
                self._value = self.load(fp)
                self._loaded_under = fp
            self._checked = time.monotonic()
            return self._value
