"""The service the page calls: one shared, lazily built Assistant; question in, Reply out, never a crash."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from postqa.core.config import Settings
from postqa.core.errors import PostqaError, StoreUnavailableError
from postqa.core.types import Answer, SearchFilter
from postqa.index.catalog import row_matches, title_words
from postqa.interfaces.web.render import (
    answer_markdown,
    article_html,
    browse_html,
    error_markdown,
    escape_markdown,
    escape_text,
    sources_html,
    status_html,
)
from postqa.service.assistant import Assistant
from postqa.service.validation import build_filter, parse_date_flag

# Shown when the index cannot suggest its own (Assistant.example_questions); clicking one fills the box.
EXAMPLES = (
    "Who presided over the Xinhua meeting?",
    "Who is the Secretary General of Xinhua News Agency?",
    "Who was the President of China Post Group at the automobile industry chain meeting?",
    "When did China Post and Xinhua start strategic cooperation V2.0?",
)
MAX_HISTORY = 10  # earlier questions kept per conversation for follow-ups
BROWSE_ROWS = 200  # articles the Browse list shows (one page of the catalogue); "narrow the search" beyond
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def parse_date_field(label: str, raw: object) -> date | None:
    """A YYYY-MM-DD date from a filter field; PostqaError naming the field and the value otherwise."""
    return parse_date_flag(raw, f"the date {label}")


def parse_filter(date_from: object, date_to: object, article_ids: object) -> SearchFilter | None:
    """A SearchFilter from the UI's (or the API's) fields; PostqaError with the bad value when a date is not
    YYYY-MM-DD, the range is inverted, or the articles are not a list of ids (a string is not split)."""
    return build_filter(date_from, date_to, article_ids, ("the date from", "the date to", "articles"))


class AssistantHolder:
    """Builds the Assistant on first use and shares it between request threads. A failed build (no index
    yet, store down) is retried on the next request, so `postqa ingest` while the app runs just works."""

    def __init__(self, factory: Callable[[], Assistant]) -> None:
        self._factory = factory
        self._assistant: Assistant | None = None
        self._lock = threading.Lock()

    def get(self) -> Assistant:
        assistant = self._assistant
        if assistant is not None:
            return assistant
        with self._lock:
            if self._assistant is None:
                self._assistant = self._factory()
            return self._assistant

    def reset(self) -> None:
        with self._lock:
            self._assistant = None

    @property
    def embedder(self) -> Any:
        """The embedding model the factory loaded (None until it has), for an ingest in this process."""
        return getattr(self._factory, "cache", {}).get("embedder")


def assistant_factory(settings: Settings) -> Callable[[], Assistant]:
    """build_assistant for these settings, loading the embedding model only once across retries."""
    cache: dict[str, Any] = {}

    def build() -> Assistant:
        from postqa.index.embedding import create_embedder
        from postqa.service.pipeline import build_assistant

        if "embedder" not in cache:
            cache["embedder"] = create_embedder(settings.embedding)
        return build_assistant(settings, embedder=cache["embedder"])

    build.cache = cache  # type: ignore[attr-defined]
    return build


@dataclass
class Reply:
    """One turn's result for the UI: chat Markdown, sources HTML, and the Answer when there is one."""

    markdown: str
    sources: str
    answer: Answer | None = None
    error: str = ""
    history: list[str] = field(default_factory=list)  # the questions to remember after this turn


