"""The web chat (Gradio): render (escaping, HTML), chat (the service the page calls), ui (the tabs),
uploads (the editors' Add articles tab), server (launch and `postqa serve`). Gradio is imported only when
the app is built."""

from __future__ import annotations

from postqa.interfaces.web.chat import (
    EXAMPLES,
    MAX_HISTORY,
    AssistantHolder,
    ChatService,
    Reply,
    assistant_factory,
    parse_filter,
)
from postqa.interfaces.web.render import (
    MAX_SHOWN_QUESTION,
    NOT_COVERED_TEXT,
    answer_markdown,
    article_html,
    browse_html,
    citation_html,
    escape_markdown,
    escape_text,
    highlight,
    shown_question,
    source_label,
    sources_html,
    status_html,
)
from postqa.interfaces.web.server import (
    add_serve_arguments,
    auth_pairs,
    cmd_serve,
    register_cli,
    serve,
    settings_from_args,
)


def build_app(*args: object, **kwargs: object) -> object:
    """The Gradio Blocks app (see postqa.interfaces.web.ui.build_app)."""
    from postqa.interfaces.web.ui import build_app as build

    return build(*args, **kwargs)  # type: ignore[arg-type]


__all__ = [
    "EXAMPLES", "MAX_HISTORY", "MAX_SHOWN_QUESTION", "NOT_COVERED_TEXT", "AssistantHolder", "ChatService", "Reply",
    "add_serve_arguments", "answer_markdown", "article_html", "assistant_factory", "auth_pairs", "browse_html",
    "build_app", "citation_html", "cmd_serve", "escape_markdown", "escape_text", "highlight", "parse_filter",
    "register_cli", "serve", "settings_from_args", "shown_question", "source_label", "sources_html",
    "status_html",
]
