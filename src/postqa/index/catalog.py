"""The article catalogue: every indexed article's id, title, date, chunks and how it was read, kept in the
collection's ledger (index.ledger, SQLite) at ingest, so that listing articles (the web chat's filter, on every
page load, and ``postqa articles``) never scans every chunk's metadata."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from postqa.index.ledger import Ledger, _stored
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


# ------------------------------------------------------------------ pages of the catalogue (the web chat)

_COLUMNS = "id, hash, origin, n_chunks, present, title, published, source, layout, warnings, url"


def title_words(search: str, most: int = 20) -> list[str]:
    """The words of a title search: lower-cased, split on white space (each must occur in the title)."""
    return [w for w in re.split(r"\s+", (search or "").lower()) if w][:most]


def row_matches(row: dict[str, Any], words: Sequence[str], start: str = "", end: str = "") -> bool:
    """Whether an article row has every word in its title (any case) and, given a date bound (ISO dates),
    a date within it (an undated article matches no date range)."""
    d = row.get("date") or ""
    if (start or end) and not d:
        return False
    if (start and d < start) or (end and d > end):
        return False
    title = (row.get("title") or "").lower()
    return all(w in title for w in words)


def _where(ledger: Ledger, words: Sequence[str], start: str, end: str) -> tuple[str, list[Any]]:
    """The SQL condition of ``row_matches`` (Python's lower-casing, so non-ASCII titles match alike)."""
    ledger.db.create_function("postqa_lower", 1, lambda s: str(s or "").lower(), deterministic=True)
    clauses, params = [], []
    if start or end:
        clauses.append("coalesce(published, '') != ''")
    if start:
        clauses.append("published >= ?")
        params.append(start)
    if end:
        clauses.append("published <= ?")
        params.append(end)
    for w in words:
        clauses.append("instr(postqa_lower(title), ?) > 0")
        params.append(w)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def page_rows(ledger: Ledger, words: Sequence[str] = (), start: str = "", end: str = "", limit: int = 200,
              offset: int = 0) -> tuple[list[dict[str, Any]], int, int]:
    """(one page of the matching rows, newest first, as ``article_rows`` orders them; how many match; how
    many articles there are), read with LIMIT/OFFSET: the page never reads the whole catalogue."""
    where, params = _where(ledger, words, start, end)
    total = ledger.article_count()
    matching = total if not where else int(ledger.db.execute(f"SELECT count(*) FROM articles{where}",
                                                             params).fetchone()[0])
    rows = ledger.db.execute(f"SELECT {_COLUMNS} FROM articles{where} ORDER BY coalesce(published, '') DESC, "
                             "id DESC LIMIT ? OFFSET ?", [*params, max(0, limit), max(0, offset)])
    return article_rows(_stored(r) for r in rows), matching, total


def row_of(ledger: Ledger, article_id: str) -> dict[str, Any] | None:
    """One article's row (``article_rows``), or None when the catalogue does not list it."""
    found = ledger.db.execute(f"SELECT {_COLUMNS} FROM articles WHERE id = ?", (article_id,)).fetchone()
    return article_rows([_stored(found)])[0] if found is not None else None


def choices(ledger: Ledger) -> list[dict[str, Any]]:
    """Every article's id, title and date, newest first (the article filter's list): three columns, no
    per-article records."""
    rows = ledger.db.execute("SELECT id, title, coalesce(published, '') AS d FROM articles ORDER BY d DESC, id DESC")
    return [{"id": str(i), "title": str(t or ""), "date": str(d)} for i, t, d in rows]
