"""Time expressions in questions ("in May 2019", "last year", "before 2020", "latest") -> a date range."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from postqa.core.types import SearchFilter

MONTHS = {name: i for i, name in enumerate(calendar.month_name) if name} | {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10,
    "nov": 11, "dec": 12,
}
MONTHS = {k.lower(): v for k, v in MONTHS.items()}
_MON = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|" \
       r"jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_NUMS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
         "ten": 10, "twelve": 12, "a": 1, "an": 1}

# One absolute point in time: a day, a month or a year (what "before"/"since"/"between" take).
_POINT = (rf"(?:(?P<iso>{_YEAR}-\d{{2}}-\d{{2}})"
          rf"|(?P<d1>{_DAY})\s+(?P<m1>{_MON})(?:,?\s+(?P<y1>{_YEAR}))?"
          rf"|(?P<m2>{_MON})\s+(?P<d2>{_DAY})(?:,?\s+(?P<y2>{_YEAR}))?(?![\d:])"
          rf"|(?:(?P<part>early|mid|late)[- ])?(?P<m3>{_MON})(?:\s+(?:of\s+)?(?P<y3>{_YEAR}))?"
          rf"|(?:(?P<part4>early|mid|late)[- ])?(?P<y4>{_YEAR}))")


@dataclass(frozen=True)
class TimeIntent:
    """What a question says about time: a publication-date range, and/or "newest first"."""

    date_from: date | None
    date_to: date | None
    recency: bool
    label: str  # "May 2019", "before 2020", "last September (2019-09-01..2019-09-30)", "latest"
    span: tuple[int, int]  # where the expression is in the question
    relative: bool = False  # resolved against the reference date
    bounded: bool = False  # "before"/"after"/"until": an explicit bound, not a period the news is about

    def range_text(self) -> str:
        if self.date_from and self.date_to:
            if self.date_from == self.date_to:
                return self.date_from.isoformat()
            return f"{self.date_from.isoformat()} to {self.date_to.isoformat()}"
        if self.date_from:
            return f"from {self.date_from.isoformat()}"
        if self.date_to:
            return f"up to {self.date_to.isoformat()}"
        return ""

    @property
    def has_range(self) -> bool:
        return bool(self.date_from or self.date_to)


# --------------------------------------------------------------------------------------------- helpers

def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _month_range(y: int, m: int) -> tuple[date, date]:
    return date(y, m, 1), _month_end(y, m)


def _shift_month(y: int, m: int, delta: int) -> tuple[int, int]:
    idx = y * 12 + (m - 1) + delta
    return idx // 12, idx % 12 + 1


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _recent_month_year(month: int, reference: date, strictly_before: bool) -> int:
    """The year of the most recent ``month`` at (or strictly before) the reference's month."""
    if month < reference.month or (month == reference.month and not strictly_before):
        return reference.year
    return reference.year - 1


_PARTS = {"early": (1, 4), "mid": (5, 8), "late": (9, 12)}
_MONTH_PARTS = {"early": (1, 10), "mid": (11, 20), "late": (21, 31)}


