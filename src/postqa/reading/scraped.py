"""Text pages saved from news sites (no markup): title, date and body found by the page's shape, with the
boilerplate its site repeats (learned across the folder's pages) removed. One page saved as one long line
is cut at the word sequences its site repeats."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from postqa.reading.boilerplate import SiteProfile
from postqa.reading.dates import DateSpan, find_dates
from postqa.reading.text import (
    clean_text,
    ends_sentence,
    is_prose,
    line_key,
    starts_like_text,
    title_like,
    word_count,
)
from postqa.reading.unwrap import unwrap

FOOTER_BLOCK = 3  # this many short non-sentence lines in a row, with no running text after them, end a story
HEAD_SCAN_LINES = 40  # title and date are looked for among the first lines only, never deep in the body
DATE_LINE_WORDS = 12  # a date line holds a date and at most this many other words (a source, a byline)
ONE_LINE_CHARS = 300  # a page of one line at least this long is a one-line dump
ONE_LINE_HEAD_WORDS = 80  # in a one-line dump the date is looked for among the story's first words
ONE_LINE_TITLE_WORDS = 24  # longer text before the date is menus run into the headline, not a headline
_TOKEN = re.compile(r"\S+")
_HEADER_FIELD = re.compile(r"^\w[\w .-]{0,24}:\s*\S")  # "Date: ...", "Source: ...": metadata under a title
_SENTENCE_CUT = re.compile(r"[.!?。！？][\"'”’)\]]*(?=\s|$)")
_TRAILING_GROUP = re.compile(r"\s*[(\[（][^()\[\]（）]{0,80}[)\]）]\s*$")
_BYLINE = re.compile(r"\s+By\s+\S.{0,60}$")
_BYLINE_LINE = re.compile(r"^By\s+\S.{0,80}$", re.IGNORECASE)
_SEPARATORS = " |-–—:·•,/"


@dataclass
class PageRead:
    """What a reader made of one page, before it becomes an Article."""

    title: str
    published: date | None
    body: str
    layout: str
    title_source: str = ""
    date_source: str = ""
    notes: list[str] = field(default_factory=list)
    url: str = ""
    unwrapped_lines: int = 0  # line breaks of a hard-wrapped page joined before it was read


@dataclass
class _Head:
    title: str = ""
    title_at: int = -1  # position (in the non-empty lines) of the title line
    title_source: str = ""
    published: date | None = None
    date_at: int = -1
    date_source: str = ""
    skip: int = 0  # lines of the head after the title line (its repeat)


def is_one_line(text: str) -> bool:
    """A page saved as one long line (menus, story and widgets run together)."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    return len(lines) == 1 and len(lines[0]) >= ONE_LINE_CHARS


def read_text_page(text: str, profile: SiteProfile | None = None) -> PageRead:
    """Title, date and clean body of a text page (hard-wrapped paragraphs joined first); ``profile`` holds what
    its site's pages repeat."""
    unwrapped = unwrap(text)
    text = clean_text(unwrapped.text)
    if is_one_line(text):
        return read_one_line(text.strip(), profile)
    page = read_lines(text.split("\n"), profile)
    page.unwrapped_lines = unwrapped.joined
    return page


# ------------------------------------------------------------------------------------- pages of lines


def _date_line(line: str) -> DateSpan | None:
    """The date of a line that is mostly a date (with a source, byline or separators), else None."""
    found = find_dates(line)
    if not found:
        return None
    span = found[0]
    rest = line[:span.start] + " " + line[span.end:]
    return span if word_count(rest) <= DATE_LINE_WORDS else None


def _glued_date(title: str, line: str) -> DateSpan | None:
    """The date of ``line`` when it is ``title`` with a date glued on (``Title2016-03-30``)."""
    if not line_key(line).startswith(line_key(title)) or len(line) <= len(title):
        return None
    tail = line[len(title):]
    found = find_dates(tail)
    if found and not tail[:found[0].start].strip(_SEPARATORS) and not tail[found[0].end:].strip(_SEPARATORS):
        return DateSpan(found[0].value, len(title) + found[0].start, len(title) + found[0].end)
    return None


def _head_limit(lines: list[str]) -> int:
    """How many leading lines may hold the title and date: up to just past the story's first paragraph."""
    for pos, line in enumerate(lines[:HEAD_SCAN_LINES]):
        if is_prose(line) and word_count(line) >= 12 and _date_line(line) is None:
            return min(len(lines), pos + 3)
    return min(len(lines), HEAD_SCAN_LINES)


def _repeated_title(lines: list[str], limit: int) -> _Head | None:
    """The headline the page repeats on the next line, or repeats with the date glued to it."""
    for pos in range(min(limit, len(lines) - 1)):
        a, b = lines[pos], lines[pos + 1]
        if not title_like(a) or _date_line(a) is not None:
            continue
        if line_key(a) == line_key(b):
            return _Head(title=a, title_at=pos, title_source="repeated line", skip=1)
        glued = _glued_date(a, b)
        if glued is not None:
            return _Head(title=a, title_at=pos, title_source="repeated line", skip=1, published=glued.value,
                         date_at=pos + 1, date_source="glued to the repeated title")
    return None


