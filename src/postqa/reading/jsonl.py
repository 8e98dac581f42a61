"""JSON Lines: one article an object a line, under the field names news datasets use."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from postqa.core.types import Article, ParseReport
from postqa.reading.dates import parse_date
from postqa.reading.files import safe_str
from postqa.reading.result import CorpusReadResult, Problem
from postqa.reading.text import clean_text, finish_title
from postqa.reading.unwrap import unwrap

ID_FIELDS = ("id", "doc_id")
TITLE_FIELDS = ("title", "headline")
TEXT_FIELDS = ("text", "body", "content")
DATE_FIELDS = ("date", "published", "publish_date", "pub_date", "published_at", "datePublished")


def _stable_id(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _first(obj: dict[str, object], names: tuple[str, ...]) -> tuple[str, object]:
    for name in names:
        value = obj.get(name)
        if value not in (None, ""):
            return name, value
    return "", None


def _article(obj: dict[str, object], where: str, body: str, path: Path) -> Article:
    title_field, title = _first(obj, TITLE_FIELDS)
    date_field, raw_date = _first(obj, DATE_FIELDS)
    url = clean_text(str(obj.get("url") or ""))
    published = parse_date(raw_date)
    unwrapped = unwrap(body, headless=True)  # a body field: no headline or date lines above it
    text = clean_text(unwrapped.text)
    clean_title = finish_title(clean_text(str(title or "")), text)
    warnings = []
    if published is None:
        why = f"unreadable {date_field} {str(raw_date)[:40]!r}" if date_field else "no date field"
        warnings.append(f"no publication date ({why}); indexed undated")
    if not clean_title:
        warnings.append("no title field")
    _, raw_id = _first(obj, ID_FIELDS)
    report = ParseReport(layout="jsonl", title_source=f"field {title_field}" if clean_title else "",
                         date_source=f"field {date_field}" if published else "", page_chars=len(body),
                         unwrapped_lines=unwrapped.joined, warnings=tuple(warnings))
    article_id = clean_text(str(raw_id or "")) or _stable_id(url or str(title or ""), body[:2000])
    # the source names the article, not its line: deleting one line must not change every later article
    return Article(id=article_id, title=clean_title, published=published,
                   source=url or f"{safe_str(path)}#{article_id}", text=text, url=url, report=report)


def iter_jsonl(path: Path, text: str, result: CorpusReadResult) -> Iterator[Article]:
    """One article a line: id (or doc_id), title (or headline), date (or published, publish_date,
    pub_date), text (or body, content), url. Bad lines are reported and skipped."""
    seen: set[str] = set()
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{safe_str(path)}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            result.problems.append(Problem(where, f"malformed JSON line ({err.msg}), skipped"))
            result.failed_origins.add(safe_str(path))
            continue
        if not isinstance(obj, dict):
            result.problems.append(Problem(where, "JSON line is not an object, skipped"))
            result.failed_origins.add(safe_str(path))
            continue
        _, body = _first(obj, TEXT_FIELDS)
        if not isinstance(body, str | None):
            result.problems.append(Problem(where, f"'{'/'.join(TEXT_FIELDS)}' is not a string, skipped"))
            result.failed_origins.add(safe_str(path))
            continue
        article = _article(obj, where, body or "", path)
        if article.id in seen:
            result.problems.append(Problem(where, f"duplicate id {article.id!r} in this file; the first one is kept"))
            continue
        seen.add(article.id)
        yield article
