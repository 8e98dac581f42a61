"""Starting the web chat: logins, launch options that keep it offline and closed, and `postqa serve`."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Any

from postqa.core.config import Settings, load_settings
from postqa.core.errors import ConfigError, PostqaError
from postqa.interfaces.web.chat import AssistantHolder, assistant_factory

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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


def _warn(message: str) -> None:
    print(f"postqa web: warning: {message}", file=sys.stderr, flush=True)


def _warm_up(holder: AssistantHolder) -> None:
    try:
        holder.get().ask("China Post news")
    except PostqaError as err:
        _warn(str(err))


def _import_answer_layer(holder: AssistantHolder) -> None:
    """Build the assistant (imports Chroma and the encoder's runtime) and import spaCy, in this thread.

    The warm-up thread then only loads models, never imports beside gradio's import: two threads importing
    overlapping module graphs at once can be handed a partly initialised module by CPython's per-module
    import locks (seen here as an ImportError from numpy)."""
    from postqa.nlp.pipeline import import_spacy

    try:
        holder.get()
    except PostqaError as err:  # no index yet: the page says so, and the next request retries
        _warn(str(err))
    import_spacy()


def serve(settings: Settings, host: str | None = None, port: int | None = None, block: bool = True) -> Any:
    """Start the web chat (blocking unless ``block=False``, which returns the Blocks app)."""
    host = host or settings.server.host
    port = port or settings.server.port
    auth = auth_pairs(settings)
    started = time.monotonic()
    holder = AssistantHolder(assistant_factory(settings))
    _import_answer_layer(holder)
    # load the models and answer a first question now rather than on a user's first question, in a thread
    # beside gradio's import (the largest part of start-up); a request that comes first waits for it
    warm = threading.Thread(target=_warm_up, args=(holder,), name="postqa-warm-up", daemon=True)
    warm.start()
    from postqa.interfaces.web.ui import CSS, build_app, check_editors

    demo = build_app(settings, holder)
    if host not in _LOOPBACK and not auth:
        _warn(f"listening on {host} without a login; set server.auth")
    if check_editors(settings, auth):
        _warn(check_editors(settings, auth))
    blocked = [str(settings.paths.vectorstore), str(settings.paths.corpus)]
    # Gradio refuses bigger uploads itself; the upload tab refuses at upload_max_mb with its own message
    hard_cap = (2 * settings.server.upload_max_mb + 1) * 1024 * 1024
    try:
        demo.launch(server_name=host, server_port=port, auth=auth or None, share=False, ssr_mode=False,
                    prevent_thread_lock=True, quiet=True, show_error=False, allowed_paths=[],
                    blocked_paths=blocked, mcp_server=False, pwa=False, enable_monitoring=False,
                    css=CSS, auth_message="postqa: sign in with your staff login", max_file_size=hard_cap)
    except OSError as err:
        raise ConfigError(f"cannot listen on {host}:{port}: {err}; choose another --port") from None
    warm.join()
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
        description="Start the web chat. Host, port, logins, editors and concurrency come from [server] in "
                    "postqa.toml, POSTQA_SERVER__* variables or these flags.")
    add_serve_arguments(p)
    p.set_defaults(func=cmd_serve)
