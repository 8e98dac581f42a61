"""The parse report: how a file was read and what the reader is unsure of (warnings a user can act on)."""

from __future__ import annotations

from postqa.core.types import ParseReport
from postqa.reading.scraped import PageRead
from postqa.reading.text import word_count

SHORT_BODY_WORDS = 20
MOSTLY_REMOVED = 0.8  # warn when more than this share of the page was removed


def build_report(page: PageRead, page_chars: int) -> ParseReport:
    """The ParseReport of a page read into ``page`` (title, date and body final)."""
    warnings = list(page.notes)
    if page.published is None:
        warnings.append("no publication date found near the title; indexed undated")
    if page.title_source == "file name":
        warnings.append("no title found in the page; title taken from the file name")
    words = word_count(page.body)
    if 0 < words < SHORT_BODY_WORDS:
        warnings.append(f"body is very short ({words} words)")
    removed = max(0, page_chars - len(page.body) - len(page.title))
    if page_chars and removed / page_chars > MOSTLY_REMOVED:
        warnings.append(f"most of the page was removed as boilerplate ({removed / page_chars:.0%} of "
                        f"{page_chars:,} characters)")
    return ParseReport(layout=page.layout, title_source=page.title_source, date_source=page.date_source,
                       boilerplate_chars=removed, page_chars=page_chars, unwrapped_lines=page.unwrapped_lines,
                       warnings=tuple(warnings))
