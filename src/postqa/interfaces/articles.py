"""The `postqa articles` command: every indexed article, with how it was read and the reader's warnings."""

from __future__ import annotations

import argparse
import json
from typing import Any

from postqa.interfaces.common import load_cli_settings


def _line(row: dict[str, Any]) -> str:
    date = row["date"] or "undated"
    return f"{row['id']}  {date:<10}  {row['chunks']:>3} chunks  {row['title'][:90]}  ({row['source']})"


def cmd_articles(args: argparse.Namespace) -> int:
    from postqa.service.pipeline import list_articles

    rows = list_articles(load_cli_settings(args))
    if args.warnings:
        rows = [r for r in rows if r["warnings"]]
    if args.json:
        print(json.dumps([{**r, "date": r["date"] or None} for r in rows], ensure_ascii=False))
        return 0
    if not rows:
        print("no articles with warnings" if args.warnings else "no articles indexed yet; run `postqa ingest`")
        return 0
    for row in rows:
        print(_line(row))
        for warning in row["warnings"]:
            print(f"    warning: {warning}")
    flagged = sum(1 for r in rows if r["warnings"])
    print(f"{len(rows)} articles, {flagged} with warnings")
    return 0


def register_cli(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("articles", parents=[common], help="list indexed articles and the reader's warnings",
                              description="Every indexed article, newest first: id, date, chunks, title, source, "
                                          "and what the reader was unsure of (no date found, title from the file "
                                          "name, very short body, most of the page removed).")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of {id, title, date, source, url, chunks, layout, warnings}")
    p.add_argument("--warnings", action="store_true", help="only articles with warnings")
    p.set_defaults(func=cmd_articles)
