"""Plain-text helpers every reader shares: whitespace cleaning, line keys, title and prose shapes."""

from __future__ import annotations

import re

from postqa.core.types import cap_title

MAX_TITLE_CHARS = 300

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ud800-\udfff]")  # + lone surrogates
_SPACES = re.compile(r"[ \t\u3000]+")
_SENTENCE_END = re.compile(r"[.!?。！？][\"'”’)\]]*$")
_WORD = re.compile(r"\w+")


def clean_text(text: str) -> str:
    """Normalise newlines and whitespace, drop control characters, keep paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    out = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def line_key(line: str) -> str:
    """What two lines must share to count as the same line on two pages: case and spacing folded."""
    return _SPACES.sub(" ", line).strip().casefold()


def word_count(text: str) -> int:
    return len(_WORD.findall(text))


def ends_sentence(text: str) -> bool:
    return bool(_SENTENCE_END.search(text.rstrip()))


def is_prose(line: str) -> bool:
    """A line that reads as running text (a sentence or more), not a menu item, label or footer."""
    return ends_sentence(line) and word_count(line) >= 6 or word_count(line) >= 25


def starts_like_text(line: str) -> bool:
    """Begins with a letter, digit, quote or bracket: not a bullet, separator or symbol."""
    first = line.lstrip()[:1]
    return bool(first) and (first.isalnum() or first in "\"'“‘([")


def title_like(line: str) -> bool:
    """Could be a headline: text-like start, a few words, not running text, not too long."""
    n = word_count(line)
    return starts_like_text(line) and 1 <= n <= 40 and len(line) <= MAX_TITLE_CHARS and not (
        ends_sentence(line) and line.rstrip().endswith(".") and n > 20)


def finish_title(title: str, body: str) -> str:
    """A one-line title capped at MAX_TITLE_CHARS; empty when it would just repeat the body."""
    title = cap_title(" ".join(title.split()), MAX_TITLE_CHARS)
    return "" if title and title == " ".join(body.split()) else title