def _point(m: re.Match[str], reference: date) -> tuple[date, date, str, bool] | None:
    """(first day, last day, label, relative) of one matched _POINT."""
    g = m.groupdict()
    if g.get("iso"):
        y, mo, d = (int(x) for x in g["iso"].split("-"))
        day = _safe_date(y, mo, d)
        return (day, day, day.isoformat(), False) if day else None
    for dk, mk, yk in (("d1", "m1", "y1"), ("d2", "m2", "y2")):
        if g.get(mk) and g.get(dk):
            mo = MONTHS[g[mk].lower().rstrip(".")]
            d = int(re.match(r"\d+", g[dk]).group(0))  # type: ignore[union-attr]
            relative = not g.get(yk)
            y = int(g[yk]) if g.get(yk) else _recent_month_year(mo, reference, False)
            if relative and mo == reference.month and d > reference.day:
                y -= 1
            day = _safe_date(y, mo, d)
            if day is None:
                return None
            return day, day, f"{calendar.month_name[mo]} {d}, {y}" if not relative else \
                f"{calendar.month_name[mo]} {d} ({day.isoformat()})", relative
    if g.get("m3"):
        if g["m3"] == "may" and not g.get("y3"):
            return None  # the verb: "what may happen"
        mo = MONTHS[g["m3"].lower().rstrip(".")]
        relative = not g.get("y3")
        y = int(g["y3"]) if g.get("y3") else _recent_month_year(mo, reference, False)
        lo, hi = _month_range(y, mo)
        label = f"{calendar.month_name[mo]} {y}"
        if g.get("part"):
            a, b = _MONTH_PARTS[g["part"]]
            lo, hi = date(y, mo, a), min(hi, date(y, mo, min(b, hi.day)))
            label = f"{g['part']} {label}"
        if relative:
            label = f"{label.replace(f' {y}', '')} ({lo.isoformat()}..{hi.isoformat()})"
        return lo, hi, label, relative
    if g.get("y4"):
        y = int(g["y4"])
        if g.get("part4"):
            a, b = _PARTS[g["part4"]]
            return date(y, a, 1), _month_end(y, b), f"{g['part4']} {y}", False
        return date(y, 1, 1), date(y, 12, 31), str(y), False
    return None


# --------------------------------------------------------------------------------------------- patterns

_BETWEEN = re.compile(rf"\b(?:between|from)\s+(?P<a>{_POINT.replace('?P<', '?P<a_')})"
                      rf"\s+(?:and|to|until|till|-)\s+(?P<b>{_POINT.replace('?P<', '?P<b_')})", re.IGNORECASE)
_BOUND = re.compile(rf"\b(?P<op>before|prior to|earlier than|after|later than|since|until|till|up to|by|"
                    rf"as of|from|starting|no later than)\s+(?:the\s+end\s+of\s+)?(?P<p>{_POINT})",
                    re.IGNORECASE)
_IN_POINT = re.compile(rf"\b(?:in|during|throughout|within|on|of|from)\s+"
                       rf"(?:the\s+(?:month|year)\s+(?:of\s+)?)?(?P<p>{_POINT})", re.IGNORECASE)
# "May 2019", "17 May 2019", "May 17, 2019", "2019-05-17" anywhere (a bare year only after a preposition)
_BARE = re.compile(rf"(?P<p>{_POINT})", re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(?P<which>this|last|past|previous|next|coming|current)\s+(?P<unit>year|month|week|quarter)\b"
    r"|\b(?P<which2>last|past|previous|this|next)\s+(?P<mon>" + _MON + r")(?![\w-])"
    r"|\b(?:in\s+)?(?:the\s+)?(?:last|past|previous)\s+(?P<n>\d+|" + "|".join(_NUMS) + r")\s+"
    r"(?P<nunit>days?|weeks?|months?|years?)\b"
    r"|\b(?P<day>yesterday|today|tonight|the day before yesterday)\b"
    r"|\b(?P<ago>\d+|" + "|".join(_NUMS) + r")\s+(?P<agounit>days?|weeks?|months?|years?)\s+ago\b",
    re.IGNORECASE)
_RECENCY = re.compile(
    r"\b(?:latest|most\s+recent(?:ly)?|newest|recently|lately|last\s+time|up[- ]to[- ]date)\b"
    r"|\bthe\s+last\s+(?!(?:year|month|week|quarter|day|days|weeks|months|years|\d|"
    + "|".join(_NUMS) + "|" + _MON + r")\b)(?=[a-z])",
    re.IGNORECASE)