def is_byline(line: str) -> bool:
    """"By A. Writer (Source)" or a source in brackets alone: who wrote it, not what it is called."""
    return bool(_BYLINE_LINE.match(line)) or not _TRAILING_GROUP.sub("", line).strip(_SEPARATORS)


def _headline(line: str) -> bool:
    """A line that can be a headline: title-like, three words or more, not mostly figures (a phone list),
    not a byline."""
    digits = sum(ch.isdigit() for ch in line)
    return title_like(line) and word_count(line) >= 3 and not line.rstrip().endswith(".") and \
        digits < 0.3 * max(1, len(line.replace(" ", ""))) and not is_byline(line)


def _title_above_date(lines: list[str], bp: list[bool], limit: int) -> _Head | None:
    """The date line with a headline just above it (or glued in front of it); when none has one, the date
    line nearest the story's start (a date in the site's header bar is not the article's)."""
    dated: list[tuple[int, DateSpan]] = []
    for pos in range(limit):
        span = _date_line(lines[pos])
        if span is None:
            continue
        dated.append((pos, span))
        head = _Head(published=span.value, date_at=pos, date_source="date line")
        for above in range(pos - 1, max(-1, pos - 4), -1):
            shaped = _headline(lines[above]) or (above == pos - 1 and title_like(lines[above])
                                                 and not is_byline(lines[above])
                                                 and any(ch.isalpha() for ch in lines[above]))
            if not bp[above] and shaped and _date_line(lines[above]) is None:
                head.title, head.title_at, head.title_source = lines[above], above, "line before the date"
                return head
        front = lines[pos][:span.start].strip(_SEPARATORS)
        if _headline(front) and span.start > 0 and not lines[pos][span.start - 1].isspace():
            head.title, head.title_at, head.title_source = front, pos, "line the date is glued to"
            head.date_source = "glued to the title"
            return head
    if not dated:
        return None
    pos, span = dated[-1]
    return _Head(published=span.value, date_at=pos, date_source="date line")


def _first_title(lines: list[str], bp: list[bool], limit: int) -> int:
    """Where the headline of a page without a date line is: the first headline-shaped line, else the
    title-like line just above the story, else the first title-like line; -1 if there is none."""
    usable = [p for p in range(limit) if not bp[p] and title_like(lines[p]) and _date_line(lines[p]) is None]
    story = next((p for p in range(limit) if is_prose(lines[p])), limit)
    headlines = [p for p in usable if _headline(lines[p]) and p < story]
    if headlines:
        return headlines[0]
    above = [p for p in usable if p < story]
    return above[-1] if above else (usable[0] if usable else -1)


def _find_head(lines: list[str], bp: list[bool]) -> _Head:
    limit = _head_limit(lines)
    head = _repeated_title(lines, limit) or _title_above_date(lines, bp, limit)
    if head is None or head.title_at < 0:
        first = _first_title(lines, bp, limit)
        found = head or _Head()
        if first >= 0 and (found.date_at < 0 or first < found.date_at + 3):
            found.title, found.title_at, found.title_source = lines[first], first, "first title-like line"
        head = found
    if head.published is None and head.title_at >= 0:
        _date_near_title(lines, head)
    return head


def _date_near_title(lines: list[str], head: _Head) -> None:
    """A date line within a few lines of the title (after it first, then before it)."""
    after = range(head.title_at + head.skip + 1, min(len(lines), head.title_at + head.skip + 5))
    before = range(head.title_at - 1, max(-1, head.title_at - 3), -1)
    for pos in [*after, *before]:
        span = _date_line(lines[pos])
        if span is not None:
            head.published, head.date_at, head.date_source = span.value, pos, "date line"
            return


def _is_widget(line: str) -> bool:
    """A short line that is not a sentence: a label, a menu or list item, a credit, a footer line."""
    return not ends_sentence(line) and word_count(line) <= 15


def _cut_at_footer(body: list[str]) -> None:
    """End the story where the page's furniture starts: FOOTER_BLOCK short non-sentence lines in a row
    after the story has begun, with no paragraph of running text after them (related lists, widgets and
    copyright lines follow a story; a list inside a story is followed by more of it)."""
    run = 0
    for pos, line in enumerate(body):
        run = run + 1 if _is_widget(line) else 0
        if run == FOOTER_BLOCK and any(ends_sentence(x) for x in body[:pos - run + 1]) and \
                not any(is_prose(x) and word_count(x) >= 20 for x in body[pos + 1:]):
            del body[pos - run + 1:]
            return


def _trim_head(body: list[str]) -> None:
    """Drop widget labels (a few words, no figures, not a sentence) before the story's first line."""
    while len(body) > 1 and word_count(body[0]) <= 3 and not ends_sentence(body[0]) and \
            not any(ch.isdigit() for ch in body[0]) and is_prose(body[1]):
        body.pop(0)


