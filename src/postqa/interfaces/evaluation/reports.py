"""Reports of a run (JSON and Markdown), the previous run of the same model, regressions and comparisons."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from postqa.core.atomic import atomic_write_text
from postqa.interfaces.evaluation.scoring import THRESHOLDS


def slug(text: str) -> str:
    name = Path(text).name if ("/" in text or "\\" in text) else text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def report_stem(run: dict[str, Any]) -> str:
    ts = run["meta"]["timestamp"].replace(":", "").replace("-", "")
    suffix = f"-{slug(run['meta']['dataset'])}" if run["meta"].get("dataset") else ""
    return f"{ts}-{slug(run['meta']['model'])}{suffix}"


def cell(value: object, width: int = 80) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.0f}"
    return str(value)


HEADLINE = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "answer_accuracy",
    "sentence_right",
    "span_right",
    "token_f1",
    "citation_support",
    "span_valid",
    "refusal_precision",
    "refusal_recall",
    "refusal_f1",
    "coverage",
    "pass_rate",
    "latency_ms_p50",
    "latency_ms_p95",
)


def markdown_report(run: dict[str, Any]) -> str:
    """The Markdown summary: headline metrics with thresholds, per kind, and one row per question."""
    meta, s = run["meta"], run["summary"]
    lines = [
        f"# postqa eval — {meta['model']} — {meta['timestamp']}",
        "",
        f"commit `{meta.get('commit') or '?'}`, {s['cases']} cases ({s['answerable']} answerable, "
        f"{s['unanswerable']} unanswerable) from {', '.join(meta.get('case_files', []))}; "
        f"min_confidence {meta.get('min_confidence')}, top_k {meta.get('top_k')}, "
        f"hybrid {meta.get('hybrid')}; ingest {meta.get('ingest_s')} s, model load {meta.get('load_s')} s.",
        "",
        "| metric | value | threshold |",
        "|---|---|---|",
    ]
    for key in HEADLINE:
        bar = THRESHOLDS.get(key)
        mark = "" if bar is None else (f"≥ {bar} {'ok' if s.get(key, 0) >= bar - 1e-9 else '**FAIL**'}")
        lines.append(f"| {key} | {fmt(s.get(key))} | {mark} |")
    lines += ["", "| kind | cases | passed | accuracy | sentence right | span right |", "|---|---|---|---|---|---|"]
    for kind, k in s["per_kind"].items():
        lines.append(f"| {kind} | {k['n']} | {k['passed']} | {k['accuracy']:.2f} | "
                     f"{k.get('sentence_right', 0.0):.2f} | {k.get('span_right', 0.0):.2f} |")
    lines += [
        "",
        "| id | kind | question | expected | got | hit rank | pass | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in run["cases"]:
        q = r["question"] if not r["history"] else f"{' / '.join(r['history'])} → {r['question']}"
        got = r["got"] if r["answered"] else f"(refused, {r['confidence']:.2f})"
        lines.append(
            f"| {r['id']} | {r['kind']} | {cell(q)} | {cell(' / '.join(r['expected']) or '(refuse)', 50)} "
            f"| {cell(got, 60)} | {r['hit_rank'] if r['hit_rank'] is not None else '-'} "
            f"| {'✓' if r['passed'] else '✗'} | {cell(r['why'], 70)} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    run: dict[str, Any], out_dir: Path, markdown: Callable[[dict[str, Any]], str] = markdown_report
) -> tuple[Path, Path]:
    """evals/reports/<timestamp>-<model>.json and .md; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(run)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    atomic_write_text(json_path, json.dumps(run, ensure_ascii=False, indent=1) + "\n")
    atomic_write_text(md_path, markdown(run))
    return json_path, md_path


def previous_report(out_dir: Path, run: dict[str, Any], exclude: Path | None = None) -> Path | None:
    """The latest earlier report of the same model (and dataset) in ``out_dir``; else the baseline."""
    model, dataset = run["meta"]["model"], run["meta"].get("dataset")
    candidates = []
    for path in sorted(out_dir.glob("*.json")):
        if path.name == "baseline.json" or (exclude and path.resolve() == exclude.resolve()):
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))["meta"]
        except (OSError, ValueError, KeyError):
            continue
        if (
            meta.get("model") == model
            and meta.get("dataset") == dataset
            and meta.get("timestamp", "") <= run["meta"]["timestamp"]
        ):
            candidates.append((meta.get("timestamp", ""), path.name, path))
    if candidates:
        return max(candidates)[2]
    baseline = out_dir / "baseline.json"
    if baseline.is_file() and not dataset:
        try:
            if json.loads(baseline.read_text(encoding="utf-8"))["meta"].get("model") == model:
                return baseline
        except (OSError, ValueError, KeyError):
            return None
    return None


