"""Time expressions in questions ("in May 2019", "last week", "latest") -> a TimeIntent: the period a question
is about. It ranks (a date preference, see ``preference``); it filters only when the question asks what was
published then ("news from May 2019", "published in 2020")."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from postqa.core.dates import MONTH_PATTERN, month_end, month_name, month_number, month_range, shift_month
from postqa.core.types import SearchFilter
from postqa.index.retrieve import DatePreference

_MON = MONTH_PATTERN + r"\.?"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_PART = r"(?:(?:early|mid|late)[- ])?"
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10, "twelve": 12, "a": 1, "an": 1}
_N = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
# One absolute point in time: a day, a month or a year (what "in", "before", "between" take).
_POINT = (rf"(?:{_YEAR}-\d{{2}}-\d{{2}}|{_DAY}\s+{_MON}(?:,?\s+{_YEAR})?(?![\w-])"
          rf"|{_MON}\s+{_DAY}(?:,?\s+{_YEAR})?(?![\d:])|{_PART}{_MON}(?:\s+(?:of\s+)?{_YEAR})?(?![\w-])"
          rf"|{_PART}{_YEAR})")
_WEEK = 7


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time: a date range, and/or "newest first"."""

    date_from: date | None
    date_to: date | None
    recency: bool  # "latest", "recently", "most recent": the newer the better
    label: str  # "May 2019", "before 2020", "last September (2019-09-01..2019-09-30)", "latest"
    span: tuple[int, int]  # where the expression is in the question
    relative: bool = False  # resolved against the reference date
    bounded: bool = False  # "before"/"after"/"until": an explicit bound, not a period the news is about
    newest: bool = False  # a superlative ("the latest meeting"): answer from the newest relevant article
    publication: bool = False  # asks what was published then ("news from 2013"): a filter, not a preference

    def range_text(self) -> str:
        lo, hi = self.date_from, self.date_to
        if lo and hi:
            return lo.isoformat() if lo == hi else f"{lo.isoformat()} to {hi.isoformat()}"
        if lo:
            return f"from {lo.isoformat()}"
        return f"up to {hi.isoformat()}" if hi else ""

    @property
    def has_range(self) -> bool:
        return bool(self.date_from or self.date_to)


@dataclass(frozen=True)
class _Found:
    lo: date | None
    hi: date | None
    label: str
    span: tuple[int, int]
    relative: bool = False
    bounded: bool = False


# --------------------------------------------------------------------------------- absolute points


@functools.lru_cache(maxsize=16)
def _date_parser(reference: date) -> Any:
    from dateparser.date import DateDataParser  # a heavy import: only when a question has a date

    return DateDataParser(languages=["en"], settings={
        "RELATIVE_BASE": datetime(reference.year, reference.month, reference.day),
        "PREFER_DATES_FROM": "past", "PREFER_DAY_OF_MONTH": "first"})


_YEAR_PARTS = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}
_MONTH_PARTS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}


def _with_part(part: str, lo: date, hi: date, period: str) -> tuple[date, date]:
    if period == "year":
        a, b = _YEAR_PARTS[part]
        return date(lo.year, a, 1), month_end(lo.year, b)
    a, b = _MONTH_PARTS[part]
    return date(lo.year, lo.month, a), min(hi, date(lo.year, lo.month, min(b, hi.day)))


def _point_label(text: str, lo: date, hi: date, period: str, relative: bool) -> str:
    if period == "day":
        if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
            return lo.isoformat()
        return f"{month_name(lo.month)} {lo.day} ({lo.isoformat()})" if relative else \
            f"{month_name(lo.month)} {lo.day}, {lo.year}"
    if period == "year":
        return text.replace("-", " ")
    label = f"{month_name(lo.month)}" + ("" if relative else f" {lo.year}")
    part = text.split()[0].split("-")[0].lower()
    label = f"{part} {label}" if part in _MONTH_PARTS else label
    return f"{label} ({lo.isoformat()}..{hi.isoformat()})" if relative else label


