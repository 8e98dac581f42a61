"""Word vectors of a collection's vocabulary, stored once (at ingest) so the answerer's soft word matches
('chaired' ~ 'presided') need no encoder call at question time. One SQLite file per collection.

A word's vector is a function of the word and the embedding model only, so rows are keyed by (word, model
name and weights fingerprint): another model never reads them, and a changed or deleted article cannot make
one wrong (its words merely stay, unused, until ``prune``). Each write is one transaction: a killed ingest
leaves the words of the batches before it, and the rest are embedded when next asked for.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from postqa.core.sqlitedb import open_optional
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Analysis

EmbedFn = Callable[[Sequence[str]], np.ndarray]
CONTENT_POS = ("VERB", "NOUN", "PROPN", "ADJ")  # the parts of speech whose lemmas the answerer compares
MIN_STEM = 3  # shorter keyword stems are never soft-matched
_BUILT = "built"  # meta key: every stored chunk's vocabulary is in the table (set by ``backfill``)


def words_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "words" / f"{collection}.sqlite"


def soft_terms(terms: Iterable[str]) -> list[str]:
    """The keyword stems that take part in soft matching."""
    return [t for t in terms if t.isalpha() and len(t) >= MIN_STEM]


def vocabulary(analysis: Analysis) -> set[str]:
    """What the answerer may compare of a chunk: its keyword stems and its content words' lemmas."""
    out = set(soft_terms(tokenize(analysis.text)))
    out.update(t.lemma.lower() for t in analysis.tokens if t.pos in CONTENT_POS)
    return {w for w in out if w}


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return (vecs / np.where(norms == 0, 1.0, norms)).astype(np.float32)


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS words (word TEXT, model TEXT, vec BLOB, PRIMARY KEY (word, model))",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT, model TEXT, value TEXT, PRIMARY KEY (key, model))",
)


class WordVectors:
    """``lookup(words)``: stored unit vectors; ``ensure(words)``: embed and store the missing ones (one encoder
    call). ``path`` None or unwritable: nothing is stored (lookups find nothing)."""

    def __init__(self, path: Path | None, model: str, embed: EmbedFn, dim: int, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout  # seconds a write waits for another writer (an answer's write-through: briefly)
        self.model = model  # "<name>@<weights fingerprint>"
        self.embed = embed
        self.dim = dim
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._conn is None:
            self._conn = open_optional(self.path, _SCHEMA, self.timeout)
            if self._conn is None:
                self.path = None  # unwritable: the answerer embeds words itself
                return None
        return self._conn

    def lookup(self, words: Sequence[str]) -> dict[str, np.ndarray]:
        db = self._db()
        out: dict[str, np.ndarray] = {}
        if db is None or not words:
            return out
        unique = list(dict.fromkeys(words))
        with self._lock:
            for i in range(0, len(unique), 500):
                part = unique[i:i + 500]
                try:
                    rows = db.execute(f"SELECT word, vec FROM words WHERE model = ? AND word IN "
                                      f"({','.join('?' * len(part))})", [self.model, *part]).fetchall()
                except sqlite3.Error:
                    return out
                for word, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dim,):  # a row of another shape is embedded again
                        out[str(word)] = vec
        return out

    def save(self, items: dict[str, np.ndarray]) -> None:
        db = self._db()
        if db is None or not items:
            return
        rows = [(w, self.model, np.asarray(v, dtype=np.float32).tobytes()) for w, v in items.items()]
        with self._lock:
            try:
                with db:
                    db.executemany("INSERT OR REPLACE INTO words (word, model, vec) VALUES (?, ?, ?)", rows)
            except sqlite3.Error:
                pass  # read-only or locked: the vectors still serve from the caller's memory

    def ensure(self, words: Iterable[str]) -> int:
        """Embed and store every word not stored yet; returns how many were embedded."""
        unique = sorted(set(words))
        known = self.lookup(unique)
        todo = [w for w in unique if w not in known]
        if todo and self._db() is not None:
            self.save(dict(zip(todo, unit_rows(self.embed(todo)), strict=True)))
        return len(todo) if self.path is not None else 0

    def is_built(self) -> bool:
        db = self._db()
        if db is None:
            return False
        with self._lock:
            row = db.execute("SELECT value FROM meta WHERE key = ? AND model = ?", (_BUILT, self.model)).fetchone()
        return row is not None

    def mark_built(self) -> None:
        db = self._db()
        if db is None:
            return
        with self._lock, db:
            db.execute("INSERT OR REPLACE INTO meta (key, model, value) VALUES (?, ?, '1')", (_BUILT, self.model))

    def count(self) -> int:
        db = self._db()
        if db is None:
            return 0
        with self._lock:
            return int(db.execute("SELECT COUNT(*) FROM words WHERE model = ?", (self.model,)).fetchone()[0])

    def prune(self, keep: set[str]) -> int:
        """Drop the words no longer in ``keep`` (a collection's vocabulary) and every other model's rows."""
        db = self._db()
        if db is None:
            return 0
        with self._lock:
            rows = db.execute("SELECT word, model FROM words").fetchall()
            gone = [(w, m) for w, m in rows if m != self.model or w not in keep]
            with db:
                db.executemany("DELETE FROM words WHERE word = ? AND model = ?", gone)
        return len(gone)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def backfill(table: WordVectors, chunks: Iterable[str], analyse: Callable[[Sequence[str]], list[Analysis]],
             page: int = 512) -> int:
    """Every chunk's vocabulary into ``table`` once (an index built before the table existed), page by page,
    marked built at the end (a kill mid-way leaves it unmarked: the next run skips the words already stored).
    Returns how many words were embedded."""
    if table.path is None or table.is_built():
        return 0
    done = 0
    batch: list[str] = []
    for text in chunks:
        batch.append(text)
        if len(batch) >= page:
            done += table.ensure(set().union(*(vocabulary(a) for a in analyse(batch))))
            batch = []
    if batch:
        done += table.ensure(set().union(*(vocabulary(a) for a in analyse(batch))))
    table.mark_built()
    return done
