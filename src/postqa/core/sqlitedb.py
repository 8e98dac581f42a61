"""A side store's SQLite file opened in WAL mode with its schema, or None when it cannot be: the callers
(stored analyses, the word-vector table) then work from memory or the model, never fail an answer."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path


def open_optional(path: Path, schema: Sequence[str], timeout: float) -> sqlite3.Connection | None:
    """A connection usable from any thread (callers hold their own lock), its parent folder made and
    ``schema`` (CREATE ... IF NOT EXISTS statements) applied; None if the file is unwritable or broken."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), check_same_thread=False, timeout=timeout)
        conn.execute("PRAGMA journal_mode=WAL")
        for statement in schema:
            conn.execute(statement)
    except (OSError, sqlite3.Error):
        return None
    return conn