def point(text: str, reference: date) -> tuple[date, date, str, bool] | None:
    """(first day, last day, label, relative) of one absolute point ("17 May 2019", "Sept. 2020", "late
    2019", "September" = the most recent September at the reference date); None when it is none."""
    text = text.strip()
    m = re.match(r"(early|mid|late)[- ]", text, re.IGNORECASE)
    part, body = (m.group(1).lower(), text[m.end():]) if m else ("", text)
    if body.lower() == "may":
        return None  # the verb: "what may happen"
    data = _date_parser(reference).get_date_data(body.replace("-", " ") if not body[:1].isdigit() else body)
    if data is None or data.date_obj is None or data.period not in ("day", "month", "year"):
        return None
    d: date = data.date_obj.date()
    relative = not re.search(_YEAR, body)
    lo, hi = (d, d) if data.period == "day" else month_range(d.year, d.month)
    if data.period == "year":
        lo, hi = date(d.year, 1, 1), date(d.year, 12, 31)
    if part:
        lo, hi = _with_part(part, lo, hi, data.period)
    return lo, hi, _point_label(text, lo, hi, data.period, relative), relative


# --------------------------------------------------------------------------------- finders

_BETWEEN = re.compile(rf"\b(?:between|from)\s+({_POINT})\s+(?:and|to|until|till|-)\s+({_POINT})", re.I)
_BOUND = re.compile(rf"\b(before|prior to|earlier than|after|later than|since|until|till|up to|by|as of|from|"
                    rf"starting|no later than)\s+(?:the\s+end\s+of\s+)?({_POINT})", re.I)
_IN_POINT = re.compile(rf"\b(?:in|during|throughout|within|on|of|from)\s+(?:the\s+(?:month|year)\s+(?:of\s+)?)?"
                       rf"({_POINT})", re.I)
_BARE = re.compile(rf"({_POINT})", re.I)
_UNIT = re.compile(r"\b(this|current|last|past|previous|next|coming)\s+(year|month|week|quarter)\b", re.I)
_REL_MONTH = re.compile(rf"\b(last|past|previous|this|next)\s+({_MON})(?![\w-])", re.I)
_LAST_N = re.compile(rf"\b(?:in\s+)?(?:the\s+)?(?:last|past|previous)\s+{_N}\s+(day|week|month|year)s?\b", re.I)
_AGO = re.compile(rf"\b{_N}\s+(day|week|month|year)s?\s+ago\b", re.I)
_DAYWORD = re.compile(r"\b(the day before yesterday|yesterday|today|tonight)\b", re.I)
_RECENCY = re.compile(r"\b(?:latest|most\s+recent(?:ly)?|newest|recently|lately|up[- ]to[- ]date)\b"
                      rf"|\bthe\s+last\s+(?!(?:year|month|week|quarter|days?|weeks?|months?|years?|\d|"
                      rf"{'|'.join(NUMBER_WORDS)}|{_MON})\b)(?=[a-z])", re.I)
_SUPERLATIVE = re.compile(r"\b(?:latest|most\s+recent|newest|last)\b", re.I)
_PUBLICATION = re.compile(r"\b(?:published|news|articles?|stories|story|headlines|coverage|reported)\b"
                          r"(?:\s+\w+){0,3}\s*$", re.I)
_DELTA = {"this": 0, "current": 0, "last": -1, "past": -1, "previous": -1, "next": 1, "coming": 1}
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_BEFORE_OPS = ("before", "prior to", "earlier than")


def _between(q: str, ref: date) -> Iterator[_Found]:
    for m in _BETWEEN.finditer(q):
        a, b = point(m.group(1), ref), point(m.group(2), ref)
        if a and b:
            yield _Found(min(a[0], b[0]), max(a[1], b[1]), f"between {a[2]} and {b[2]}", m.span(),
                         a[3] or b[3], True)


def _bounds(q: str, ref: date) -> Iterator[_Found]:
    for m in _BOUND.finditer(q):
        op, p = m.group(1).lower(), point(m.group(2), ref)
        if p is None or (op == "from" and not re.match(r"\s+(?:on|onwards)\b", q[m.end():])):
            continue  # "news from May 2019" is about May 2019 (an "in" point); "from 2019 on" is a bound
        lo, hi, label, rel = p
        if op in _BEFORE_OPS:
            yield _Found(None, lo - timedelta(days=1), f"{op} {label}", m.span(), rel, True)
        elif op in ("after", "later than"):
            yield _Found(hi + timedelta(days=1), None, f"{op} {label}", m.span(), rel, True)
        elif op in ("since", "from", "starting"):
            yield _Found(lo, None, f"{op} {label}", m.span(), rel, True)
        else:  # until, till, up to, by, as of, no later than
            yield _Found(None, hi, f"{op} {label}", m.span(), rel, True)


