"""Extractive vs generative answers on evals/cases.jsonl: accuracy, citation validity, seconds a question.

Each case is retrieved and answered extractively once; the same extractive Answer is then refined by the
configured generator, so both columns see identical passages. Prints one table.

    python benchmarks/generation_eval.py --provider llama-cpp --model-path "$(bash scripts/install_gguf.sh)" \
        --limit 15
    python benchmarks/generation_eval.py --provider openai-compatible --base-url http://127.0.0.1:8080/v1 \
        --model qwen2.5

Accuracy: an answerable case is right when the answer is given (not refused) and contains one of its
answer aliases (case-insensitive); an unanswerable case is right when the answer is refused. Containment
favours long generated answers a little. Citation validity: share of given answers whose every citation
re-checks: the cited passage is in a retrieved chunk, and each cited sentence (extractive: the answer span)
is supported by it (postqa.answering.generate.Checker). "raw cites ok": share of generated answers the checker did
not have to repair (nothing dropped, removed or re-cited).

Several case files may be given (``--cases`` repeated; ``--limit`` spreads over each file); ``--corpus`` and
``--vectorstore`` point at another corpus and its store (e.g. the held-apart corpus that
evals/test_heldout.py builds and caches under the temp dir); ``--threads`` sets the generator's CPU threads
and ``--budget-s`` stops asking new cases after that many seconds, so a run on a shared machine is bounded.
Per-kind and per-file accuracy are printed below the table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def load_cases(path: Path, limit: int | None, kinds: set[str] | None) -> list[dict[str, Any]]:
    cases = [{**json.loads(line), "file": f"{path.parent.name}/{path.name}"}
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if kinds:
        cases = [c for c in cases if c["kind"] in kinds]
    if limit and limit < len(cases):
        # an even spread over the file, so every kind is represented
        step = len(cases) / limit
        cases = [cases[int(i * step)] for i in range(limit)]
    return cases


def correct(case: dict[str, Any], answer: Any) -> bool:
    """Refused when the case has no answer; else given and holding an alias (the eval suite's matching)."""
    from postqa.interfaces.evaluation import contains_answer

    aliases = case.get("answers") or []
    if not aliases:
        return not answer.answerable
    return bool(answer.answerable) and contains_answer(answer.text, aliases)


def citations_valid(answer: Any, grounded: Any) -> bool:
    """Re-check every citation of an answer against the hits it came from."""
    from postqa.answering.generate import Checker, split_reply

    if not answer.answerable:
        return True
    if not answer.citations:
        return False
    chunks = {h.chunk.id: h.chunk for h in answer.hits}
    for c in answer.citations:
        chunk = chunks.get(c.chunk_id)
        if chunk is None or c.passage not in chunk.text:
            return False
    markers = re.findall(r"\[(\d+)\]", answer.text)
    if not markers:  # extractive: the answer is a span of a cited passage
        def norm(t: str) -> str:
            return re.sub(r"\s+", " ", t).lower().strip(" .")

        return any(norm(answer.text) in norm(c.passage) for c in answer.citations)
    by_n = {c.n: c for c in answer.citations}
    if any(int(n) not in by_n for n in markers):
        return False
    sources = grounded.sources(answer)
    by_chunk = {s.chunk.id: s for s in sources}
    checker = Checker(sources, grounded.embed, grounded.lexical_min, grounded.cosine_min)
    for sentence in split_reply(answer.text):
        text = re.sub(r"\[\d+\]", " ", sentence)
        for n in re.findall(r"\[(\d+)\]", sentence):
            src = by_chunk.get(by_n[int(n)].chunk_id)
            if src is None or checker.support(text, src.passage.n)[0] <= 0:
                return False
    return True


def print_groups(rows: list[dict[str, Any]]) -> None:
    """Accuracy of both paths per case file and per kind."""
    print(f"\n{'group':<30}{'n':>4}{'extractive':>12}{'generator':>11}{'s/q gen':>9}")
    groups = [(f"file: {f}", [r for r in rows if r["file"] == f]) for f in sorted({r["file"] for r in rows})]
    groups += [(f"kind: {k}", [r for r in rows if r["kind"] == k]) for k in sorted({r["kind"] for r in rows})]
    for name, g in groups:
        print(f"{name:<30}{len(g):>4}{sum(r['ext_ok'] for r in g):>7}/{len(g):<4}"
              f"{sum(r['gen_ok'] for r in g):>6}/{len(g):<4}{sum(r['gen_s'] for r in g) / len(g):>9.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", default=None, help="postqa.toml (default: the usual lookup)")
    ap.add_argument("--cases", action="append", default=None,
                    help="case file, FILE or FILE:N for a spread N of it (repeatable; default: evals/cases.jsonl)")
    ap.add_argument("--limit", type=int, default=None, help="a spread subset of N cases of each file")
    ap.add_argument("--kinds", default="", help="comma-separated case kinds to keep")
    ap.add_argument("--provider", default=None, help="generator provider (default: from config)")
    ap.add_argument("--model-path", default=None)
    ap.add_argument("--base-url", default=None)
    ap.add_argument("--model", default=None)
    ap.add_argument("--timeout", type=float, default=None)
    ap.add_argument("--max-tokens", type=int, default=None)
    ap.add_argument("--refine-refusals", action="store_true",
                    help="also send questions the extractive answer refused to the generator")
    ap.add_argument("--vectorstore", default=None, help="default: a temporary store built from corpus/")
    ap.add_argument("--corpus", default=None, help="corpus folder to ingest (default: corpus/)")
    ap.add_argument("--threads", type=int, default=None, help="generator CPU threads (llama-cpp)")
    ap.add_argument("--budget-s", type=float, default=None,
                    help="stop asking new cases after this many seconds (the rest are reported as not run)")
    ap.add_argument("--json", default=None, help="also write per-case results here")
    args = ap.parse_args(argv)

    from postqa.answering.generate import create_generator
    from postqa.core.config import load_settings
    from postqa.index.embedding import create_embedder
    from postqa.service.pipeline import build_assistant, ingest

    overrides: dict[str, Any] = {"embedding.threads": 1}
    for key, value in (("provider", args.provider), ("model_path", args.model_path),
                       ("base_url", args.base_url), ("model", args.model), ("timeout", args.timeout),
                       ("max_tokens", args.max_tokens), ("threads", args.threads)):
        if value is not None:
            overrides[f"generator.{key}"] = value
    tmp = tempfile.TemporaryDirectory(prefix="postqa-geneval-")
    overrides["paths.vectorstore"] = args.vectorstore or str(Path(tmp.name) / "vectorstore")
    overrides["paths.corpus"] = args.corpus or str(ROOT / "corpus")
    settings = load_settings(args.config, overrides=overrides)
    if settings.generator.provider == "none":
        ap.error("no generator configured: pass --provider (openai-compatible, llama-cpp, fake)")

    embedder = create_embedder(settings.embedding)
    if not args.vectorstore or args.corpus:  # incremental: an up-to-date store embeds nothing
        ingest(settings, embedder=embedder)
    extractive = build_assistant(settings.with_overrides(**{"generator.provider": "none"}), embedder=embedder)
    grounded = create_generator(settings.generator, embedder)
    grounded.refine_refusals = args.refine_refusals
    raw: list[str] = []  # the model's unchecked replies, for the --json report
    model_generate = grounded.generator.generate

    def recording_generate(question: str, passages: Any) -> str:
        raw.append(model_generate(question, passages))
        return raw[-1]

    grounded.generator.generate = recording_generate  # type: ignore[method-assign]

    kinds = {k.strip() for k in args.kinds.split(",") if k.strip()} or None
    specs = [c.rpartition(":") if re.search(r":\d+$", c) else (c, "", "")
             for c in (args.cases or [str(ROOT / "evals" / "cases.jsonl")])]
    files = [Path(f) for f, _, _ in specs]
    cases = [c for f, _, n in specs for c in load_cases(Path(f), int(n) if n else args.limit, kinds)]
    if cases:  # warm up: the first prompt after loading is slower
        first = extractive.ask(cases[0]["question"], history=cases[0].get("history") or ())
        grounded.refine(first)

    rows = []
    started = time.perf_counter()
    not_run: list[str] = []
    for i, case in enumerate(cases, 1):
        if args.budget_s is not None and time.perf_counter() - started > args.budget_s:
            not_run = [c["id"] for c in cases[i - 1:]]
            break
        raw.clear()
        t0 = time.perf_counter()
        ext = extractive.ask(case["question"], history=case.get("history") or ())
        t1 = time.perf_counter()
        gen = grounded.refine(ext)
        t2 = time.perf_counter()
        row = {"id": case["id"], "kind": case["kind"], "file": case["file"], "ext_ok": correct(case, ext),
               "gen_ok": correct(case, gen), "ext_cites": citations_valid(ext, grounded),
               "gen_cites": citations_valid(gen, grounded), "ext_s": t1 - t0, "gen_s": t2 - t0,
               "generated": gen.note.startswith("generated by") or "; generated by" in gen.note,
               "sent": grounded.eligible(ext), "gen_note": gen.note, "ext": ext.text, "gen": gen.text,
               "raw_reply": raw[-1] if raw else None}
        row["raw_ok"] = row["generated"] and not re.search(r"dropped|removed|matched", gen.note)
        rows.append(row)
        print(f"[{i}/{len(cases)}] {case['id']}: extractive {'ok' if row['ext_ok'] else '--'} | "
              f"generated {'ok' if row['gen_ok'] else '--'} ({row['gen_s']:.1f} s) {gen.text[:90]!r} "
              f"<{gen.note[:80]}>", file=sys.stderr, flush=True)

    n = len(rows) or 1
    given_e = [r for r in rows if r["ext"] and r["ext_ok"] is not None]
    sent = [r for r in rows if r["sent"]]
    generated = [r for r in rows if r["generated"]]
    names = ", ".join(f"{f.parent.name}/{f.name}" for f in files)
    print(f"\n{len(rows)} cases from {names}; generator: {grounded.name} "
          f"({settings.generator.provider}); embedder: {embedder.name}")
    print(f"{'':<24}{'accuracy':>10}{'cites valid':>13}{'s/question':>12}{'generated':>11}"
          f"{'raw cites ok':>14}")
    print(f"{'extractive (default)':<24}{sum(r['ext_ok'] for r in rows) / n:>10.0%}"
          f"{sum(r['ext_cites'] for r in given_e) / (len(given_e) or 1):>13.0%}"
          f"{sum(r['ext_s'] for r in rows) / n:>12.2f}{'-':>11}{'-':>14}")
    print(f"{'+ ' + grounded.name[:22]:<24}{sum(r['gen_ok'] for r in rows) / n:>10.0%}"
          f"{sum(r['gen_cites'] for r in rows) / n:>13.0%}{sum(r['gen_s'] for r in rows) / n:>12.2f}"
          f"{len(generated):>5}/{len(sent):<5}"
          f"{sum(r['raw_ok'] for r in generated):>6}/{len(generated):<7}")
    print("generated = answers that kept the model's text / questions sent to it (others fell back to the "
          "extractive answer);\nraw cites ok = generated answers the checker did not have to repair")
    print_groups(rows)
    if not_run:
        print(f"budget of {args.budget_s:.0f} s spent: {len(not_run)} cases not run ({', '.join(not_run)})")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
