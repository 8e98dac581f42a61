"""Per-question cost of the extractive answer path: p50/p95 of `Assistant.ask` and where the time goes, stage
by stage (exclusive wall time), with every encoder call counted (texts, word pieces) and charged to the stage
that made it. This tree beside another checkout in the same run (`--versus SRC`), alternated per round.

    nice -n 10 .venv/bin/python benchmarks/bench_answer.py                      # the suite over corpus/
    nice -n 10 .venv/bin/python benchmarks/bench_answer.py --versus /path/to/checkout/src --rounds 2
    # a larger corpus: the store of a corpus folder (ingested once under --workdir) and its own cases
    nice -n 10 .venv/bin/python benchmarks/bench_answer.py --corpus DIR --cases FILE.jsonl
    # an existing store (e.g. a bench_query tier; its config file), questions from the suite:
    nice -n 10 .venv/bin/python benchmarks/bench_answer.py --config STORE/postqa.toml --no-ingest

Stages are the answerer's own functions, timed by wrapping them in the child process (src/ is not changed);
a stage's time excludes the stages it calls, and `encoder (X)` is the ONNX/sentence-transformers time a
stage X spent. `other` is the rest of `Assistant.ask` (news-aware filters, follow-up logic, glue).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_RESULTS, REPO, git_state, loadavg, machine, pct, table, write_json  # noqa: E402


class Stages:
    """Exclusive wall time per stage name, per question; a stack so nested stages are not counted twice."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []  # [name, start, time spent in children, cpu start, cpu in children]
        self.totals: dict[str, float] = defaultdict(float)
        self.counts: dict[str, float] = defaultdict(float)

    def wrap(self, obj: Any, attr: str, name: str | Callable[[], str]) -> None:
        inner = getattr(obj, attr)

        @functools.wraps(inner)
        def timed(*args: Any, **kwargs: Any) -> Any:
            label = name() if callable(name) else name
            self.stack.append([label, time.perf_counter(), 0.0, time.thread_time(), 0.0])
            try:
                return inner(*args, **kwargs)
            finally:
                label, t0, child, c0, cchild = self.stack.pop()
                spent, cpu = time.perf_counter() - t0, time.thread_time() - c0
                self.totals[label] += spent - child
                self.totals[f"cpu:{label}"] += cpu - cchild
                if self.stack:
                    self.stack[-1][2] += spent
                    self.stack[-1][4] += cpu
        setattr(obj, attr, timed)

    def parent(self) -> str:
        return self.stack[-1][0] if self.stack else "outside"

    def reset(self) -> dict[str, float]:
        out = dict(self.totals), dict(self.counts)
        self.totals.clear()
        self.counts.clear()
        return {**{k: v * 1000 for k, v in out[0].items()}, **{f"#{k}": v for k, v in out[1].items()}}


def instrument(assistant: Any, stages: Stages) -> None:
    """Wrap the answer path's stages (whatever exists in this tree: older checkouts lack some)."""
    import postqa.answering.answer as answer_mod

    ans = assistant.answerer
    stages.wrap(assistant.retriever, "retrieve", "retrieval")
    stages.wrap(ans.analyser, "analyse", "question parse")
    stages.wrap(ans, "implied_label", "question parse")
    stages.wrap(ans.ranker, "sentences", "sentence candidates")
    stages.wrap(ans.ranker, "rank", "sentence ranking")
    for attr, label in (("_soft", "word similarity"), ("embed", "sentence embedding"),
                        ("embed_query", "sentence embedding")):
        if hasattr(ans.ranker, attr):
            stages.wrap(ans.ranker, attr, label)
    for attr, label in (("prefetch", "word similarity"), ("select", "candidates/scoring"), ("judge", "refusal")):
        if hasattr(ans, attr):
            stages.wrap(ans, attr, label)
    stages.wrap(answer_mod.refusal, "missing", "refusal")
    stages.wrap(assistant, "finish", "rendering")
    stages.wrap(assistant, "ask", "other")


def count_encoder(stages: Stages) -> None:
    """Charge every encoder call to the stage that made it; count calls, texts and word pieces."""
    from postqa.index.embedding.onnx_runtime import OnnxEmbedder
    from postqa.index.embedding.sbert import SentenceTransformerEmbedder

    for cls in (OnnxEmbedder, SentenceTransformerEmbedder):
        inner = cls.embed_documents

        def counted(self: Any, texts: Any, _inner: Any = inner) -> Any:
            where = stages.parent()
            stages.counts[f"calls ({where})"] += 1
            stages.counts[f"texts ({where})"] += len(texts)
            stages.counts[f"pieces ({where})"] += sum(self.count_tokens(list(texts))) + 2 * len(texts)
            return _inner(self, texts)
        cls.embed_documents = counted  # type: ignore[method-assign]
    stages.wrap(OnnxEmbedder, "embed_documents", lambda: f"encoder ({stages.parent()})")
    stages.wrap(SentenceTransformerEmbedder, "embed_documents", lambda: f"encoder ({stages.parent()})")


