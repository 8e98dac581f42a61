"""Markdown articles: front matter (title, date) or the first heading as title; markup removed."""

from __future__ import annotations

import re

from postqa.reading.dates import parse_date
from postqa.reading.scraped import PageRead
from postqa.reading.text import clean_text
from postqa.reading.unwrap import unwrap

_MD_FRONT = re.compile(r"^---\n(.*?)\n---\n", re.S)


def _front_matter(text: str, out: PageRead) -> str:
    front = _MD_FRONT.match(text)
    if not front:
        return text
    for line in front[1].split("\n"):
        key, _, value = line.partition(":")
        value = value.strip().strip("'\"")
        key = key.strip().lower()
        if key in ("title", "headline") and value:
            out.title, out.title_source = value, "front matter"
        elif key in ("date", "published", "publish_date", "pub_date") and out.published is None:
            out.published = parse_date(value)
            out.date_source = "front matter" if out.published else ""
    return text[front.end():]


def _strip_markup(line: str) -> str:
    line = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", line)  # images
    line = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", line)  # links
    line = re.sub(r"(\*\*|__|\*|_|`)(\S.*?\S|\S)\1", r"\2", line)  # emphasis, code
    line = re.sub(r"^\s*>\s?", "", line)
    line = re.sub(r"^\s*[-*+]\s+", "", line)
    return re.sub(r"<[^>]+>", "", line)


def read_markdown(text: str) -> PageRead:
    """A Markdown article as a PageRead (layout "markdown")."""
    out = PageRead(title="", published=None, body="", layout="markdown")
    text = _front_matter(text.replace("\r\n", "\n").lstrip("\ufeff"), out)
    unwrapped = unwrap(text)  # hard-wrapped paragraphs joined (code, lists, tables and headings stay as they are)
    text, out.unwrapped_lines = unwrapped.text, unwrapped.joined
    body: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip().startswith("```"):
            in_code = not in_code
            continue
        heading = re.match(r"^#{1,6}\s+(.*)$", line)
        if heading and not in_code:
            if not out.title:
                out.title, out.title_source = heading[1].strip(), "first heading"
                continue
            line = heading[1]
        body.append(line if in_code else _strip_markup(line))
    out.body = clean_text("\n".join(body))
    return out