def _unit_window(unit: str, delta: int, ref: date) -> tuple[date, date, str]:
    """This/last/next year, month, quarter or week (Monday to Sunday) around ``ref``."""
    if unit == "year":
        return date(ref.year + delta, 1, 1), date(ref.year + delta, 12, 31), str(ref.year + delta)
    if unit == "month":
        y, mo = shift_month(ref.year, ref.month, delta)
        return *month_range(y, mo), f"{month_name(mo)} {y}"
    if unit == "quarter":
        y, mo = shift_month(ref.year, (ref.month - 1) // 3 * 3 + 1, 3 * delta)
        lo, hi = date(y, mo, 1), month_end(*shift_month(y, mo, 2))
    else:
        lo = ref - timedelta(days=ref.weekday()) + timedelta(weeks=delta)
        hi = lo + timedelta(days=6)
    return lo, hi, f"{lo.isoformat()}..{hi.isoformat()}"


def _units(q: str, ref: date) -> Iterator[_Found]:
    for m in _UNIT.finditer(q):
        which, unit = m.group(1).lower(), m.group(2).lower()
        lo, hi, detail = _unit_window(unit, _DELTA[which], ref)
        yield _Found(lo, hi, f"{which} {unit} ({detail})", m.span(), True)


def _relative_months(q: str, ref: date) -> Iterator[_Found]:
    for m in _REL_MONTH.finditer(q):
        which, mo = m.group(1).lower(), month_number(m.group(2)) or 1
        if which == "this":
            y = ref.year
        elif which == "next":
            y = ref.year if mo > ref.month else ref.year + 1
        else:  # the last such month strictly before the reference's month
            y = ref.year if mo < ref.month else ref.year - 1
        lo, hi = month_range(y, mo)
        yield _Found(lo, hi, f"{which} {month_name(mo)} ({lo.isoformat()}..{hi.isoformat()})", m.span(), True)


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word.lower(), 1)


def _last_n(q: str, ref: date) -> Iterator[_Found]:
    for m in _LAST_N.finditer(q):
        n, unit = _count(m.group(1)), m.group(2).lower()
        lo = ref - timedelta(days=_UNIT_DAYS[unit] * n)
        yield _Found(lo, ref, f"the last {n} {unit}{'s' if n != 1 else ''} ({lo.isoformat()}..{ref.isoformat()})",
                     m.span(), True)


def _ago(q: str, ref: date) -> Iterator[_Found]:
    """"two years ago" is that whole year, "three months ago" that month, "a week ago" that week."""
    for m in _AGO.finditer(q):
        n, unit = _count(m.group(1)), m.group(2).lower()
        phrase = f"{n} {unit}{'s' if n != 1 else ''} ago"
        if unit in ("year", "month"):
            y, mo = shift_month(ref.year, ref.month, -n * (12 if unit == "year" else 1))
            lo, hi = (date(y, 1, 1), date(y, 12, 31)) if unit == "year" else month_range(y, mo)
            detail = str(y) if unit == "year" else f"{month_name(mo)} {y}"
        else:
            day = ref - timedelta(days=_UNIT_DAYS[unit] * n)
            lo = day if unit == "day" else day - timedelta(days=day.weekday())
            hi = day if unit == "day" else lo + timedelta(days=6)
            detail = f"{lo.isoformat()}..{hi.isoformat()}"
        yield _Found(lo, hi, f"{phrase} ({detail})", m.span(), True)


def _day_words(q: str, ref: date) -> Iterator[_Found]:
    back = {"today": 0, "tonight": 0, "yesterday": 1, "the day before yesterday": 2}
    for m in _DAYWORD.finditer(q):
        word = m.group(1).lower()
        d = ref - timedelta(days=back[word])
        yield _Found(d, d, f"{word} ({d.isoformat()})", m.span(), True)


def _in_points(q: str, ref: date) -> Iterator[_Found]:
    for m in _IN_POINT.finditer(q):
        p = point(m.group(1), ref)
        if p:
            yield _Found(p[0], p[1], p[2], m.span(1), p[3])


