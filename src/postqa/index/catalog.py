"""The article catalogue: every indexed article's id, title and date, written at ingest beside the store so
that listing articles (the web chat's filter, on every page load) never scans every chunk's metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from postqa.core.atomic import atomic_write_text
from postqa.index.store import StoredArticle


def catalog_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "articles" / f"{collection}.json"


def article_rows(stored: Iterable[StoredArticle]) -> list[dict[str, Any]]:
    """Rows describing indexed articles, newest first: id, title, date ("" when undated), source, url,
    chunks, layout (how the reader read it) and warnings (what it was unsure of)."""
    rows = [{"id": a.article_id, "title": a.title, "date": a.published, "source": a.source, "url": a.url,
             "chunks": a.present, "layout": a.layout, "warnings": list(a.warnings)} for a in stored]
    return sorted(rows, key=lambda a: (a["date"], a["id"]), reverse=True)


def save_catalog(path: Path, fingerprint: str, rows: list[dict[str, Any]]) -> None:
    """The article rows (``article_rows``), labelled with the index's content fingerprint; written
    atomically (readers see the old or the new catalogue)."""
    atomic_write_text(path, json.dumps({"fingerprint": fingerprint, "articles": rows}, ensure_ascii=False))


def load_catalog(path: Path, fingerprint: str) -> list[dict[str, Any]] | None:
    """The saved catalogue if it belongs to ``fingerprint`` and has every row field, else None (then scan the
    store: a catalogue written before rows carried the reader's warnings is not used)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not fingerprint or data.get("fingerprint") != fingerprint:
        return None
    rows = list(data.get("articles") or [])
    return rows if all(isinstance(r, dict) and "warnings" in r for r in rows) else None
