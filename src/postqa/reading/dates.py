"""Publication dates: date-shaped spans of a line found by shape, read by dateparser (ISO read directly)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

_YEAR = r"(?:1[89]|2[01])\d{2}"
_MONTH = r"[A-Za-z]{3,9}\.?"
# The shapes a publication date takes on news pages. The ISO form has no left boundary on purpose: a date
# glued to the headline ("...Post Office2016-03-30") is still a date.
_SHAPES = re.compile(
    rf"(?P<iso>{_YEAR}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01]))(?![\d])"
    rf"|(?P<cjk>{_YEAR}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日)"
    rf"|(?P<mdy>\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR})\b"
    rf"|(?P<dmy>\b\d{{1,2}}(?:st|nd|rd|th)?[\s-]+{_MONTH}[\s,-]+{_YEAR})\b"
)
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?\s*,?\s*$")
_SETTINGS = {"STRICT_PARSING": True, "REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past",
             "RETURN_AS_TIMEZONE_AWARE": False}


@dataclass(frozen=True)
class DateSpan:
    """A date found in a piece of text, with its offsets (a time of day right before it is included)."""

    value: date
    start: int
    end: int


@lru_cache(maxsize=4096)
def _parse_words(text: str) -> date | None:
    import dateparser

    try:
        found = dateparser.parse(text, languages=["en", "zh"], settings=_SETTINGS)  # type: ignore[arg-type]
    except (ValueError, OverflowError, TypeError):
        return None
    return found.date() if isinstance(found, datetime) else None


def _parse_iso(text: str) -> date | None:
    parts = re.split(r"[-/.]", text)
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (ValueError, IndexError):
        return None


def find_dates(text: str) -> list[DateSpan]:
    """Every publication-date-shaped span of ``text`` that a date library accepts, in order."""
    out: list[DateSpan] = []
    for m in _SHAPES.finditer(text):
        kind = m.lastgroup or ""
        raw = m.group(kind)
        value = _parse_iso(raw) if kind == "iso" else _parse_words(raw.replace(".", " "))
        if value is None:
            continue
        start = m.start(kind)
        clock = _TIME.search(text[:start])
        out.append(DateSpan(value, clock.start() if clock else start, m.end(kind)))
    return out


def parse_date(value: object) -> date | None:
    """A publication date from a field value (``2019-05-21``, ``May 17, 2019``, ``Wed, 18 Nov 2020 ...``);
    None when the value holds no full date (``2004-2005``, ``the day after tomorrow``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = find_dates(str(value).strip())
    return found[0].value if found else None
