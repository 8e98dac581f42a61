"""The article catalogue: every indexed article's id, title, date, chunks and how it was read, kept in the
collection's ledger (index.ledger, SQLite) at ingest, so that listing articles (the web chat's filter, on every
page load, and ``postqa articles``) never scans every chunk's metadata."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from postqa.index.ledger import Ledger
from postqa.index.store import StoredArticle


def catalog_path(store_dir: Path, collection: str) -> Path:
    """The ledger folder that holds the catalogue (the same as indexer.keyword_path)."""
    return store_dir / "ledger" / collection


def article_rows(stored: Iterable[StoredArticle]) -> list[dict[str, Any]]:
    """Rows describing indexed articles, newest first: id, title, date ("" when undated), source, url,
    chunks, layout (how the reader read it) and warnings (what it was unsure of)."""
    rows = [{"id": a.article_id, "title": a.title, "date": a.published, "source": a.source, "url": a.url,
             "chunks": a.present, "layout": a.layout, "warnings": list(a.warnings)} for a in stored]
    return sorted(rows, key=lambda a: (a["date"], a["id"]), reverse=True)


def load_catalog(path: Path, fingerprint: str | None = None) -> list[dict[str, Any]] | None:
    """The catalogue's rows (``article_rows``), or None when there is no usable ledger at ``path`` or (given
    ``fingerprint``) it holds another content version."""
    ledger = Ledger.open(path)
    if ledger is None:
        return None
    try:
        if fingerprint is not None and ledger.fingerprint != fingerprint:
            return None
        return article_rows(ledger.stored_articles().values())
    finally:
        ledger.close()
