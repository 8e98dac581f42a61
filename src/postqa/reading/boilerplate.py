"""Boilerplate learned from the corpus itself: lines (and, for one-line dumps, word sequences) that recur
across many pages of the same folder are navigation, menus, phone lists and footers, whatever they say."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from postqa.reading.text import is_prose, line_key

SHINGLE_WORDS = 6  # a recurring run of this many words is a candidate for boilerplate in a one-line dump
MIN_RUN_WORDS = 10  # a one-line dump is cut only at recurring runs at least this long
PROSE_PAGES = 4  # a sentence-like line on this many pages (itself and 3 others) is boilerplate
SHORT_PAGES = 2  # a short non-sentence line (menu item, label, footer) on two pages is boilerplate
_TOKEN = re.compile(r"\S+")


def _h(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def page_lines(text: str) -> set[int]:
    """The distinct line keys of a page (hashed), as counted across pages."""
    return {_h(k) for k in (line_key(line) for line in text.split("\n")) if k}


def page_shingles(text: str) -> set[int]:
    """The distinct word SHINGLE_WORDS-grams of a page (hashed, case folded)."""
    words = [w.casefold() for w in _TOKEN.findall(text)]
    return {_h(" ".join(words[i:i + SHINGLE_WORDS])) for i in range(max(0, len(words) - SHINGLE_WORDS + 1))}


@dataclass
class SiteProfile:
    """What recurs across the pages of one folder: how many distinct pages hold each line and shingle."""

    pages: int = 0
    lines: Counter[int] = field(default_factory=Counter)
    shingles: Counter[int] = field(default_factory=Counter)
    _seen: set[int] = field(default_factory=set)

    def learn(self, text: str, one_line: bool) -> None:
        """Count one page (an exact copy of a page already counted counts once)."""
        digest = _h(text)
        if digest in self._seen:
            return
        self._seen.add(digest)
        self.pages += 1
        if one_line:
            self.shingles.update(page_shingles(text))
        else:
            self.lines.update(page_lines(text))

    def is_boilerplate(self, line: str) -> bool:
        """A line that recurs on other pages of the site: on PROSE_PAGES pages if it reads as a sentence,
        on SHORT_PAGES pages if it is a short label, menu item or footer."""
        key = line_key(line)
        if not key:
            return False
        seen = self.lines.get(_h(key), 0)
        return seen >= (PROSE_PAGES if is_prose(line) else SHORT_PAGES)

    def recurring_runs(self, words: list[str]) -> list[tuple[int, int]]:
        """Word index ranges [start, end) covered by shingles that recur on other pages, merged, at least
        MIN_RUN_WORDS long: the menus, lists and widgets of a page saved as one line."""
        need = max(SHORT_PAGES, min(PROSE_PAGES, (self.pages + 1) // 2))
        if self.pages < SHORT_PAGES:
            return []
        folded = [w.casefold() for w in words]
        covered = [False] * len(words)
        for i in range(max(0, len(words) - SHINGLE_WORDS + 1)):
            if self.shingles.get(_h(" ".join(folded[i:i + SHINGLE_WORDS])), 0) >= need:
                for j in range(i, i + SHINGLE_WORDS):
                    covered[j] = True
        runs: list[tuple[int, int]] = []
        i = 0
        while i < len(words):
            if not covered[i]:
                i += 1
                continue
            j = i
            while j < len(words) and covered[j]:
                j += 1
            if j - i >= MIN_RUN_WORDS:
                runs.append((i, j))
            i = j
        return runs