def _resolve_relative(m: re.Match[str], reference: date) -> tuple[date, date, str] | None:
    g = m.groupdict()
    ref = reference
    if g.get("unit"):
        which = g["which"].lower()
        delta = {"this": 0, "current": 0, "last": -1, "past": -1, "previous": -1, "next": 1,
                 "coming": 1}[which]
        unit = g["unit"].lower()
        phrase = f"{which} {unit}"
        if unit == "year":
            y = ref.year + delta
            return date(y, 1, 1), date(y, 12, 31), f"{phrase} ({y})"
        if unit == "month":
            y, mo = _shift_month(ref.year, ref.month, delta)
            lo, hi = _month_range(y, mo)
            return lo, hi, f"{phrase} ({calendar.month_name[mo]} {y})"
        if unit == "quarter":
            q0 = (ref.month - 1) // 3
            y, mo = _shift_month(ref.year, q0 * 3 + 1, 3 * delta)
            lo = date(y, mo, 1)
            hi = _month_end(*_shift_month(y, mo, 2))
            return lo, hi, f"{phrase} ({lo.isoformat()}..{hi.isoformat()})"
        monday = ref - timedelta(days=ref.weekday()) + timedelta(weeks=delta)
        lo, hi = monday, monday + timedelta(days=6)
        return lo, hi, f"{phrase} ({lo.isoformat()}..{hi.isoformat()})"
    if g.get("mon"):
        which = g["which2"].lower()
        mo = MONTHS[g["mon"].lower().rstrip(".")]
        if which == "this":
            y = ref.year
        elif which == "next":
            y = ref.year if mo > ref.month else ref.year + 1
        else:
            y = _recent_month_year(mo, ref, strictly_before=True)
        lo, hi = _month_range(y, mo)
        return lo, hi, f"{which} {calendar.month_name[mo]} ({lo.isoformat()}..{hi.isoformat()})"
    if g.get("n") or g.get("ago"):
        raw = (g.get("n") or g.get("ago") or "").lower()
        n = int(raw) if raw.isdigit() else _NUMS.get(raw, 1)
        unit = (g.get("nunit") or g.get("agounit") or "").lower().rstrip("s")
        days = {"day": 1, "week": 7, "month": 30, "year": 365}[unit] * n
        if g.get("n"):
            lo, hi = ref - timedelta(days=days), ref
            return lo, hi, f"the last {n} {unit}{'s' if n != 1 else ''} ({lo.isoformat()}..{hi.isoformat()})"
        if unit in ("year", "month"):  # "two years ago" is that whole year/month
            if unit == "year":
                y = ref.year - n
                return date(y, 1, 1), date(y, 12, 31), f"{n} year{'s' if n != 1 else ''} ago ({y})"
            y, mo = _shift_month(ref.year, ref.month, -n)
            lo, hi = _month_range(y, mo)
            return lo, hi, f"{n} month{'s' if n != 1 else ''} ago ({calendar.month_name[mo]} {y})"
        day = ref - timedelta(days=days)
        lo, hi = (day, day) if unit == "day" else (day - timedelta(days=day.weekday()),
                                                    day - timedelta(days=day.weekday()) + timedelta(days=6))
        return lo, hi, f"{raw} {unit}{'s' if n != 1 else ''} ago ({lo.isoformat()}..{hi.isoformat()})"
    if g.get("day"):
        word = g["day"].lower()
        back = {"today": 0, "tonight": 0, "yesterday": 1, "the day before yesterday": 2}[word]
        d = ref - timedelta(days=back)
        return d, d, f"{word} ({d.isoformat()})"
    return None


# --------------------------------------------------------------------------------------------- parsing