def child(args: argparse.Namespace) -> None:
    """Run inside the tree under test: build the assistant, ask every case, print one JSON line per question."""
    import postqa
    from postqa.core.config import load_settings
    from postqa.interfaces.evaluation import eval_settings, load_cases
    from postqa.service.pipeline import build_assistant, ingest

    tree_config = Path(postqa.__file__).resolve().parents[2] / "postqa.toml"  # the tree under test's own
    base = load_settings(args.config or tree_config, environ={})
    settings = base if args.no_ingest else eval_settings(base, args.store, None, corpus=args.corpus)
    if args.threads:
        settings = settings.with_overrides(**{"embedding.threads": args.threads})
    if not args.no_ingest:
        ingest(settings)
    stages = Stages()
    count_encoder(stages)
    assistant = build_assistant(settings)
    instrument(assistant, stages)
    cases = load_cases([Path(p) for p in args.cases]) if args.cases else load_cases()
    assistant.ask("warm-up question about the news")  # first-call costs (sessions, files) stay out
    stages.reset()
    for case in cases[: args.limit or None]:
        t0, c0 = time.perf_counter(), time.process_time()
        answer = assistant.ask(case.question, history=list(case.history))
        ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
        print(json.dumps({"id": case.id, "ms": ms, "cpu_ms": cpu, "answer": answer.text, "kind": answer.kind,
                          "stages": stages.reset()}), flush=True)


def run_tree(src: Path, args: argparse.Namespace, store: Path) -> list[dict[str, Any]]:
    env = {**os.environ, "PYTHONPATH": str(src), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "POSTQA_MODELS_DIR": os.environ.get("POSTQA_MODELS_DIR", str(REPO / "models")),
           "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, __file__, "--child", "--store", str(store), "--corpus", str(args.corpus),
           "--limit", str(args.limit), "--threads", str(args.threads)]
    cmd += ["--config", str(args.config)] if args.config else []
    cmd += ["--no-ingest"] if args.no_ingest else []
    for c in args.cases or []:
        cmd += ["--cases", str(c)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{src}: {out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def _rev(src: Path) -> str:
    out = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"{src.parent.name}@{out.stdout.strip() or '?'}"


def report(label: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    ms, cpu = [r["ms"] for r in rows], [r["cpu_ms"] for r in rows]
    per: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for k, v in r["stages"].items():
            per[k].append(v)
    def full(v: list[float]) -> list[float]:
        return v + [0.0] * (len(rows) - len(v))

    stage_rows = [{"stage": k, "mean ms": sum(v) / len(rows), "p95 ms": pct(full(v), 95),
                   "cpu mean ms": sum(per.get(f"cpu:{k}", [])) / len(rows),
                   "cpu p95 ms": pct(full(per.get(f"cpu:{k}", [])), 95)}
                  for k, v in sorted(per.items()) if not k.startswith(("#", "cpu:"))]
    stage_rows.sort(key=lambda r: -r["cpu mean ms"])
    counts = [{"stage": k[1:], "mean ms": sum(v) / len(rows)} for k, v in sorted(per.items()) if k.startswith("#")]
    print(table(stage_rows, ["stage", "mean ms", "p95 ms", "cpu mean ms", "cpu p95 ms"],
                f"{label}: stages (exclusive ms per question: wall, and the thread's CPU)"))
    print(table(counts, ["stage", "mean ms"], f"{label}: encoder work per question (mean count)"))
    return {"label": label, "questions": len(rows), "p50_ms": round(pct(ms, 50), 1), "p95_ms": round(pct(ms, 95), 1),
            "mean_ms": round(sum(ms) / len(ms), 1), "cpu_p50_ms": round(pct(cpu, 50), 1),
            "cpu_p95_ms": round(pct(cpu, 95), 1), "stages": stage_rows, "counts": counts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--corpus", type=Path, default=REPO / "corpus", help="corpus folder (default corpus/)")
    ap.add_argument("--cases", action="append", help="case JSONL (default evals/cases*.jsonl); repeatable")
    ap.add_argument("--config", type=Path, help="config of an existing store (with --no-ingest)")
    ap.add_argument("--no-ingest", action="store_true", help="use the config's store as it is")
    ap.add_argument("--store", type=Path, help="store folder (default under --workdir, per tree)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/postqa-bench/answer"))
    ap.add_argument("--versus", type=Path, metavar="SRC", help="another checkout's src/ to compare with")
    ap.add_argument("--rounds", type=int, default=1, help="passes over the cases per tree, alternated")
    ap.add_argument("--limit", type=int, default=0, help="first N cases only")
    ap.add_argument("--threads", type=int, default=0, help="[embedding] threads (default: the serving 1)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "answer.json")
    args = ap.parse_args()
    if args.child:
        return child(args)
    trees = [REPO / "src"] + ([args.versus.resolve()] if args.versus else [])
    got: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _ in range(args.rounds):
        for i, src in enumerate(trees):
            tag = hashlib.sha1(str(args.corpus.resolve()).encode()).hexdigest()[:8]
            store = args.store or args.workdir / f"store-{i}-{tag}"
            got[_rev(src) if args.versus else "this tree"] += run_tree(src, args, store)
    print(f"load average {loadavg()}\n")
    summaries = [report(label, rows) for label, rows in got.items()]
    cols = ["label", "questions", "p50_ms", "p95_ms", "mean_ms", "cpu_p50_ms", "cpu_p95_ms"]
    print(table(summaries, cols, "Assistant.ask per question (wall, and the process's CPU)"))
    if len(got) == 2:
        (a, ra), (b, rb) = got.items()
        same = sum(x["answer"] == y["answer"] for x, y in zip(ra, rb, strict=False))
        print(f"\nanswers equal between {a} and {b}: {same}/{min(len(ra), len(rb))}")
    write_json(args.out, {"machine": machine(), "git": git_state(), "summaries": summaries,
                          "rows": {k: v for k, v in got.items()}})


if __name__ == "__main__":
    main()
