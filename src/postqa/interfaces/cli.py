"""The postqa command line: ingest, ask, status, indexes, serve (and eval, calibrate)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from postqa.core.errors import PostqaError
from postqa.interfaces.asklines import as_of_arg, parse_ask_line
from postqa.interfaces.common import load_cli_settings, positive_int

EPILOG = """\
examples:
  postqa ingest                       index corpus/ (incremental: unchanged articles are skipped)
  postqa ask "Who presided over the Xinhua meeting?"
  postqa ask --json "..."             one JSON object (see README: 'JSON output')
  echo "question" | postqa ask -      one JSON object per input line, models loaded once
  postqa ask --stream --history "Who presided over the Xinhua meeting?" "And who addressed it?"
  postqa who "Kang Ning"              a person's roles, dated, with the articles naming them
  postqa status                       model, dimension, articles, chunks, store, last ingest
  postqa articles --warnings          indexed articles the reader was unsure of (no date, title from file name)
  postqa serve --port 7860            the web chat
  postqa eval                         the fixed Q&A suite, with a report in evals/reports/

Configuration: postqa.toml (see docs/config.md), POSTQA_SECTION__KEY variables, --config FILE.
"""


def _progress_bar() -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        return None, lambda done, total: None
    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="article", desc="indexing", file=sys.stderr,
                              disable=not sys.stderr.isatty() and os.environ.get("POSTQA_PROGRESS") != "1")
        b = bar["bar"]
        b.update(done - b.n)

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    return close, update


def cmd_ingest(args: argparse.Namespace) -> int:
    from postqa.service.pipeline import ingest

    settings = load_cli_settings(args)
    close, update = _progress_bar()
    try:
        report = ingest(settings, args.paths or None, rebuild=args.rebuild, progress=update, wait=args.wait,
                        prune=not args.no_prune, prune_all=args.prune_all)
    finally:
        if close:
            close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        print(f"index {report.collection}: {len(report.added)} added, {len(report.updated)} updated, "
              f"{len(report.removed)} removed, {report.unchanged} unchanged, {len(report.skipped)} skipped; "
              f"{report.chunks_embedded} chunks embedded, {report.chunks_reused} reused; "
              f"{report.articles_total} articles / {report.chunks_total} chunks in the index; "
              f"{report.seconds:.1f} s")
    for problem in report.skipped:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    for problem in report.warnings:
        print(f"warning {problem.path}: {problem.reason}", file=sys.stderr)
    if report.kept:
        print(f"kept {len(report.kept)} indexed article(s) whose files could not be checked (see above)",
              file=sys.stderr)
    if not args.json:
        flagged = len({p.path for p in report.reader_warnings})
        hint = "" if args.verbose or not report.reader_warnings else \
            " (--verbose lists them; so does `postqa articles --warnings`)"
        print(f"reader warnings: {len(report.reader_warnings)} on {flagged} of the articles read{hint}"
              if report.reader_warnings else "reader warnings: none")
    if args.verbose:
        for problem in report.reader_warnings:
            print(f"warning {problem.path}: {problem.reason}", file=sys.stderr)
    return 0


def _print_answer(answer: Any, show_text: bool = True) -> None:
    if show_text:
        print(answer.text if answer.answerable else f"{answer.text} Nearest passages:")
    if answer.note:
        print(f"({answer.note})")
    for c in answer.citations:
        date = c.published.isoformat() if c.published else "undated"
        passage = c.passage
        if c.span:
            s, e = c.span
            passage = f"{passage[:s]}[{passage[s:e]}]{passage[e:]}"
        print(f"  [{c.n}] {c.title} ({date}) {c.source}\n      {passage}")


def _ask_lines(assistant: Any, flt: Any, top_k: int | None, as_of: Any = None) -> None:
    """`ask -`: exactly one JSON line out per line in, blank and undecodable lines included (as the documented
    error object), and nothing one line does stops the next. A line may be a JSON object {"question", "as_of",
    "history"} (interfaces/asklines.py); its own as_of wins over --as-of."""
    from postqa.service.validation import decode_utf8, line_error

    for raw in sys.stdin.buffer:
        line = raw.rstrip(b"\r\n")
        question = line.decode("utf-8", "replace").strip()
        try:
            item = parse_ask_line(decode_utf8(line))
            obj = assistant.ask(item.question, history=item.history, flt=flt, top_k=top_k,
                                as_of=item.as_of or as_of).to_json()
        except PostqaError as err:
            obj = line_error(question, err)
        except Exception as err:  # noqa: BLE001 - one line must not lose the answers to the others
            obj = line_error(question, RuntimeError(f"internal error ({type(err).__name__}: {err}); the other "
                                                    "lines are still answered"))
        print(json.dumps(obj, ensure_ascii=False), flush=True)


def cmd_ask(args: argparse.Namespace) -> int:
    from postqa.service.pipeline import build_assistant
    from postqa.service.validation import build_filter, question_text

    flt = build_filter(args.since, args.until, args.article)  # bad flags fail before any model is loaded
    if args.question != "-":
        question_text(args.question)
    settings = load_cli_settings(args)
    assistant = build_assistant(settings)
    if args.question == "-":
        _ask_lines(assistant, flt, args.top_k, args.as_of)
        return 0
    if args.stream and not args.json:
        streamed, answer = "", None
        for piece, final in assistant.stream(args.question, history=args.history or (), flt=flt, top_k=args.top_k,
                                             as_of=args.as_of):
            if final is None:
                print(piece, end="", flush=True)
                streamed += piece
            else:
                answer = final
        if streamed:
            print()
        assert answer is not None
        _print_answer(answer, show_text=streamed.strip() != answer.text.strip())
        return 0
    answer = assistant.ask(args.question, history=args.history or (), flt=flt, top_k=args.top_k, as_of=args.as_of)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        _print_answer(answer)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from postqa.service.pipeline import build_assistant

    settings = load_cli_settings(args)
    status = build_assistant(settings).status()
    if args.json:
        print(json.dumps(status, ensure_ascii=False, default=str))
        return 0
    emb = status["embedding"]
    print(f"model:       {emb['model']} ({emb['dim']} dimensions, normalised: {emb['normalize']})")
    print(f"store:       {status['store']}")
    print(f"collection:  {status['collection']}")
    flagged = status.get("articles_with_warnings") or 0
    print(f"articles:    {status['articles']}" + (f" ({flagged} with reader warnings)" if flagged else ""))
    print(f"chunks:      {status['chunks']}")
    if status.get("running_since"):
        print(f"last ingest: {status['last_ingest'] or 'never'}; another ingest is running since "
              f"{status['running_since']}")
    elif status["dirty"]:
        print(f"last ingest: interrupted at {status.get('interrupted_at')} (the last complete one: "
              f"{status['last_ingest'] or 'never'})")
        print("warning:     the last ingest did not finish; run `postqa ingest` to complete it")
    else:
        print(f"last ingest: {status['last_ingest'] or 'never'}")
    return 0


def cmd_indexes(args: argparse.Namespace) -> int:
    from postqa.service.pipeline import list_indexes

    rows = list_indexes(load_cli_settings(args))
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, default=str))
        return 0
    if not rows:
        print("no indexes yet; run `postqa ingest`")
    for r in rows:
        spec = r.get("spec") or {}
        print(f"{r['collection']}: model {spec.get('model', '?')} ({spec.get('dim', '?')}d), "
              f"{r.get('articles', 0)} articles, {r.get('chunks', 0)} chunks, last ingest {r.get('last_ingest')}")
    return 0


# Interface modules that add commands: each has register_cli(subparsers, common) and imports its heavy
# dependencies only inside the command it runs.
COMMAND_MODULES = ("postqa.interfaces.web", "postqa.interfaces.evaluation", "postqa.interfaces.who",
                   "postqa.interfaces.feedback", "postqa.interfaces.articles")
# The commands this module defines itself: running one of them needs none of the modules above (importing
# the web package and the evaluation package costs start-up time that `ask` and `status` would pay for nothing).
BUILTIN_COMMANDS = frozenset({"ingest", "ask", "status", "indexes"})


def _add_ingest(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ingest", parents=[common], help="index articles (incremental, idempotent)",
                       description="Index the corpus (or the given files and folders). Unchanged articles are "
                                   "skipped, changed ones replaced, deleted ones removed; unreadable files are "
                                   "reported and skipped.")
    p.add_argument("paths", nargs="*", help="files or folders (default: [paths] corpus)")
    p.add_argument("--rebuild", action="store_true", help="drop this model's index and build it again")
    p.add_argument("--no-prune", action="store_true",
                   help="keep indexed articles whose files are gone from the given folders")
    p.add_argument("--prune-all", "--yes", dest="prune_all", action="store_true",
                   help="remove the articles of deleted files even when they are more than "
                        "[ingest] max_prune_fraction of the index")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="wait this long for another ingest to finish (default: stop at once)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--verbose", action="store_true",
                   help="list the reader's warnings (no date found, title from the file name, ...) one a line")
    p.set_defaults(func=cmd_ingest)


def _add_ask(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ask", parents=[common], help="answer a question with cited passages",
                       description="Answer a question. '-' reads one question per line from stdin (or a JSON "
                                   'object {"question", "as_of", "history"}) and writes JSON Lines.')
    p.add_argument("question", help="the question, or - to read questions from standard input")
    p.add_argument("--json", action="store_true", help="print one JSON object (documented in the README)")
    p.add_argument("--stream", action="store_true",
                   help="print the answer as it is written (with a generator: checked sentences only)")
    p.add_argument("--top-k", type=positive_int, default=None, metavar="N", help="passages to retrieve")
    p.add_argument("--history", action="append", metavar="QUESTION",
                   help="an earlier question of the conversation (for follow-ups); repeatable")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after this date")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before this date")
    p.add_argument("--article", action="append", metavar="ID", help="only this article; repeatable")
    p.add_argument("--as-of", type=as_of_arg, default=None, metavar="YYYY-MM-DD",
                   help="the date the question is asked: what 'this week', 'recently' mean; later news ranks lower")
    p.set_defaults(func=cmd_ask)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line. Given the ``command`` about to run (the first word of the arguments), only the
    interface modules up to the one that defines it are imported: none for a built-in command."""
    parser = argparse.ArgumentParser(
        prog="postqa", description="Answers questions about China Post news with cited passages, offline.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version="postqa 0.1.0")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="config file (default: ./postqa.toml or $POSTQA_CONFIG)")
    common.add_argument("--embedding-model", metavar="NAME_OR_PATH",
                        help="override [embedding] model (each model has its own index)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _add_ingest(sub, common)
    _add_ask(sub, common)

    p = sub.add_parser("status", parents=[common], help="model, dimension, articles, chunks, store, last ingest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("indexes", parents=[common], help="list every index in the store (one per model config)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_indexes)

    if command in BUILTIN_COMMANDS:
        return parser
    import importlib

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register_cli(sub, common)
        if command is not None and command in sub.choices:
            break  # the command is known: the modules after this one are not needed to run it
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv[0] if argv else None)  # options before the command are only -h/--version
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PostqaError as err:
        print(f"postqa: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("postqa: interrupted; the store is consistent, run the command again to finish", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