def parse_time_expression(question: str, reference: date) -> TimeIntent | None:
    """The time the question is about, resolved against ``reference`` (e.g. the newest article's date).

    Several expressions are united into one range ("in 2019 and 2020" -> 2019-01-01..2020-12-31);
    "latest"/"most recent" set ``recency``. A bare year counts only after a preposition ("in 2019"),
    so that "the 2019 Automobile ... Project" names a project, not a date. None: no time expression.
    """
    q = question
    taken: list[tuple[int, int]] = []
    found: list[tuple[date | None, date | None, str, tuple[int, int], bool, bool]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    for m in _BETWEEN.finditer(q):
        a = _point(_sub(m, "a_"), reference)
        b = _point(_sub(m, "b_"), reference)
        if a and b and free(*m.span()):
            lo, hi = min(a[0], b[0]), max(a[1], b[1])
            found.append((lo, hi, f"between {a[2]} and {b[2]}", m.span(), a[3] or b[3], True))
            taken.append(m.span())
    for m in _BOUND.finditer(q):
        if not free(*m.span()):
            continue
        op = m.group("op").lower()
        p = _point(_sub(m, ""), reference)
        if p is None:
            continue
        lo, hi, label, rel = p
        if op == "from" and not re.match(r"\s+(?:on|onwards)\b", q[m.end():]):
            continue  # "news from May 2019" is about May 2019 (handled below); "from 2019 on" is a bound
        if op in ("before", "prior to", "earlier than"):
            rng: tuple[date | None, date | None] = (None, lo - timedelta(days=1))
        elif op in ("after", "later than"):
            rng = (hi + timedelta(days=1), None)
        elif op in ("since", "from", "starting"):
            rng = (lo, None)
        else:  # until, till, up to, by, as of, no later than
            rng = (None, hi)
        found.append((rng[0], rng[1], f"{op} {label}", m.span(), rel, True))
        taken.append(m.span())
    for m in _RELATIVE.finditer(q):
        if not free(*m.span()):
            continue
        r = _resolve_relative(m, reference)
        if r:
            found.append((r[0], r[1], r[2], m.span(), True, False))
            taken.append(m.span())
    for m in _IN_POINT.finditer(q):
        if not free(*m.span("p")):
            continue
        p = _point(_sub(m, ""), reference)
        if p:
            found.append((p[0], p[1], p[2], m.span("p"), p[3], False))
            taken.append(m.span("p"))
    for m in _BARE.finditer(q):
        g = m.groupdict()
        if not free(*m.span()) or g.get("y4") or (g.get("m3") and not g.get("y3")):
            continue  # a bare year or a bare month name ("May", "march") is not enough on its own
        p = _point(m, reference)
        if p:
            found.append((p[0], p[1], p[2], m.span(), p[3], False))
            taken.append(m.span())
    recency_m = None
    for m in _RECENCY.finditer(q):
        if free(*m.span()):
            recency_m = m
            break
    if not found and recency_m is None:
        return None
    if not found:
        assert recency_m is not None
        return TimeIntent(None, None, True, "latest", (recency_m.start(), recency_m.end()))
    found.sort(key=lambda f: f[3])
    lows = [f[0] for f in found]
    highs = [f[1] for f in found]
    lo_d = None if any(x is None for x in lows) else min(x for x in lows if x is not None)
    hi_d = None if any(x is None for x in highs) else max(x for x in highs if x is not None)
    label = " and ".join(f[2] for f in found)
    if recency_m is not None:
        label = f"latest, {label}"
    span = (min(f[3][0] for f in found), max(f[3][1] for f in found))
    return TimeIntent(lo_d, hi_d, recency_m is not None, label, span,
                      relative=any(f[4] for f in found), bounded=all(f[5] for f in found))


class _Sub:
    """A view of a match's groups with a prefix removed (the two points of "between X and Y")."""

    def __init__(self, m: re.Match[str], prefix: str) -> None:
        self._d = {k[len(prefix):]: v for k, v in m.groupdict().items() if k.startswith(prefix)}

    def groupdict(self) -> dict[str, str | None]:
        return self._d


def _sub(m: re.Match[str], prefix: str) -> re.Match[str]:
    return _Sub(m, prefix)  # type: ignore[return-value]


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


# --------------------------------------------------------------------------------------------- filters

REPORTING_LAG = timedelta(days=7)  # news about a period is published up to this long after it


def intent_filter(intent: TimeIntent, flt: SearchFilter | None) -> SearchFilter:
    """The publication-date filter for ``intent``, intersected with a user filter.

    A period the news is about ("in May 2019", "on 17 May") also admits articles published up to
    REPORTING_LAG after it ends; explicit bounds ("before 2020", "until May 2019") are taken literally.
    """
    lo, hi = intent.date_from, intent.date_to
    if hi is not None and not intent.bounded:
        hi = hi + REPORTING_LAG
    base = flt or SearchFilter()
    if base.date_from and (lo is None or base.date_from > lo):
        lo = base.date_from
    if base.date_to and (hi is None or base.date_to < hi):
        hi = base.date_to
    return replace(base, date_from=lo, date_to=hi)


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


__all__ = ["TimeIntent", "parse_time_expression", "intent_filter", "describe", "REPORTING_LAG",
           "is_generic_news_question", "without_expression"]
