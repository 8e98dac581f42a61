"""Checks on what users hand in (a CLI argument or flag, a line of `ask -`, a web API field): type, encoding
and form, each failure an error that names the field, the value and what is expected."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from postqa.core.errors import InputError
from postqa.core.types import SearchFilter

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # ASCII digits only (\d also takes "２０２１")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
SHOWN_CHARS = 60  # characters of a bad value quoted back in an error


class QuestionError(InputError):
    """The question cannot be asked as it is (not text, not UTF-8, empty, too long)."""


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """A value quoted in an error message: repr, cut, always printable as UTF-8."""
    text = repr(value) if not isinstance(value, str) else repr(_SURROGATE.sub("\ufffd", value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _not_utf8(what: str, raw: bytes, err: UnicodeDecodeError) -> QuestionError:
    return QuestionError(f"{what} is not valid UTF-8 text (byte 0x{raw[err.start]:02X} at position {err.start}); "
                         "send it as UTF-8")


def decode_utf8(raw: bytes, what: str = "the question") -> str:
    """Bytes (a line read from standard input) as text; QuestionError naming the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _not_utf8(what, raw, err) from None


def question_text(value: object, field: str = "question") -> str:
    """The question as text: a string, or UTF-8 bytes; never a number, a list or undecodable bytes.

    Command-line arguments that were not UTF-8 arrive as strings with lone surrogates (Python's
    surrogateescape): they are refused here, before they reach the embedder or the JSON output."""
    if isinstance(value, bytes | bytearray):
        return decode_utf8(bytes(value), f"the {field}")
    if not isinstance(value, str):
        raise QuestionError(f"the {field} must be text, got {type(value).__name__} {shown(value)}; send a string")
    bad = _SURROGATE.search(value)
    if bad:
        raw = value.encode("utf-8", "surrogateescape") if _only_escapes(value) else b""
        byte = f"byte 0x{raw[_byte_offset(value, bad.start())]:02X}" if raw else f"character {bad.start()}"
        raise QuestionError(f"the {field} is not valid UTF-8 text ({byte} at position {bad.start()}); "
                            "send it as UTF-8")
    return value


def _only_escapes(value: str) -> bool:
    return all(0xDC80 <= ord(ch) <= 0xDCFF for ch in _SURROGATE.findall(value))


def _byte_offset(value: str, index: int) -> int:
    return len(value[:index].encode("utf-8", "surrogateescape"))


def text_list(value: object, field: str) -> list[str]:
    """A list of strings (earlier questions, article ids); a lone string is refused rather than split into its
    characters."""
    if value is None:
        return []
    if isinstance(value, str):
        raise InputError(f"{field} must be a list of strings, got the string {shown(value)}; pass [{shown(value)}]")
    if not isinstance(value, Sequence) or isinstance(value, bytes | bytearray):
        raise InputError(f"{field} must be a list of strings, got {type(value).__name__} {shown(value)}")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or _SURROGATE.search(item):
            raise InputError(f"{field}[{i}] must be UTF-8 text, got {type(item).__name__} {shown(item)}")
        out.append(item)
    return out


def parse_date_flag(value: object, flag: str) -> date | None:
    """A YYYY-MM-DD date given to ``flag`` (``--since``, the web's "date from"); None when not given."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"{flag} must be a date written YYYY-MM-DD, got {type(value).__name__} {shown(value)}")
    text = value.strip()
    if not text:
        return None
    if not _ISO_DATE.match(text):
        raise InputError(f"{flag} {shown(text)} is not a date; use YYYY-MM-DD, e.g. 2020-09-11")
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise InputError(f"{flag} {shown(text)} is not a real date ({err}); use YYYY-MM-DD, e.g. 2020-09-11") from None


def build_filter(since: object, until: object, articles: object,
                 flags: tuple[str, str, str] = ("--since", "--until", "--article")) -> SearchFilter | None:
    """A SearchFilter from a date range and article ids, or None when nothing is given. An inverted range is
    an error (no article could match), not a silent "the news does not say"."""
    start, end = parse_date_flag(since, flags[0]), parse_date_flag(until, flags[1])
    if start and end and start > end:
        raise InputError(f"{flags[0]} {start.isoformat()} is after {flags[1]} {end.isoformat()}: no article can be "
                         f"in that range; put the earlier date first (in {flags[0]})")
    ids = text_list(articles, flags[2])
    flt = SearchFilter(date_from=start, date_to=end, article_ids=frozenset(ids) if ids else None)
    return flt if (start or end or ids) else None


def line_error(question: str, err: BaseException) -> dict[str, str]:
    """The documented error object of `ask -` (and the web API) for one input."""
    return {"question": _SURROGATE.sub("\ufffd", question), "error": str(err)}