def _trim_edges(body: list[str]) -> int:
    """Cut the story at the page furniture after it, drop widget labels before it, then the short lines
    that are not sentences at its end (footers, credits, widgets); returns how many end lines went."""
    _cut_at_footer(body)
    _trim_head(body)
    dropped = 0
    while len(body) > 1 and not ends_sentence(body[-1]) and word_count(body[-1]) <= 15 and \
            any(ends_sentence(line) for line in body[:-1]):
        body.pop()
        dropped += 1
    return dropped


def read_lines(raw_lines: list[str], profile: SiteProfile | None) -> PageRead:
    """A page of lines: the head (title, date) found by shape, boilerplate lines dropped, footer trimmed."""
    lines = [ln.strip() for ln in raw_lines if ln.strip()]
    bp = [profile.is_boilerplate(ln) if profile is not None else False for ln in lines]
    head = _find_head(lines, bp)
    start = max(head.title_at + head.skip, head.date_at) + 1
    while start < len(lines) and _HEADER_FIELD.match(lines[start]) and word_count(lines[start]) <= 8 \
            and not ends_sentence(lines[start]):
        start += 1  # "Source: ..." / "Date: not given" fields under the headline
    body = [ln for pos, ln in enumerate(lines) if pos >= start and not bp[pos]]
    _trim_edges(body)
    if not body and head.title_at >= 0 and head.title_source == "first title-like line":
        body, head.title, head.title_source = [head.title], "", ""  # a page of one short line is all body
    notes: list[str] = []
    if (profile is None or profile.pages < 2) and head.title_at > 0:
        notes.append("no other page of this folder to learn boilerplate from")
    return PageRead(title=head.title, published=head.published, body=clean_text("\n\n".join(body)),
                    layout="text-lines", title_source=head.title_source, date_source=head.date_source,
                    notes=notes)


# --------------------------------------------------------------------------------------- one-line dumps


def _story_region(words: list[str], profile: SiteProfile | None) -> tuple[int, int, bool]:
    """The longest stretch of words between the runs the site repeats (menus, lists, widgets)."""
    runs = profile.recurring_runs(words) if profile is not None else []
    best, edge = (0, len(words)), 0
    if runs:
        gaps = []
        for start, end in runs:
            gaps.append((edge, start))
            edge = end
        gaps.append((edge, len(words)))
        best = max(gaps, key=lambda g: g[1] - g[0])
    return best[0], best[1], bool(runs)


def _clean_title(text: str) -> str:
    """Text before a date with the byline and source in brackets taken off its end."""
    prev = None
    while prev != text:
        prev = text
        text = _TRAILING_GROUP.sub("", text).strip(_SEPARATORS)
        text = _BYLINE.sub("", text).strip(_SEPARATORS)
    return text


def _after_byline(region: str, dates: list[DateSpan], span: DateSpan) -> bool:
    """Whether the text between the previous date and this one ends in a byline or a source in brackets."""
    start = max((d.end for d in dates if d.end <= span.start), default=0)
    segment = region[start:span.start].rstrip(_SEPARATORS)
    return _clean_title(segment) != segment.strip(_SEPARATORS)


def _repeated_suffix(before: str, page: str) -> str:
    """The longest ending of ``before`` (3-30 words) that the page says twice: its repeated headline."""
    words = before.split()
    for n in range(min(30, len(words)), 2, -1):
        cand = " ".join(words[-n:])
        if page.count(cand) >= 2 and starts_like_text(cand):
            return cand
    return ""


def read_one_line(line: str, profile: SiteProfile | None) -> PageRead:
    """A page saved as one line: the story is the longest stretch between the site's repeated runs; its
    title is the text before the date near its start; its end is its last full sentence."""
    spans = [(m.start(), m.end()) for m in _TOKEN.finditer(line)]
    first, last, learned = _story_region([line[s:e] for s, e in spans], profile)
    region = line[spans[first][0]:spans[last - 1][1]] if last > first else ""
    head_words = ONE_LINE_HEAD_WORDS if learned else max(ONE_LINE_HEAD_WORDS, (last - first) // 3)
    head_end = spans[min(last, first + head_words) - 1][1] - spans[first][0] if last > first else 0
    found = [d for d in find_dates(region) if d.start < head_end]
    found.sort(key=lambda d: not _after_byline(region, found, d))  # a date after a byline or source first
    out = PageRead(title="", published=None, body=region, layout="text-one-line")
    if profile is None or profile.pages < 2:
        out.notes.append("no other page of this folder to learn boilerplate from")
    if found:
        date_span = found[0]
        out.published, out.date_source = date_span.value, "date after the title"
        previous = max((d.end for d in found if d.end <= date_span.start), default=0)
        before = _clean_title(region[previous:date_span.start])
        out.body = region[date_span.end:].strip(_SEPARATORS)
        if before and title_like(before) and word_count(before) <= ONE_LINE_TITLE_WORDS:
            out.title, out.title_source = before, "text before the date"
        else:
            out.title = _clean_title(_repeated_suffix(before, line))
            out.title_source = "repeated text" if out.title else ""
    cuts = list(_SENTENCE_CUT.finditer(out.body))
    if cuts and cuts[-1].end() >= len(out.body) // 2:
        out.body = out.body[:cuts[-1].end()]
    out.body = clean_text(out.body)
    return out
