"""Stored analyses, keyed by content hash and pipeline fingerprint, in one SQLite file per collection."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path

from postqa.core.sqlitedb import open_optional
from postqa.nlp.analysis import Analysis, text_key
from postqa.nlp.pipeline import Analyser

MEMORY_ITEMS = 4096  # analyses kept in memory (the answerer reads the same few chunks again and again)


def analysis_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "analysis" / f"{collection}.sqlite"


_SCHEMA = ("CREATE TABLE IF NOT EXISTS analysis (key TEXT, model TEXT, data TEXT, PRIMARY KEY (key, model))",)


class AnalysisStore:
    """``get_many(texts)``: stored analyses where present, the rest analysed now and saved (a missing or
    unreadable file, or another pipeline's rows, only cost time). Writes are single SQLite transactions, so
    a kill leaves the file as it was before or after a batch."""

    def __init__(self, path: Path | None, analyser: Analyser) -> None:
        self.path = path
        self.analyser = analyser
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._memory: OrderedDict[str, Analysis] = OrderedDict()

    def _db(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._conn is None:
            self._conn = open_optional(self.path, _SCHEMA, 30)
            if self._conn is None:
                self.path = None  # unwritable: analyses live in memory only
                return None
        return self._conn

    def get(self, text: str) -> Analysis:
        return self.get_many([text])[0]

    def get_many(self, texts: Sequence[str]) -> list[Analysis]:
        keys = [text_key(t) for t in texts]
        with self._lock:
            found = self._lookup(keys, texts)
            todo = [i for i, k in enumerate(keys) if k not in found]
            if todo:
                fresh = self.analyser.analyse_many([texts[i] for i in todo])
                self._save([(keys[i], a) for i, a in zip(todo, fresh, strict=True)])
                found.update({keys[i]: a for i, a in zip(todo, fresh, strict=True)})
            self._remember(found.items())
            return [found[k] for k in keys]

    def ensure(self, texts: Iterable[str]) -> int:
        """Analyse and store every text not stored yet (the ingest's call). Returns how many were analysed."""
        unique = list(dict.fromkeys(texts))
        with self._lock:
            missing = [t for t in unique if text_key(t) not in self._lookup([text_key(t)], [t])]
        if missing:
            self.get_many(missing)
        return len(missing)

    def _lookup(self, keys: Sequence[str], texts: Sequence[str]) -> dict[str, Analysis]:
        out = {}
        for k in keys:
            if k in self._memory:
                self._memory.move_to_end(k)
                out[k] = self._memory[k]
        rest = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in out]
        db = self._db()
        if not rest or db is None:
            return out
        by_key = dict(rest)
        model = self.analyser.fingerprint
        for i in range(0, len(rest), 500):
            part = [k for k, _ in rest[i:i + 500]]
            marks = ",".join("?" * len(part))
            try:
                rows = db.execute(f"SELECT key, data FROM analysis WHERE model = ? AND key IN ({marks})",
                                  [model, *part]).fetchall()
            except sqlite3.Error:
                return out
            for key, data in rows:
                try:
                    out[key] = Analysis.from_json(by_key[key], json.loads(data))
                except (ValueError, KeyError, TypeError):
                    continue  # an unreadable row is analysed again
        return out

    def _remember(self, items: Iterable[tuple[str, Analysis]]) -> None:
        for key, a in items:
            self._memory[key] = a
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)

    def _save(self, items: Sequence[tuple[str, Analysis]]) -> None:
        db = self._db()
        if db is None or not items:
            return
        model = self.analyser.fingerprint
        rows = [(k, model, json.dumps(a.to_json(), ensure_ascii=False, separators=(",", ":"))) for k, a in items]
        try:
            with db:
                db.executemany("INSERT OR REPLACE INTO analysis (key, model, data) VALUES (?, ?, ?)", rows)
        except sqlite3.Error:
            pass  # read-only or locked: the analyses still serve from memory

    def prune(self, keep: Iterable[str]) -> int:
        """Drop rows whose text no stored chunk has any more, or made by another pipeline."""
        return self.prune_keys({text_key(t) for t in keep})

    def prune_keys(self, wanted: set[str]) -> int:
        """Like ``prune``, given the kept texts' keys (``analysis.text_key``), e.g. from the index's ledger."""
        db = self._db()
        if db is None:
            return 0
        model = self.analyser.fingerprint
        with self._lock:
            try:
                rows = db.execute("SELECT key, model FROM analysis").fetchall()
                gone = [(k, m) for k, m in rows if k not in wanted or m != model]
                with db:
                    db.executemany("DELETE FROM analysis WHERE key = ? AND model = ?", gone)
            except sqlite3.Error:
                return 0
        return len(gone)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
