"""What one line of `postqa ask -` holds: a plain question, or a JSON object {"question", "as_of", "history"}."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from datetime import date

from postqa.core.errors import PostqaError


class AskLineError(PostqaError):
    """A line of `postqa ask -` (or an --as-of value) that cannot be read."""


@dataclass(frozen=True)
class AskLine:
    question: str
    as_of: date | None = None
    history: list[str] = field(default_factory=list)


def as_of_date(value: object, where: str = "as_of") -> date | None:
    """A YYYY-MM-DD date (or "today"); None for an empty value."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        if value.strip().lower() == "today":
            return date.today()
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise AskLineError(f"{where} = {value!r} is not a date; give it as YYYY-MM-DD (e.g. 2022-06-16) or 'today'")


def as_of_arg(value: str) -> date | None:
    """argparse type for --as-of."""
    try:
        return as_of_date(value, "--as-of")
    except AskLineError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parse_ask_line(line: str) -> AskLine:
    """A plain line is the question; a line starting with '{' is a JSON object with "question" and, optionally,
    "as_of" (the date it was asked) and "history" (the earlier questions of the conversation)."""
    text = line.strip()
    if not text.startswith("{"):
        return AskLine(text)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        raise AskLineError(f"the line starts with '{{' but is not a JSON object ({err.msg} at column "
                           f"{err.colno}); send a plain question or {{\"question\": ..., \"as_of\": "
                           "\"YYYY-MM-DD\", \"history\": [...]}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
        raise AskLineError('the JSON line needs a "question" string, e.g. {"question": "Who won?", '
                           '"as_of": "2022-06-16"}')
    history = obj.get("history") or []
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        raise AskLineError(f'"history" must be a list of earlier questions (strings); got {history!r}')
    return AskLine(obj["question"], as_of_date(obj.get("as_of")), list(history))
