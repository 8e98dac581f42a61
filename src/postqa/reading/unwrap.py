"""Hard-wrapped text (a body cut into lines at a fixed width, as wire stories and plain-text mail are): found by
its line-length distribution and joined back into paragraphs; text that is not wrapped is returned unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_WRAP_WIDTH = 40  # narrower "wrapping" is a table, a list of short lines or verse, not a width
MAX_WRAP_WIDTH = 160  # wider lines are paragraphs a line, not cut at a width
MIN_INNER_LINES = 3  # lines followed by a possible continuation needed before a width can be judged
FULL_SHARE = 0.7  # at least this share of those lines must be full (the next word would not have fit) ...
SENTENCE_END_SHARE = 0.5  # ... and at most this share of them may end a sentence
WIDTH_QUANTILE = 0.9  # the wrap width: this quantile of the lengths of lines that have a next line
WIDTH_SLACK = 2  # a line this much short of the width still counts as cut by it (the width is an estimate)

_LIST_ITEM = re.compile(r"^\s*(?:[-*+•·–—]\s|\(?\d{1,3}[.)]\s|\(?[a-z]\)\s)")
_COLUMN_GAP = re.compile(r"\S(?: {3,}|\t)\S")  # aligned columns: a tab or 3+ spaces inside a line
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s|>|```|~~~|[-=*_]{3,}\s*$)")  # heading, quote, fence, rule
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_SENTENCE_END = re.compile(r"[.!?:;。！？][\"'”’)\]]*$")
_HYPHENATED = re.compile(r"[^\W\d_]-$")  # "well-" + "known": joined without a space, the hyphen kept


@dataclass(frozen=True)
class Unwrapped:
    """A body with its hard-wrapped paragraphs joined; ``joined`` line breaks removed (0: returned as it was)."""

    text: str
    joined: int = 0
    width: int = 0  # the wrap width found (0: the body is not hard-wrapped)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _table_row(line: str) -> bool:
    """A row of a table: a pipe row, or columns aligned with a tab or a run of spaces."""
    text = line.strip()
    return text.startswith("|") or ("\t" in text or "   " in text) and bool(_COLUMN_GAP.search(text))


def _verbatim(lines: list[str]) -> list[bool]:
    """Lines that are never joined: blank, markup (headings, quotes, rules), fenced code, table rows."""
    out: list[bool] = []
    fenced = False
    for line in lines:
        fence = bool(_FENCE.match(line))
        out.append(fenced or fence or not line.strip() or bool(_MARKUP.match(line)) or _table_row(line))
        fenced = fenced != fence
    return out


def _base_indent(lines: list[str], verbatim: list[bool]) -> int:
    """The indentation of continuation lines: the least a prose line has (a deeper one starts a paragraph)."""
    return min((_indent(line) for line, v in zip(lines, verbatim, strict=True) if not v), default=0)


@dataclass
class _Shape:
    lines: list[str]
    verbatim: list[bool]
    base: int
    item: list[int]  # the indentation of the list item a line belongs to (its marker line's), -1: none


def _continues_item(shape: _Shape, pos: int, item: int) -> bool:
    """Line ``pos`` goes on with the list item above it: indented under its marker, or lazily at the base."""
    indent = _indent(shape.lines[pos])
    return not shape.verbatim[pos] and (indent > item or indent == shape.base)


def _shape(lines: list[str]) -> _Shape:
    verbatim = _verbatim(lines)
    shape = _Shape(lines, verbatim, _base_indent(lines, verbatim), [])
    for pos, line in enumerate(lines):
        if not verbatim[pos] and _LIST_ITEM.match(line):
            shape.item.append(_indent(line))
        elif pos and shape.item[-1] >= 0 and _continues_item(shape, pos, shape.item[-1]):
            shape.item.append(shape.item[-1])
        else:
            shape.item.append(-1)
    return shape


def _may_continue(shape: _Shape, pos: int) -> bool:
    """Could line ``pos + 1`` continue the paragraph of line ``pos`` (by its shape alone, not its length)?"""
    if pos + 1 >= len(shape.lines) or shape.verbatim[pos] or shape.verbatim[pos + 1]:
        return False
    if _LIST_ITEM.match(shape.lines[pos + 1]):
        return False  # a new item
    if shape.item[pos] >= 0:
        return _continues_item(shape, pos + 1, shape.item[pos])
    return _indent(shape.lines[pos + 1]) <= shape.base  # deeper: an indented first line, a new paragraph


def _full(line: str, nxt: str, width: int) -> bool:
    """The break is the width's, not the author's: the next line's first word would not have fitted on this
    line, or this line stops mid-sentence and the next one goes on in lower case (not with a ``label:``)."""
    words = nxt.split()
    if not words:
        return False
    if len(line.rstrip()) + 1 + len(words[0]) > width - WIDTH_SLACK:
        return True
    first = words[0]
    return first[0].islower() and not first.endswith(":") and not _SENTENCE_END.search(line.rstrip())


def _wrap_width(shape: _Shape) -> int:
    """The width the body is wrapped at, or 0 when its lines do not end near one width (not hard-wrapped)."""
    inner = [pos for pos in range(len(shape.lines) - 1) if _may_continue(shape, pos)]
    if len(inner) < MIN_INNER_LINES:
        return 0
    lengths = sorted(len(shape.lines[pos].rstrip()) for pos in inner)
    width = lengths[min(len(lengths) - 1, int(WIDTH_QUANTILE * len(lengths)))]
    if not MIN_WRAP_WIDTH <= width <= MAX_WRAP_WIDTH:
        return 0
    full = [pos for pos in inner if _full(shape.lines[pos], shape.lines[pos + 1], width)]
    ends = sum(bool(_SENTENCE_END.search(shape.lines[pos].rstrip())) for pos in full)
    if len(full) < FULL_SHARE * len(inner) or ends > SENTENCE_END_SHARE * len(full):
        return 0
    return width


def _lead_goes_on(lines: list[str], pos: int) -> bool:
    """The body's first text line stops mid-sentence (a body with no headline in it, whose first line was
    shortened where a dateline was cut off): it goes on on the next line."""
    return not any(line.strip() for line in lines[:pos]) and not _SENTENCE_END.search(lines[pos].rstrip())


def _join(lines: list[str], shape: _Shape, width: int, headless: bool) -> tuple[list[str], int]:
    """Paragraphs of the wrapped body, one a line; an indented paragraph start gets a blank line before it."""
    out: list[str] = []
    joined = 0
    for pos, line in enumerate(lines):
        prev = pos - 1
        if out and prev >= 0 and _may_continue(shape, prev) and (
                _full(lines[prev], line, width) or headless and _lead_goes_on(lines, prev)):
            glue = "" if _HYPHENATED.search(out[-1]) else " "
            out[-1] = out[-1].rstrip() + glue + line.strip()
            joined += 1
            continue
        if out and out[-1].strip() and line.strip() and not shape.verbatim[pos] and shape.item[pos] < 0 \
                and _indent(line) > shape.base:
            out.append("")  # the indentation was the paragraph break: make it a blank line
        out.append(line.rstrip() if not shape.verbatim[pos] else line)
    return out, joined


def unwrap(text: str, headless: bool = False) -> Unwrapped:
    """``text`` with hard-wrapped paragraphs joined (lines cut at one width, most not ending a sentence), keeping
    blank lines, indented paragraph starts, list items, headings, quotes, fenced code and table rows as breaks.
    Text whose lines do not end near one width is returned exactly as it was. ``headless``: the text is a body
    alone (a JSON field), with no headline or date lines above it."""
    if "\n" not in text:
        return Unwrapped(text)
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    shape = _shape(lines)
    width = _wrap_width(shape)
    if not width:
        return Unwrapped(text)
    out, joined = _join(lines, shape, width, headless)
    if not joined:
        return Unwrapped(text)
    return Unwrapped("\n".join(out), joined=joined, width=width)
