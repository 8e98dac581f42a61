"""The web chat: a Gradio app that renders the Assistant's Answer with escaped, highlighted sources."""

from __future__ import annotations

import argparse
import html
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from postqa.core.config import Settings, load_settings
from postqa.core.errors import ConfigError, PostqaError, StoreUnavailableError
from postqa.core.types import Answer, Citation, SearchFilter
from postqa.service.assistant import Assistant

# Shown when the index cannot suggest its own (Assistant.example_questions); clicking one fills the box.
EXAMPLES = (
    "Who presided over the Xinhua meeting?",
    "Who is the Secretary General of Xinhua News Agency?",
    "Who was the President of China Post Group at the automobile industry chain meeting?",
    "When did China Post and Xinhua start strategic cooperation V2.0?",
)
NOT_COVERED_TEXT = "The news does not cover this."
MAX_SHOWN_QUESTION = 400  # characters of a question echoed into the chat
MAX_HISTORY = 10  # earlier questions kept per conversation for follow-ups
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


# --- formatting: pure functions, no gradio ------------------------------------------------------------


def escape_text(text: str) -> str:
    """Untrusted text for HTML: entities for <, >, &, quotes; control characters become spaces."""
    return html.escape(_CONTROL.sub(" ", text or ""), quote=True)


def escape_markdown(text: str) -> str:
    """Untrusted text for the chat's Markdown: HTML-escaped and every Markdown character backslashed, so it
    shows exactly as typed (no links, images, emphasis or raw HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", escape_text(text).replace("\n", " "))


def shown_question(question: str) -> str:
    """The user's question as echoed in the chat: escaped and, when huge, cut."""
    q = re.sub(r"\s+", " ", _CONTROL.sub(" ", question or "")).strip()
    if len(q) > MAX_SHOWN_QUESTION:
        q = f"{q[:MAX_SHOWN_QUESTION]}… ({len(q):,} characters)"
    return escape_markdown(q) if q else "*(empty question)*"


def source_label(source: str) -> str:
    """A short, non-revealing name for an article's source: the file name of a path, a URL as it is."""
    if re.match(r"^https?://", source or ""):
        return source
    return Path(source).name if source else "unknown source"


def highlight(passage: str, span: tuple[int, int] | None) -> str:
    """The passage as HTML with the answer span in <mark>; every piece escaped."""
    if not span or not (0 <= span[0] < span[1] <= len(passage)):
        return escape_text(passage)
    s, e = span
    return f"{escape_text(passage[:s])}<mark>{escape_text(passage[s:e])}</mark>{escape_text(passage[e:])}"


def _date(d: date | None) -> str:
    return d.isoformat() if d else "undated"


def citation_markers(answer: Answer) -> str:
    """Markers for the citations that hold the answer span (the first citation when none has a span)."""
    spans = [c.n for c in answer.citations if c.span]
    ns = spans or [c.n for c in answer.citations[:1]]
    return " ".join(f"[{n}]" for n in ns)


def answer_markdown(answer: Answer) -> str:
    """The chat message: the short answer with numbered markers, or "not covered" + the nearest articles."""
    if answer.answerable:
        text = answer.text
        if not re.search(r"\[\d+\]", text):  # a generator's answer already carries its own markers
            text = f"{text} {citation_markers(answer)}".strip()
        out = f"**{escape_markdown(text)}**"
    else:
        out = f"**{NOT_COVERED_TEXT}**"
        nearest: list[str] = []
        for c in answer.citations:
            line = f"{escape_markdown(c.title)} ({_date(c.published)}) \\[{c.n}\\]"
            if not any(line.split(" \\[")[0] == n.split(" \\[")[0] for n in nearest):
                nearest.append(line)
        if nearest:
            out += "\n\nNearest articles:\n" + "\n".join(f"- {n}" for n in nearest)
    if answer.note:
        out += f"\n\n*{escape_markdown(answer.note)}*"
    return out


def citation_html(c: Citation) -> str:
    return (f'<li class="pq-src" data-n="{c.n}"><div class="pq-title"><span class="pq-n">[{c.n}]</span> '
            f"{escape_text(c.title) or '(untitled)'}</div>"
            f'<div class="pq-meta"><time>{_date(c.published)}</time> · '
            f'<span class="pq-source">{escape_text(source_label(c.source))}</span></div>'
            f'<blockquote class="pq-passage">{highlight(c.passage, c.span)}</blockquote></li>')


