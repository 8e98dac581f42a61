"""Recent answers by what was asked, for a follow-up's story lookup: the previous question is not answered
again for every follow-up ("And who addressed it?" after "Who presided over the meeting?")."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from postqa.core.types import Answer


class AnswerMemo:
    """A bounded least-recently-used map from a question's key (text, filter, top_k, date asked, and the index
    fingerprint, so an ingest makes every entry stale) to its answer. Thread-safe."""

    def __init__(self, max_items: int = 256) -> None:
        self.max_items = max_items
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, key: Hashable, answer: Answer) -> None:
        with self._lock:
            self._answers[key] = answer
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_items:
                self._answers.popitem(last=False)

    def get(self, key: Hashable) -> Answer | None:
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found

    def __len__(self) -> int:
        return len(self._answers)
