"""The `postqa eval` and `postqa calibrate` commands: arguments, stores, printing; the work is in the runners."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postqa.answering.answerability import MODEL_FILE
from postqa.interfaces.evaluation.calibration import calibrate
from postqa.interfaces.evaluation.cases import CALIBRATION_FILE, REPORTS_DIR, EvalError, load_cases
from postqa.interfaces.evaluation.external import evaluate_external, external_markdown, external_table
from postqa.interfaces.evaluation.reports import (
    cell,
    compare_table,
    print_summary,
    report_regressions,
    slug,
    write_report,
)
from postqa.interfaces.evaluation.scoring import check_thresholds
from postqa.interfaces.evaluation.suite import eval_settings, evaluate, git_commit

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.config import Settings


def _progress(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)

    return show


def _base_settings(args: argparse.Namespace) -> Settings:
    from postqa.core.config import load_settings

    return load_settings(args.config)


def _store_for(args: argparse.Namespace, name: str) -> tuple[Path, tempfile.TemporaryDirectory[str] | None]:
    if args.store:
        return Path(args.store), None
    tmp = tempfile.TemporaryDirectory(prefix=f"postqa-eval-{slug(name)}-")
    return Path(tmp.name), tmp


def cmd_eval(args: argparse.Namespace) -> int:
    base = _base_settings(args)
    out_dir = Path(args.out)
    if args.dataset:
        return _cmd_external(args, base, out_dir)
    cases = load_cases(args.cases or None)
    if args.limit:
        cases = cases[: args.limit]
    models = args.compare or [args.embedding_model or base.embedding.model]
    runs, failed = [], False
    for model in models:
        store, tmp = _store_for(args, model)
        try:
            settings = eval_settings(
                base,
                store / slug(model) if args.compare and args.store else store,
                model,
                corpus=Path(args.corpus) if args.corpus else None,
            )
            run = evaluate(settings, cases, progress=_progress(f"eval {model}"))
        finally:
            if tmp is not None:
                tmp.cleanup()
        json_path, md_path = write_report(run, out_dir)
        runs.append(run)
        if args.json and not args.compare:
            print(
                json.dumps(
                    {"meta": run["meta"], "summary": run["summary"], "report": str(json_path)},
                    ensure_ascii=False,
                )
            )
        else:
            print_summary(run)
            print(f"report: {json_path} and {md_path.name}")
            report_regressions(run, out_dir, json_path)
        misses = [] if args.limit else check_thresholds(run["summary"])
        for miss in misses:
            print(f"THRESHOLD {model}: {miss}", file=sys.stderr)
        failed = failed or bool(misses)
    if args.compare:
        table = compare_table(runs)
        if args.json:
            print(
                json.dumps([{"meta": r["meta"], "summary": r["summary"]} for r in runs], ensure_ascii=False)
            )
        else:
            print()
            print(table)
    return 1 if failed else 0


def _cmd_external(args: argparse.Namespace, base: Settings, out_dir: Path) -> int:
    dataset = Path(args.dataset)
    if not (dataset / "dev.jsonl").is_file():
        raise EvalError(
            f"--dataset {str(dataset)!r} has no dev.jsonl; point it at a folder with "
            "articles.jsonl and dev.jsonl"
        )
    model = args.embedding_model or base.embedding.model
    size = "all" if args.articles is None else f"{args.articles}"
    store = (
        Path(args.store)
        if args.store
        else Path(tempfile.gettempdir())
        / "postqa-eval"
        / f"{slug(dataset.resolve().name)}-{args.limit or 'all'}q-{size}"
    )
    settings = eval_settings(base, store, model)
    run = evaluate_external(
        settings,
        dataset,
        limit=args.limit,
        distractors=args.articles,
        progress=_progress(f"eval {dataset.name}"),
    )
    json_path, md_path = write_report(run, out_dir, external_markdown)
    if args.json:
        print(
            json.dumps(
                {"meta": run["meta"], "summary": run["summary"], "report": str(json_path)}, ensure_ascii=False
            )
        )
    else:
        m = run["meta"]
        print(
            f"{m['dataset']}: {m['questions']} questions, {m['articles']} articles, {m['chunks']} chunks, "
            f"model {m['model']} (store {m['store']}; ingest {m['ingest_s']} s)"
        )
        print(external_table(run))
        print(f"report: {json_path} and {md_path.name}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    base = _base_settings(args)
    cases = load_cases(args.cases or [CALIBRATION_FILE])
    model = args.embedding_model or base.embedding.model
    store, tmp = _store_for(args, model)
    corpus = Path(args.corpus) if args.corpus else None
    meta = {"cases": [str(p) for p in (args.cases or [CALIBRATION_FILE])], "corpus": str(corpus or base.paths.corpus),
            "commit": git_commit()}
    try:
        result = calibrate(eval_settings(base, store, model, corpus=corpus), cases, fit=args.fit, meta=meta)
    finally:
        if tmp is not None:
            tmp.cleanup()
    fitted = result.pop("answerability", None)
    if fitted is not None:
        out = Path(args.model_out) if args.model_out else MODEL_FILE
        fitted["model"].save(out)
        result["answerability"] = {"file": str(out), "best": fitted["best"], "table": fitted["table"],
                                   "model": fitted["model"].to_json()}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    n_ans = sum(c["answerable"] for c in result["cases"])
    print(
        f"calibration: {len(result['cases'])} cases ({n_ans} answerable, {len(result['cases']) - n_ans} "
        f"unanswerable), model {result['model']}"
    )
    print("| id | answerable | span | confidence | right | got |\n|---|---|---|---|---|---|")
    for c in sorted(result["cases"], key=lambda c: c["confidence"]):
        print(
            f"| {c['id']} | {'yes' if c['answerable'] else 'no'} | {'yes' if c['has_span'] else 'no'} | "
            f"{c['confidence']:.3f} | {'yes' if c['correct'] else '-'} | {cell(c['got'], 50)} |"
        )
    print(
        "\n| min_confidence | refusal precision | refusal recall | refusal F1 | coverage | answered right |\n"
        "|---|---|---|---|---|---|"
    )
    for row in result["table"]:
        if row["threshold"] * 100 % args.step_pct == 0 or row["threshold"] == result["best"]["threshold"]:
            print(
                f"| {row['threshold']:.2f} | {row['refusal_precision']:.3f} | {row['refusal_recall']:.3f} | "
                f"{row['refusal_f1']:.3f} | {row['coverage']:.3f} | {row['answered_right']:.3f} |"
            )
    b = result["best"]
    print(
        f"\nbest min_confidence: {b['threshold']:.2f} (refusal F1 {b['row']['refusal_f1']:.3f} "
        "is best for every "
        f"threshold from {b['range'][0]:.2f} to {b['range'][1]:.2f}; the middle of that range is chosen)"
    )
    if "answerability" in result:
        _print_answerability(result["answerability"], args.step_pct)
    return 0


def _print_answerability(fitted: dict[str, Any], step_pct: int) -> None:
    model, b = fitted["model"], fitted["best"]
    print("\nanswerability model (standardised coefficients):")
    for name, coef in zip(model["features"], model["coef"], strict=True):
        print(f"  {name:16s} {coef:+.3f}")
    print(f"  {'intercept':16s} {model['intercept']:+.3f}")
    near = model.get("near")
    if near:
        own = near["meta"]["own_threshold"]
        print(f"\nnear-miss model (answerable against near-miss; its own threshold {own:.2f}):")
        for name, coef in zip(near["features"], near["coef"], strict=True):
            print(f"  {name:16s} {coef:+.3f}")
    print(
        "\n| min_answerability | refusal precision | refusal recall | refusal F1 | coverage | answered right |\n"
        "|---|---|---|---|---|---|"
    )
    for row in fitted["table"]:
        if row["threshold"] * 100 % step_pct == 0 or row["threshold"] == b["threshold"]:
            print(
                f"| {row['threshold']:.2f} | {row['refusal_precision']:.3f} | {row['refusal_recall']:.3f} | "
                f"{row['refusal_f1']:.3f} | {row['coverage']:.3f} | {row['answered_right']:.3f} |"
            )
    print(
        f"\nanswerability threshold: {b['threshold']:.2f} (refusal F1 {b['row']['refusal_f1']:.3f}, best from "
        f"{b['range'][0]:.2f} to {b['range'][1]:.2f}); model written to {fitted['file']}"
    )


def register_cli(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Add `postqa eval` and `postqa calibrate`."""
    p = subparsers.add_parser(
        "eval",
        parents=[common],
        help="run the fixed Q&A suite (or an external QA set) and write a report",
        description="Evaluate retrieval, answers, citations, refusals and latency on evals/cases*.jsonl over "
        "corpus/ (ingested into a store of its own), write evals/reports/<timestamp>-<model>.json "
        "and .md, and print the regressions against the previous run.",
    )
    p.add_argument(
        "--compare", nargs="+", metavar="MODEL", help="evaluate each model and print a side-by-side table"
    )
    p.add_argument("--dataset", metavar="DIR", help="an external QA folder (articles.jsonl + dev.jsonl)")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N cases / dev questions")
    p.add_argument(
        "--articles",
        type=int,
        metavar="M",
        help="--dataset: the gold articles plus M distractors instead of every article",
    )
    p.add_argument(
        "--cases", action="append", metavar="FILE", help="case file(s) (default: evals/cases*.jsonl)"
    )
    p.add_argument("--corpus", metavar="DIR", help="the corpus to ingest (default: [paths] corpus)")
    p.add_argument(
        "--store",
        metavar="DIR",
        help="reuse this store folder (default: a fresh temporary one; "
        "for --dataset: a cache under the temp dir)",
    )
    p.add_argument(
        "--out", metavar="DIR", default=str(REPORTS_DIR), help="report folder (default: evals/reports)"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_eval)

    _register_calibrate(subparsers, common)


def _register_calibrate(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "calibrate",
        parents=[common],
        help="sweep answer.min_confidence over evals/calibration.jsonl",
        description="Ask the calibration cases once, then sweep [answer] min_confidence and print refusal "
        "precision / recall / F1 and coverage per threshold, and the best threshold.",
    )
    p.add_argument(
        "--cases", action="append", metavar="FILE", help="calibration cases (default: evals/calibration.jsonl)"
    )
    p.add_argument("--corpus", metavar="DIR", help="the corpus to ingest (default: [paths] corpus)")
    p.add_argument("--store", metavar="DIR", help="reuse this store folder (default: a temporary one)")
    p.add_argument(
        "--fit",
        action="store_true",
        help="also fit the answerability model on the cases, choose its threshold, and write it",
    )
    p.add_argument(
        "--model-out",
        metavar="FILE",
        help="--fit: where to write the model (default: the package's answering/answerability.json)",
    )
    p.add_argument(
        "--step-pct", type=int, default=5, metavar="N", help="print every N hundredths (default 5)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)
