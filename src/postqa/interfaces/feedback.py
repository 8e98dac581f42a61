"""`postqa feedback`: the thumbs up/down given in the web chat, listed or exported as eval cases."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from postqa.interfaces.common import load_cli_settings


def cmd_feedback(args: argparse.Namespace) -> int:
    from postqa.service.feedback import FeedbackStore, export_cases, feedback_path

    settings = load_cli_settings(args)
    store = FeedbackStore(feedback_path(settings.paths.vectorstore))
    if args.export:
        n = export_cases(store, Path(args.export))
        print(f"wrote {n} thumbs-down answer(s) as eval cases to {args.export}; fill in answers, gold_articles "
              "and gold_sentence (or set kind to \"unanswerable\"), then move the file to evals/cases_*.jsonl")
        return 0
    rows = store.list(rating=-1 if args.down else None)
    if args.json:
        print(json.dumps([fb.to_json() for fb in rows], ensure_ascii=False))
        return 0
    if not rows:
        print(f"no feedback yet in {store.path}")
    for fb in rows:
        thumb = "+1" if fb.rating > 0 else "-1"
        said = fb.answer.get("answer", "") if fb.answer else ""
        print(f"#{fb.id} {fb.created} {thumb} {fb.user or '-'}: {fb.question}\n    answer: {said}"
              + (f"\n    comment: {fb.comment}" if fb.comment else ""))
    return 0


def register_cli(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "feedback", parents=[common], help="list the web chat's thumbs up/down, or export them as eval cases",
        description="List the feedback given on answers in the web chat (stored in vectorstore/feedback.sqlite3), "
                    "or write the thumbs-down ones as eval cases with the gold answer left to fill in.")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--down", action="store_true", help="only thumbs down")
    p.add_argument("--export", metavar="FILE", help="write the thumbs-down answers as eval cases (JSON Lines)")
    p.set_defaults(func=cmd_feedback)
