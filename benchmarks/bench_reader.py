"""The reader against a gold file: per file, is the title, the date and the body right; pages per second; a
table per site. Optionally the same pages through another postqa source tree (``--baseline-src``), side by side.

The gold file (``benchmarks/reader/gold.jsonl``) has one line per page: ``file`` (relative to ``--pages``),
``title``, ``date`` (YYYY-MM-DD or null), ``first`` (how the body starts), ``last`` (how it ends; null when the
stored page was cut short, ``cut`` says so), ``junk`` (strings that must not be in the body). The pages
themselves are not in the repository: they are public pages from the search corpus, saved under a scratch
folder (see benchmarks/reader/README.md).

    nice -n 19 .venv/bin/python benchmarks/bench_reader.py --pages /work/scratch/reader/pages \\
        --baseline-src /work/scratch/reader/before/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_GOLD = REPO / "benchmarks" / "reader" / "gold.jsonl"


def read_pages(pages: Path, repeat: int) -> dict[str, Any]:
    """What the reader of the postqa on sys.path makes of every page, and the best time of ``repeat`` reads."""
    from postqa.reading.corpus import read_corpus

    best = float("inf")
    result = None
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        result = read_corpus([pages])
        best = min(best, time.perf_counter() - t0)
    assert result is not None
    root = pages.resolve().name
    out = {}
    for a in result.articles:
        rel = a.source[len(root) + 1:] if a.source.startswith(root + "/") else a.source
        out[rel] = {"title": a.title, "date": a.published.isoformat() if a.published else None, "text": a.text}
    return {"articles": out, "seconds": best, "problems": [str(p) for p in result.problems]}


def _norm(text: str | None) -> str:
    return " ".join((text or "").replace("’", "'").split()).casefold()


def judge(gold: dict[str, Any], got: dict[str, Any] | None) -> dict[str, bool]:
    """title / date / body right for one page (body: starts and, unless cut, ends as the gold says; no junk)."""
    if got is None:
        return {"title": False, "date": False, "body": False}
    body = _norm(got["text"])
    body_ok = body.startswith(_norm(gold["first"])) and (gold.get("last") is None or body.endswith(_norm(gold["last"])))
    body_ok = body_ok and not any(_norm(j) in body for j in gold.get("junk", []))
    return {"title": _norm(got["title"]) == _norm(gold["title"]), "date": got["date"] == gold["date"],
            "body": body_ok}


def table(gold: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> str:
    """Markdown: per site, pages right / pages tried (title, date, body, all three) for every run."""
    sites: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for g in gold:
        sites[g["file"].split("/")[0]].append(g)
    head = "| site | pages | " + " | ".join(f"{name}: title / date / body / all" for name in runs) + " |"
    lines = [head, "|" + "---|" * (2 + len(runs))]
    totals = {name: [0, 0, 0, 0] for name in runs}
    for site, items in sorted(sites.items()):
        cells = []
        for name, run in runs.items():
            verdicts = [judge(g, run["articles"].get(g["file"])) for g in items]
            counts = [sum(v[k] for v in verdicts) for k in ("title", "date", "body")]
            counts.append(sum(all(v.values()) for v in verdicts))
            totals[name] = [t + c for t, c in zip(totals[name], counts, strict=True)]
            cells.append(" / ".join(str(c) for c in counts))
        lines.append(f"| {site} | {len(items)} | " + " | ".join(cells) + " |")
    lines.append(f"| **all** | {len(gold)} | " + " | ".join(" / ".join(str(c) for c in totals[n]) for n in runs) + " |")
    return "\n".join(lines)


def speed(runs: dict[str, dict[str, Any]], n_files: int) -> str:
    rows = ["| run | pages read | best seconds | pages / second |", "|---|---|---|---|"]
    for name, run in runs.items():
        rows.append(f"| {name} | {n_files} | {run['seconds']:.3f} | {n_files / run['seconds']:.1f} |")
    return "\n".join(rows)


def details(gold: list[dict[str, Any]], runs: dict[str, dict[str, Any]]) -> str:
    rows = ["| file | cut | " + " | ".join(runs) + " |", "|---|---|" + "---|" * len(runs)]
    for g in gold:
        cells = []
        for run in runs.values():
            v = judge(g, run["articles"].get(g["file"]))
            cells.append("ok" if all(v.values()) else "wrong " + ",".join(k for k, ok in v.items() if not ok))
        rows.append(f"| {g['file']} | {'yes' if g.get('cut') else ''} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def baseline(src: Path, pages: Path, repeat: int) -> dict[str, Any]:
    """The same read through another source tree, in a subprocess (two versions of one package cannot share a
    process)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run([sys.executable, __file__, "--emit", "--pages", str(pages), "--repeat", str(repeat)],
                          env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(proc.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=Path, required=True, help="folder of pages (one sub-folder per site)")
    ap.add_argument("--gold", type=Path, default=DEFAULT_GOLD)
    ap.add_argument("--baseline-src", type=Path, help="a src/ folder of another postqa version to compare")
    ap.add_argument("--repeat", type=int, default=3, help="reads of the folder; the best time counts")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--emit", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.emit:
        print(json.dumps(read_pages(args.pages, args.repeat)))
        return 0
    gold = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    runs: dict[str, dict[str, Any]] = {}
    if args.baseline_src:
        runs["baseline"] = baseline(args.baseline_src, args.pages, args.repeat)
    sys.path.insert(0, str(REPO / "src"))
    runs["this reader"] = read_pages(args.pages, args.repeat)
    n_files = sum(1 for p in args.pages.rglob("*") if p.is_file() and not p.name.startswith("."))
    print(f"## Reader benchmark: {len(gold)} gold pages under {args.pages}\n")
    print(table(gold, runs) + "\n")
    print(speed(runs, n_files) + "\n")
    print(details(gold, runs))
    if args.json:
        verdicts = {name: {g["file"]: judge(g, run["articles"].get(g["file"])) for g in gold}
                    for name, run in runs.items()}
        args.json.write_text(json.dumps({"verdicts": verdicts, "seconds": {n: r["seconds"] for n, r in runs.items()}},
                                        indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