def sources_html(answer: Answer | None, message: str = "") -> str:
    """The sources panel: one entry per citation with title, date, source and the highlighted passage."""
    if answer is None:
        body = f'<p class="pq-empty">{escape_text(message or "Sources of the answer appear here.")}</p>'
        return f'<div class="pq-sources"><h3>Sources</h3>{body}</div>'
    head = "Sources" if answer.answerable else "Nearest articles"
    if not answer.citations:
        return f'<div class="pq-sources"><h3>{head}</h3><p class="pq-empty">No passages found.</p></div>'
    items = "".join(citation_html(c) for c in answer.citations)
    return f'<div class="pq-sources"><h3>{head}</h3><ol class="pq-list">{items}</ol></div>'


def status_html(status: dict[str, Any] | None, error: str = "") -> str:
    """The status line: embedding model, articles, chunks, last ingest (or what is wrong)."""
    if status is None:
        return f'<div class="pq-status pq-status-error">{escape_text(error)}</div>'
    emb = status.get("embedding") or {}
    parts = [f"model {emb.get('model', '?')} ({emb.get('dim', '?')}d)",
             f"{status.get('articles', 0)} articles", f"{status.get('chunks', 0)} chunks",
             f"last ingest {status.get('last_ingest') or 'never'}"]
    if status.get("dirty"):
        parts.append("last ingest unfinished: run `postqa ingest`")
    return f'<div class="pq-status">{escape_text(" · ".join(parts))}</div>'


def error_markdown(message: str) -> str:
    return f"**Cannot answer:** {escape_markdown(message)}"


def parse_filter(date_from: str | None, date_to: str | None,
                 article_ids: Sequence[str] | None) -> SearchFilter | None:
    """A SearchFilter from the UI's fields; PostqaError with the bad value when a date is not YYYY-MM-DD."""
    dates: list[date | None] = []
    for label, raw in (("from", date_from), ("to", date_to)):
        text = (raw or "").strip()
        if not text:
            dates.append(None)
            continue
        try:
            if not _DATE.match(text):
                raise ValueError
            dates.append(date.fromisoformat(text))
        except ValueError:
            raise PostqaError(f"the date {label} {text[:40]!r} is not a date; use YYYY-MM-DD, "
                              f"e.g. 2020-09-11") from None
    if dates[0] and dates[1] and dates[0] > dates[1]:
        raise PostqaError(f"the date range {dates[0]} to {dates[1]} is empty; put the earlier date first")
    flt = SearchFilter(dates[0], dates[1], frozenset(article_ids) if article_ids else None)
    return flt or None


# --- the service the UI calls: one shared, lazily built Assistant ----------------------------------------


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


