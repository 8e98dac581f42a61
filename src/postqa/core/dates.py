"""Calendar words and month arithmetic: the one month table every layer uses."""

from __future__ import annotations

import calendar
from datetime import date

# month name or abbreviation (lower case) -> month number
MONTHS: dict[str, int] = {name.lower(): i for i, name in enumerate(calendar.month_name) if name} | {
    abbr.lower(): i for i, abbr in enumerate(calendar.month_abbr) if abbr} | {"sept": 9}

# a regular-expression alternation of every key of MONTHS, longest first ("september" before "sep")
MONTH_PATTERN = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"


def month_number(word: str) -> int | None:
    """1..12 for a month name or abbreviation ("Sept.", "may"); None for any other word."""
    return MONTHS.get(word.lower().rstrip("."))


def month_name(month: int) -> str:
    return calendar.month_name[month]


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), month_end(year, month)


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    """(year, month) ``delta`` months after (negative: before) the given month."""
    idx = year * 12 + (month - 1) + delta
    return idx // 12, idx % 12 + 1