def _bare_points(q: str, ref: date) -> Iterator[_Found]:
    """A date anywhere ("May 2019 meetings"), but not a bare year or month: "the 2019 ... Project" names a
    project, "May" may be the verb."""
    for m in _BARE.finditer(q):
        text = m.group(1)
        if re.search(r"\d", text) and not re.fullmatch(rf"{_PART}{_YEAR}", text, re.I):
            p = point(text, ref)
            if p:
                yield _Found(p[0], p[1], p[2], m.span(1), p[3])


_FINDERS: tuple[Callable[[str, date], Iterator[_Found]], ...] = (
    _between, _bounds, _units, _relative_months, _last_n, _ago, _day_words, _in_points, _bare_points)


# --------------------------------------------------------------------------------- parsing


def _free(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return all(span[1] <= a or span[0] >= b for a, b in taken)


def _union(found: list[_Found]) -> tuple[date | None, date | None]:
    """The smallest range covering every expression; an open side stays open."""
    lows, highs = [f.lo for f in found], [f.hi for f in found]
    lo = None if None in lows else min(x for x in lows if x is not None)
    hi = None if None in highs else max(x for x in highs if x is not None)
    return lo, hi


def parse_time_expression(question: str, reference: date) -> TimeIntent | None:
    """The time the question is about, resolved against ``reference`` (the date it was asked, or the newest
    article's date). Several expressions are united ("in 2019 and 2020" -> 2019-01-01..2020-12-31);
    "latest", "recently" set ``recency``. None: no time expression."""
    taken: list[tuple[int, int]] = []
    found: list[_Found] = []
    for finder in _FINDERS:
        for f in finder(question, reference):
            if _free(f.span, taken):
                found.append(f)
                taken.append(f.span)
    recency = next((m for m in _RECENCY.finditer(question) if _free(m.span(), taken)), None)
    if recency is not None and not found:
        newest = bool(_SUPERLATIVE.match(recency.group(0)))
        return TimeIntent(None, None, True, "latest", recency.span(), newest=newest)
    if not found:
        return None
    found.sort(key=lambda f: f.span)
    lo, hi = _union(found)
    label = ("latest, " if recency is not None else "") + " and ".join(f.label for f in found)
    span = (found[0].span[0], max(f.span[1] for f in found))
    publication = bool(_PUBLICATION.search(question[:span[0]])) or bool(re.search(r"\bpublished\b", question, re.I))
    return TimeIntent(lo, hi, recency is not None, label, span, relative=any(f.relative for f in found),
                      bounded=all(f.bounded for f in found),
                      newest=recency is not None and bool(_SUPERLATIVE.match(recency.group(0))),
                      publication=publication)


# --------------------------------------------------------------------------------- preferences

REPORTING_LAG = timedelta(days=7)  # news about a period is published up to this long after it
RECENT = timedelta(days=30)  # "recently", "latest": the month before the reference date
BOUND_SCALE = timedelta(days=30)  # how fast articles fade beyond an explicit bound ("before 2020")


def _years_named(lo: date | None, hi: date | None) -> tuple[str, ...]:
    """The years a passage may name to count as being about the period ("2013" for "in 2013")."""
    if lo is None or hi is None or hi.year - lo.year > 2:
        return ()
    return tuple(str(y) for y in range(lo.year, hi.year + 1))


def preference(intent: TimeIntent, reference: date | None) -> DatePreference | None:
    """The ranking preference for ``intent``: articles of the period (and, for a period the news is about,
    of the months after it, or passages that name its year) first; others fade with their distance from it.
    Relative periods and "recently" resolve against ``reference``. None: nothing to prefer."""
    if intent.has_range:
        lo, hi = intent.date_from, intent.date_to
        if intent.bounded:
            return DatePreference(lo, hi, timedelta(0), BOUND_SCALE)
        length = (hi - lo) if lo and hi else timedelta(0)
        mentions = () if intent.relative else _years_named(lo, hi)
        return DatePreference(lo, hi, max(REPORTING_LAG, length / 2), max(timedelta(days=_WEEK), length / 4),
                              mentions)
    if intent.recency and reference is not None:
        return DatePreference(reference - RECENT, reference, timedelta(0), RECENT)
    return None


def asked_on_preference(as_of: date) -> DatePreference:
    """A question asked on ``as_of`` is about news up to that day: later articles fade (none is removed). An
    undated article is not known to be later, so it weighs as much as the dated ones up to that day (an
    uploaded page with no date must not lose to every dated article because the chat says when it asks)."""
    return DatePreference(None, as_of, timedelta(0), RECENT, undated=1.0)


def seen_from(prefer: DatePreference | None, as_of: date | None) -> DatePreference | None:
    """A preference as the asker on ``as_of`` means it: news published after that day is not what they ask
    about, so the window ends on it ("this week" asked on a Thursday: Monday to Thursday); a window wholly
    after it ("the merger planned for 2024" asked in 2022) keeps only its passages that name its years,
    beside the news up to that day. Nothing is removed: later articles fade as outside any window."""
    if prefer is None or as_of is None:
        return prefer
    lo, hi = prefer.window()
    if hi is not None and hi <= as_of:
        return prefer
    if lo is not None and lo > as_of:
        return replace(asked_on_preference(as_of), mentions=prefer.mentions)
    return replace(prefer, hi=as_of, grace=timedelta(0))


_GENERIC = re.compile(
    r"^\s*(?:so\s+|and\s+)?(?:what|any)(?:'s|\s+is|\s+was)?\s+"
    r"(?:happened|happening|news|new|going on|went on|"
    r"took place|the news|the latest|in the news)\b[^?]*$"
    r"|^\s*what\s+(?:did|has|have|does)\s+[\w\s’'-]{1,40}?\s+(?:do|done|announce|announced|report|reported|"
    r"hold|held|say|said)\s*(?:at\s+(?:the|its|their)\s+\w+\s+(?:meeting|event))?\s*$"
    r"|^\s*what\s+(?:happened|was\s+(?:discussed|announced|decided))\s+(?:at|in|during)\s+(?:(?:the|its)\s+)?"
    r"(?:\w+\s+)?(?:meeting|event|conference|teleconference)\s*$",
    re.IGNORECASE)


def without_expression(question: str, intent: TimeIntent) -> str:
    """The question with its time expression (and the preposition before it) removed."""
    a, b = intent.span
    head = re.sub(r"\s*\b(?:in|on|during|from|of|at|before|after|since|until|by|the)\s*$", "",
                  question[:a], flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", f"{head} {question[b:]}").replace(" ?", "?").strip()


def is_generic_news_question(question: str, intent: TimeIntent | None) -> bool:
    """'What happened in May 2019?', 'What did China Post do last year?', 'What happened at the latest
    meeting?': questions that ask what the news of a time was, best answered by an article's lede."""
    q = without_expression(question, intent) if intent is not None else question
    q = re.sub(r"\b(?:latest|most recent|newest|last|recent|recently)\s*", "", q, flags=re.IGNORECASE)
    return bool(_GENERIC.match(q.rstrip("?. ")))


def intent_filter(intent: TimeIntent, flt: SearchFilter | None) -> SearchFilter:
    """The publication-date filter for ``intent``, intersected with a user filter.

    A period the news is about ("in May 2019", "on 17 May") also admits articles published up to
    REPORTING_LAG after it ends; explicit bounds ("before 2020", "until May 2019") are taken literally.
    """
    lo, hi = intent.date_from, intent.date_to
    if hi is not None and not intent.bounded:
        hi = hi + REPORTING_LAG
    return (flt or SearchFilter()).narrowed(lo, hi)


def describe(intent: TimeIntent, reference: date | None, reference_source: str,
             applied: SearchFilter | None = None) -> str:
    """The note shown with the answer: which dates were used and against what reference."""
    parts = []
    if intent.has_range:
        label = intent.label
        rng = intent.range_text()
        text = label if "(" in label or not rng else f"{label} ({rng})"
        if applied is not None and applied.date_to and intent.date_to and applied.date_to > intent.date_to:
            text += f"; articles published up to {applied.date_to.isoformat()}"
        parts.append(f"Dates: {text}")
    else:
        parts.append(f"Dates: {intent.label} — newest articles first")
    if (intent.relative or intent.recency) and reference is not None:
        parts.append(f"relative to {reference.isoformat()} ({reference_source})")
    return ", ".join(parts)


__all__ = ["TimeIntent", "parse_time_expression", "intent_filter", "describe", "REPORTING_LAG", "RECENT",
           "is_generic_news_question", "without_expression", "preference", "asked_on_preference", "seen_from",
           "point"]
