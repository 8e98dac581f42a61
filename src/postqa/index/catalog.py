"""The article catalogue: every indexed article's id, title and date, written at ingest beside the store so
that listing articles (the web chat's filter, on every page load) never scans every chunk's metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from postqa.core.atomic import atomic_write_text


def catalog_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "articles" / f"{collection}.json"


def save_catalog(path: Path, fingerprint: str, articles: Iterable[tuple[str, str, str]]) -> None:
    """(id, title, date) of every article, newest first, labelled with the index's content fingerprint;
    written atomically (readers see the old or the new catalogue)."""
    rows = sorted(({"id": a, "title": t, "date": d} for a, t, d in articles),
                  key=lambda r: (r["date"], r["id"]), reverse=True)
    atomic_write_text(path, json.dumps({"fingerprint": fingerprint, "articles": rows}, ensure_ascii=False))


def load_catalog(path: Path, fingerprint: str) -> list[dict[str, str]] | None:
    """The saved catalogue if it belongs to ``fingerprint``, else None (then scan the store)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not fingerprint or data.get("fingerprint") != fingerprint:
        return None
    return list(data.get("articles") or [])
