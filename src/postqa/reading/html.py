"""HTML pages through trafilatura (main text, title; htmldate for the date): navigation, asides, comments,
scripts and styles stay out."""

from __future__ import annotations

from postqa.reading.dates import parse_date
from postqa.reading.scraped import PageRead, is_one_line, read_text_page
from postqa.reading.text import clean_text, line_key

# Parts of a page that are never the story, pruned before extraction (trafilatura's own fallbacks for
# short pages would otherwise keep them).
PRUNE = ["//nav", "//aside", "//footer", "//header", "//form", "//noscript", "//template", "//iframe",
         "//*[@role='navigation']", "//*[@role='complementary']", "//*[contains(@class, 'comment')]",
         "//*[contains(@id, 'comment')]", "//*[contains(@class, 'share')]", "//*[contains(@class, 'related')]"]
_DATES = {"extensive_search": False, "original_date": True}


def _without_title(body: str, title: str) -> str:
    lines = body.split("\n")
    while lines and title and line_key(lines[0]) == line_key(title):
        lines.pop(0)
    return clean_text("\n".join(lines))


def read_html(html: str) -> PageRead:
    """An HTML article as a PageRead (layout "html"). A page that trafilatura finds no story in, or a
    scraped text page wrapped in markup, is read as text."""
    import trafilatura

    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False, include_tables=True,
                                      prune_xpath=PRUNE, date_extraction_params=_DATES)
    text = clean_text(getattr(doc, "text", "") or "") if doc is not None else ""
    if not text:
        fallback = clean_text(trafilatura.html2txt(html) or "")
        out = read_text_page(fallback)
        out.layout = "html-as-text"
        return out
    title = clean_text(getattr(doc, "title", "") or "").replace("\n", " ")
    published = parse_date(getattr(doc, "date", None))
    as_text = read_text_page(text)
    if not is_one_line(text) and as_text.published is not None and as_text.title_source == "repeated line":
        as_text.layout = "html-scraped"  # a scraped page saved with markup: its own date line wins
        as_text.title = as_text.title or title
        return as_text
    return PageRead(title=title, published=published, body=_without_title(text, title), layout="html",
                    title_source="html extractor" if title else "",
                    date_source="html metadata" if published else "", url=str(getattr(doc, "url", "") or ""))