def assistant_factory(settings: Settings) -> Callable[[], Assistant]:
    """build_assistant for these settings, loading the embedding model only once across retries."""
    cache: dict[str, Any] = {}

    def build() -> Assistant:
        from postqa.index.embedding import create_embedder
        from postqa.service.pipeline import build_assistant

        if "embedder" not in cache:
            cache["embedder"] = create_embedder(settings.embedding)
        return build_assistant(settings, embedder=cache["embedder"])

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

    def __init__(self, holder: AssistantHolder) -> None:
        self.holder = holder

    def stream(self, question: str, history: Sequence[str] = (), date_from: str | None = None,
               date_to: str | None = None, article_ids: Sequence[str] | None = None,
               ) -> Iterator[tuple[str, Reply | None]]:
        """The answer as it comes: ``(chat Markdown so far, None)`` pairs, then ``("", final Reply)``.
        With a generator configured the text streams sentence by sentence; the final Reply replaces it."""
        history = list(history)[-MAX_HISTORY:]
        try:
            flt = parse_filter(date_from, date_to, article_ids)
            text = ""
            for piece, answer in self.holder.get().stream(question, history=history, flt=flt):
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
            print(f"postqa web: unexpected {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            msg = f"something went wrong ({type(err).__name__}); try again, or ask an administrator"
            yield "", Reply(error_markdown(msg), sources_html(None, msg), error=msg, history=history)

    def reply(self, question: str, history: Sequence[str] = (), date_from: str | None = None,
              date_to: str | None = None, article_ids: Sequence[str] | None = None) -> Reply:
        """The final Reply of ``stream``."""
        for _text, reply in self.stream(question, history, date_from, date_to, article_ids):
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
        """(label, id) choices for the article filter, newest first."""
        try:
            arts = self.holder.get().articles()
        except Exception:  # noqa: BLE001 - the status line already says why
            return []
        return [(f"{a['date'] or 'undated'} · {_CONTROL.sub(' ', a['title'])[:120]}", a["id"]) for a in arts]


# --- the Gradio app --------------------------------------------------------------------------------------

CSS = """
.pq-status { font-size: 0.85em; color: var(--body-text-color-subdued); }
.pq-status-error { color: var(--error-text-color); }
.pq-sources h3 { margin: 0 0 0.5em 0; font-size: 1em; }
.pq-list { list-style: none; padding: 0; margin: 0; }
.pq-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 0.6em 0.8em;
          margin-bottom: 0.6em; background: var(--background-fill-secondary); }
.pq-title { font-weight: 600; }
.pq-n { color: var(--color-accent); margin-right: 0.25em; }
.pq-meta { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 0.15em 0 0.4em 0; }
.pq-passage { margin: 0; padding-left: 0.7em; border-left: 3px solid var(--color-accent); }
.pq-passage mark { background: #ffe58a; color: #000; padding: 0 0.1em; border-radius: 2px; }
.pq-empty { color: var(--body-text-color-subdued); }
"""


def prepare_environment() -> None:
    """No analytics, telemetry or hub look-ups: set before gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_app(settings: Settings, holder: AssistantHolder | None = None) -> Any:
    """The Blocks app: chat + sources panel, filters, examples, clear control, status line, and /ask."""
    prepare_environment()
    import gradio as gr

    service = ChatService(holder or AssistantHolder(assistant_factory(settings)))

    def respond(message: str, chat: list[dict[str, Any]] | None, questions: list[str] | None,
                date_from: str, date_to: str, article_ids: list[str] | None) -> Iterator[tuple[Any, ...]]:
        chat = list(chat or [])
        chat.append({"role": "user", "content": shown_question(message)})
        pending = [*chat, {"role": "assistant", "content": "*Searching the news…*"}]
        yield "", pending, questions or [], sources_html(None, "Searching…")
        for partial, reply in service.stream(message, questions or [], date_from, date_to, article_ids):
            if reply is None:
                yield "", [*chat, {"role": "assistant", "content": partial}], gr.skip(), gr.skip()
            else:
                final = [*chat, {"role": "assistant", "content": reply.markdown}]
                yield "", final, reply.history, reply.sources

    def ask(question: str, history: list[str] | None = None, date_from: str = "", date_to: str = "",
            articles: list[str] | None = None) -> dict[str, Any]:
        """Answer one question. `history`: earlier questions of the conversation (for follow-ups).
        Returns the `postqa ask --json` object, or {"question", "error"}."""
        reply = service.reply(question, history or [], date_from, date_to, articles)
        if reply.answer is None:
            return {"question": question[:MAX_SHOWN_QUESTION], "error": reply.error}
        return reply.answer.to_json()

    def clear() -> tuple[Any, ...]:
        return [], [], sources_html(None), ""

    def refresh() -> tuple[Any, ...]:
        return service.status(), gr.update(choices=service.articles())

    with gr.Blocks(title="postqa · China Post news", analytics_enabled=False) as demo:
        gr.Markdown("## postqa · China Post news\nAsk about China Post news: a short answer with the "
                    "passages it comes from.")
        status = gr.HTML(status_html(None, "loading…"), elem_id="pq-status")
        questions = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", elem_id="pq-chat", height=460, sanitize_html=True,
                                     render_markdown=True, allow_tags=False, latex_delimiters=[],
                                     buttons=["copy"], feedback_options=None, layout="bubble")
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the news…", show_label=False,
                                     elem_id="pq-question", scale=5, max_lines=4, submit_btn=True,
                                     max_length=20_000)
                with gr.Row():
                    clear_btn = gr.Button("Clear chat", elem_id="pq-clear", size="sm", variant="secondary")
                gr.Examples(examples=[[q] for q in service.examples()], inputs=[box],
                            label="Example questions")
                with gr.Accordion("Filters", open=False):
                    with gr.Row():
                        date_from = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD", max_lines=1)
                        date_to = gr.Textbox(label="Published to", placeholder="YYYY-MM-DD", max_lines=1)
                    article_ids = gr.Dropdown(label="Only these articles", choices=[], multiselect=True,
                                              elem_id="pq-articles")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html(None), elem_id="pq-sources")

        box.submit(respond, [box, chatbot, questions, date_from, date_to, article_ids],
                   [box, chatbot, questions, sources], api_visibility="private")
        clear_btn.click(clear, None, [chatbot, questions, sources, box], api_visibility="private")
        chatbot.clear(clear, None, [chatbot, questions, sources, box], api_visibility="private")
        demo.load(refresh, None, [status, article_ids], api_visibility="private")
        gr.api(ask, api_name="ask")
    demo.queue(default_concurrency_limit=settings.server.concurrency,
               max_size=max(64, 16 * settings.server.concurrency))
    return demo


def auth_pairs(settings: Settings) -> list[tuple[str, str]]:
    """server.auth "user:password" entries as pairs; ConfigError for one without a colon."""
    pairs = []
    for entry in settings.server.auth:
        user, sep, password = entry.partition(":")
        if not sep or not user or not password:
            raise ConfigError(f"server.auth entry {entry.split(':')[0]!r}… is not 'user:password'; "
                              f"write each login as \"user:password\"")
        pairs.append((user, password))
    return pairs


def serve(settings: Settings, host: str | None = None, port: int | None = None, block: bool = True) -> Any:
    """Start the web chat (blocking unless ``block=False``, which returns the Blocks app)."""
    host = host or settings.server.host
    port = port or settings.server.port
    auth = auth_pairs(settings)
    started = time.monotonic()
    holder = AssistantHolder(assistant_factory(settings))
    try:  # load the model and warm the first query now rather than on a user's first question
        holder.get().ask("China Post news")
    except PostqaError as err:
        print(f"postqa web: warning: {err}", file=sys.stderr, flush=True)
    demo = build_app(settings, holder)
    if host not in _LOOPBACK and not auth:
        print(f"postqa web: warning: listening on {host} without a login; set server.auth",
              file=sys.stderr, flush=True)
    blocked = [str(settings.paths.vectorstore), str(settings.paths.corpus)]
    try:
        demo.launch(server_name=host, server_port=port, auth=auth or None, share=False, ssr_mode=False,
                    prevent_thread_lock=True, quiet=True, show_error=False, allowed_paths=[],
                    blocked_paths=blocked, mcp_server=False, pwa=False, enable_monitoring=False,
                    css=CSS, auth_message="postqa: sign in with your staff login")
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port}: {err}; choose another --port") from None
    ready = time.monotonic() - started
    print(f"postqa web: chat on http://{host}:{port} (ready in {ready:.1f} s)", flush=True)
    if block:
        try:
            demo.block_thread()
        except KeyboardInterrupt:
            pass
        finally:
            demo.close()
    return demo


# --- command line: `postqa serve` and `python app.py` ----------------------------------------------------


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", metavar="H", help="interface to bind (default: server.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, metavar="N", help="port (default: server.port, 7860)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "embedding_model", None):
        overrides["embedding.model"] = args.embedding_model
    if args.host:
        overrides["server.host"] = args.host
    if args.port:
        overrides["server.port"] = args.port
    return load_settings(getattr(args, "config", None), overrides=overrides or None)


def cmd_serve(args: argparse.Namespace) -> int:
    serve(settings_from_args(args))
    return 0


def register_cli(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "serve", parents=[common], help="start the web chat (default http://127.0.0.1:7860)",
        description="Start the web chat. Host, port, logins and concurrency come from [server] in "
                    "postqa.toml, POSTQA_SERVER__* variables or these flags.")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)