LOWER_IS_BETTER = {"latency_ms_mean", "latency_ms_p50", "latency_ms_p95", "latency_ms_max"}


def regressions(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Cases that passed before and fail now, and headline metrics that got worse."""
    out = []
    before = {r["id"]: r for r in previous.get("cases", [])}
    for r in current.get("cases", []):
        old = before.get(r["id"])
        if old and old["passed"] and not r["passed"]:
            out.append(
                f"case {r['id']}: passed before ({cell(old['got'], 40)!s}), fails now "
                f"({cell(r['got'] if r['answered'] else 'refused', 40)}): {r['why']}"
            )
    ps, cs = previous.get("summary", {}), current.get("summary", {})
    old_ids, new_ids = set(before), {r["id"] for r in current.get("cases", [])}
    if old_ids != new_ids:
        out.append(f"the case set changed (+{len(new_ids - old_ids)} / -{len(old_ids - new_ids)} cases): "
                   "headline metrics are not comparable with the previous run")
        return out
    for key in HEADLINE:
        if key not in ps or key not in cs:
            continue
        if key in LOWER_IS_BETTER:
            if cs[key] > 1.5 * ps[key] + 5:  # latency is noisy: only a 50% slow-down counts
                out.append(f"{key}: {ps[key]:.0f} -> {cs[key]:.0f} ms")
        elif cs[key] < ps[key] - 1e-9:
            out.append(f"{key}: {ps[key]:.3f} -> {cs[key]:.3f}")
    return out


def improvements(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    before = {r["id"]: r for r in previous.get("cases", [])}
    return [
        r["id"]
        for r in current.get("cases", [])
        if r["id"] in before and not before[r["id"]]["passed"] and r["passed"]
    ]


def compare_table(runs: Sequence[dict[str, Any]]) -> str:
    """A side-by-side Markdown table of several runs (one column per model), then the cases they split on."""
    names = [r["meta"]["model"] for r in runs]
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for key in HEADLINE:
        lines.append(f"| {key} | " + " | ".join(fmt(r["summary"].get(key)) for r in runs) + " |")
    for key in ("ingest_s", "load_s", "dim"):
        lines.append(f"| {key} | " + " | ".join(fmt(r["meta"].get(key)) for r in runs) + " |")
    kinds = sorted({k for r in runs for k in r["summary"]["per_kind"]})
    for kind in kinds:
        cells = []
        for r in runs:
            k = r["summary"]["per_kind"].get(kind)
            cells.append(f"{k['passed']}/{k['n']}" if k else "-")
        lines.append(f"| kind: {kind} | " + " | ".join(cells) + " |")
    by_id = [{c["id"]: c for c in r["cases"]} for r in runs]
    split = [cid for cid in by_id[0] if len({bool(b.get(cid, {}).get("passed")) for b in by_id}) > 1]
    if split:
        lines += [
            "",
            "Cases the models disagree on:",
            "",
            "| case | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for cid in split:
            cells = []
            for b in by_id:
                c = b.get(cid)
                if c is None:
                    cells.append("-")
                    continue
                got = c["got"] if c["answered"] else "(refused)"
                cells.append(f"{'✓' if c['passed'] else '✗'} {cell(got, 40)} (rank {c['hit_rank'] or '-'})")
            lines.append(f"| {cid} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_summary(run: dict[str, Any], file: Any = None) -> None:
    out = file or sys.stdout
    s, meta = run["summary"], run["meta"]
    print(f"postqa eval: {meta['model']} — {s['passed']}/{s['cases']} cases passed", file=out)
    print("  " + ", ".join(f"{k} {fmt(s[k])}" for k in HEADLINE if k in s), file=out)
    print(
        "  per kind: " + ", ".join(f"{k} {v['passed']}/{v['n']}" for k, v in s["per_kind"].items()), file=out
    )
    for r in run["cases"]:
        if not r["passed"]:
            got = r["got"] if r["answered"] else "(refused)"
            print(
                f"  FAIL {r['id']}: expected {' / '.join(r['expected']) or '(refuse)'}; got {cell(got, 60)} "
                f"— {r['why']}",
                file=out,
            )


def report_regressions(
    run: dict[str, Any], out_dir: Path, written: Path | None, file: Any = None
) -> list[str]:
    """Print the regressions against the previous run of the same model; return them."""
    out = file or sys.stdout
    prev_path = previous_report(out_dir, run, exclude=written)
    if prev_path is None:
        print("regressions: no previous run of this model to compare with", file=out)
        return []
    previous = json.loads(prev_path.read_text(encoding="utf-8"))
    found = regressions(previous, run)
    better = improvements(previous, run)
    print(f"regressions against {prev_path.name}: {len(found) or 'none'}", file=out)
    for line in found:
        print(f"  - {line}", file=out)
    if better:
        print(f"  now passing: {', '.join(better)}", file=out)
    return found