class ChatService:
    """Question (+ earlier questions, filters) in, Reply out. Never raises: every failure is a message."""

    def __init__(self, holder: AssistantHolder, rows_ttl: float = 5.0,
                 today: Callable[[], date] = date.today) -> None:
        self.holder = holder
        self.rows_ttl = rows_ttl
        self.today = today  # a question asked in the chat carries the date it is asked (like `ask --as-of`)
        self._rows: tuple[float, dict[str, dict[str, Any]]] = (0.0, {})

    def stream(self, question: str, history: Sequence[str] = (), date_from: str | None = None,
               date_to: str | None = None, article_ids: Sequence[str] | None = None,
               as_of: str | None = None) -> Iterator[tuple[str, Reply | None]]:
        """The answer as it comes: ``(chat Markdown so far, None)`` pairs, then ``("", final Reply)``.
        With a generator configured the text streams sentence by sentence; the final Reply replaces it.
        ``as_of``: the date the question is asked (YYYY-MM-DD), default today."""
        history = list(history)[-MAX_HISTORY:]
        try:
            flt = parse_filter(date_from, date_to, article_ids)
            asked_on = parse_date_flag(as_of, "the date asked (as_of)") or self.today()
            text = ""
            for piece, answer in self.holder.get().stream(question, history=history, flt=flt, as_of=asked_on):
                if answer is not None:
                    yield "", Reply(answer_markdown(answer), sources_html(answer), answer=answer,
                                    history=[*history, question][-MAX_HISTORY:])
                    return
                text += piece
                yield escape_markdown(text), None
            raise RuntimeError("the assistant's stream ended without an answer")
        except PostqaError as err:
            if isinstance(err, StoreUnavailableError):
                self.holder.reset()  # reconnect on the next request
            yield "", Reply(error_markdown(str(err)), sources_html(None, str(err)), error=str(err),
                            history=history)
        except Exception as err:  # noqa: BLE001 - the app must outlive any one request
            yield "", self._unexpected(err, history)

    def _unexpected(self, err: Exception, history: list[str]) -> Reply:
        print(f"postqa web: unexpected {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        msg = f"something went wrong ({type(err).__name__}); try again, or ask an administrator"
        return Reply(error_markdown(msg), sources_html(None, msg), error=msg, history=history)

    def reply(self, question: str, history: Sequence[str] = (), date_from: str | None = None,
              date_to: str | None = None, article_ids: Sequence[str] | None = None,
              as_of: str | None = None) -> Reply:
        """The final Reply of ``stream``."""
        for _text, reply in self.stream(question, history, date_from, date_to, article_ids, as_of):
            if reply is not None:
                return reply
        raise AssertionError("unreachable: stream always ends with a Reply")  # pragma: no cover

    def status(self) -> str:
        try:
            return status_html(self.holder.get().status())
        except PostqaError as err:
            return status_html(None, str(err))
        except Exception as err:  # noqa: BLE001
            return status_html(None, f"status unavailable ({type(err).__name__})")

    def examples(self) -> list[str]:
        """Example questions made from the loaded index; the fixed ones when it cannot say."""
        try:
            found = self.holder.get().example_questions()
        except Exception:  # noqa: BLE001 - no index yet: the status line says why
            found = []
        return [_CONTROL.sub(" ", q)[:200] for q in found] or list(EXAMPLES)

    def articles(self) -> list[tuple[str, str]]:
        """(label, id) choices for the article filter, newest first (id, title and date only: the assistant's
        ``article_choices`` when it has it, not every article's whole record)."""
        try:
            assistant = self.holder.get()
            arts = getattr(assistant, "article_choices", assistant.articles)()
        except Exception:  # noqa: BLE001 - the status line already says why
            return []
        return [(f"{a['date'] or 'undated'} · {_CONTROL.sub(' ', a['title'])[:120]}", a["id"]) for a in arts]

    def article(self, article_id: str, start: int = -1, length: int = 0,
                span: tuple[int, int] | None = None) -> str:
        """The article view's HTML for one article, the passage at ``start`` highlighted; a message when the
        article is not (or no longer) in the index."""
        try:
            found = self.holder.get().article(str(article_id or "")[:500])
        except PostqaError as err:
            return article_html(None).replace("Click", f"{escape_text(str(err))} Click", 1)
        except Exception as err:  # noqa: BLE001
            print(f"postqa web: article view: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            found = None
        if found is None:
            return ('<div class="pq-article"><p class="pq-empty">That article is not in the index (it may have '
                    "been removed by a later ingest).</p></div>")
        row = self.row(found.id)
        if row.get("url") and not found.url:
            found = replace(found, url=str(row["url"]))
        return article_html(found, start, length, span, self.warnings(found.id))

    def rows(self) -> dict[str, dict[str, Any]]:
        """The index's article rows by id (title, date, and url and warnings when the index records them),
        read at most every ``rows_ttl`` seconds."""
        at, rows = self._rows
        if not rows or time.monotonic() - at > self.rows_ttl:
            try:
                rows = {str(a["id"]): a for a in self.holder.get().articles()}
            except Exception:  # noqa: BLE001 - the article view still shows the text
                rows = {}
            self._rows = (time.monotonic(), rows)
        return rows

    def row(self, article_id: str) -> dict[str, Any]:
        """One article's row: the assistant's ``article_row`` (one catalogue lookup) when it has it, else
        from ``rows``; {} when unknown or unreadable."""
        try:
            one = getattr(self.holder.get(), "article_row", None)
            if one is not None:
                return dict(one(article_id) or {})
        except Exception:  # noqa: BLE001 - the article view still shows the text
            return {}
        return self.rows().get(article_id, {})

    def warnings(self, article_id: str) -> list[str]:
        """The reader's parse warnings for an article, when the index records them."""
        return [str(w) for w in self.row(article_id).get("warnings") or []]

    def browse(self, title: str = "", date_from: str = "", date_to: str = "") -> str:
        """The Browse list filtered by a title search (every word, any case) and a date range: one page of
        the catalogue (``Assistant.article_page``), never all of it."""
        try:
            start, end = parse_date_field("from", date_from), parse_date_field("to", date_to)
            first, last = start.isoformat() if start else "", end.isoformat() if end else ""
            rows, matching, total = self._page(title_words(title), first, last, BROWSE_ROWS)
        except PostqaError as err:
            return f'<div class="pq-browse"><p class="pq-empty">{escape_text(str(err))}</p></div>'
        return browse_html(rows, total, BROWSE_ROWS, matching=matching)

    def _page(self, words: list[str], start: str, end: str, limit: int) -> tuple[list[dict[str, Any]], int, int]:
        assistant = self.holder.get()
        page = getattr(assistant, "article_page", None)
        if page is not None:
            return page(words, start, end, limit)  # type: ignore[no-any-return]
        arts = assistant.articles()  # an assistant without pages (a stand-in): filter its whole list
        found = [a for a in arts if row_matches(a, words, start, end)]
        return found[:limit], len(found), len(arts)
