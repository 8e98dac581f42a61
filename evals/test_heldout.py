"""Held-apart cases (evals/heldout/, issue 12): questions over BBC and Reuters articles that no tuning
reads, asked through the product path (`Assistant.ask`) with the real default model.

The corpus is the bundled corpus/ plus the case articles and a fixed set of distractors from
../shared/data/corpora (see evals/heldout/README.md), written to a JSONL under the temp dir (never into the
repository) and ingested into a store cached there, keyed by the corpus content and the model, so a second
run embeds nothing. The report (evals/reports/<timestamp>-<model>-heldout.json and .md) has sentence right,
span right, per kind and literal/paraphrase, refusal precision/recall, the general-knowledge refusal rate
and p50/p95 latency; the per-case rows are in the JSON only, so the .md summary shows no case. Only
completeness is asserted: the figures are measured, the thresholds are the lead's.

Skipped, with the reason, when the data is not there; POSTQA_SHARED points at another copy of shared/data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from shared_corpora import BBC, REUTERS, SHARED, case_articles, doc_number, materialise

ROOT = Path(__file__).resolve().parents[1]
HELDOUT = ROOT / "evals" / "heldout"
CASE_FILES = (HELDOUT / "cases.jsonl", HELDOUT / "general.jsonl")
BBC_DISTRACTORS = 30  # per category: the articles numbered 001..030
REUTERS_DISTRACTORS = 45  # the first TEST-split articles with a body, in file order
REFUSE_KINDS = ("unanswerable", "general")
# "span right" wants a short answer: not the whole supporting sentence (the Answer says so when it can;
# otherwise an answer more than this many words longer than the gold counts as a sentence)
SPAN_EXTRA_WORDS = 10

pytestmark = pytest.mark.external


# ------------------------------------------------------------------------------------------ data


def raw_cases() -> list[dict[str, Any]]:
    """Every held-apart case as written (with the fields postqa's Case does not keep: paraphrase, ...)."""
    rows = []
    for path in CASE_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "file": path.name})
    return rows


def load_heldout() -> list[Any]:
    """The cases as postqa's evaluation Case objects (general questions are refusals like unanswerable)."""
    from postqa.interfaces.evaluation import load_cases

    return load_cases(CASE_FILES)


def select_articles(wanted: set[str]) -> list[str]:
    """The JSON lines of the held-apart corpus: the case articles, then the distractors (README)."""
    chosen: list[str] = []
    for line in BBC.read_text(encoding="utf-8").splitlines():
        if line.strip():
            obj = json.loads(line)
            if obj["doc_id"] in wanted or doc_number(obj["doc_id"]) <= BBC_DISTRACTORS:
                chosen.append(line)
    extra = 0
    for line in REUTERS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        if obj["doc_id"] in wanted:
            chosen.append(line)
        elif extra < REUTERS_DISTRACTORS and obj.get("lewissplit") == "TEST" and obj.get("body", "").strip():
            chosen.append(line)
            extra += 1
    return chosen


def build_corpus(lines: Sequence[str], model: str) -> tuple[Path, Path]:
    """(corpus folder, store folder) under the temp dir, keyed by the corpus content and the model."""
    base = materialise("heldout", lines, salt=model)
    return base / "corpus", base / "store"


# --------------------------------------------------------------------------------------- the run


def ask_all(assistant: Any, cases: Sequence[Any]) -> list[dict[str, Any]]:
    """Ask every case through Assistant.ask; postqa's own score plus what the answer looked like."""
    from postqa.interfaces.evaluation import KS, score_case

    depth = max(KS[-1], assistant.retriever.settings.top_k)
    rows = []
    for case in cases:
        hits = assistant.retriever.retrieve(case.question, top_k=depth)
        t0 = time.perf_counter()
        answer = assistant.ask(case.question)
        ms = (time.perf_counter() - t0) * 1000
        row = asdict(score_case(case, answer, ms, hits))
        row["answer_kind"] = str(getattr(answer, "kind", "") or "")
        row["first_passage"] = answer.citations[0].passage if answer.answerable and answer.citations else ""
        rows.append(row)
    return rows


def judge(row: dict[str, Any]) -> dict[str, Any]:
    """sentence right: the first cited passage holds the gold; span right: the short answer holds it."""
    from postqa.interfaces.evaluation import normalize

    if not row["answerable"]:
        return {**row, "sentence_right": None, "span_right": None, "refused": not row["answered"]}
    gold_words = min(len(normalize(a).split()) for a in row["expected"])
    short = row["answer_kind"] != "sentence" and len(normalize(row["got"]).split()) <= gold_words + SPAN_EXTRA_WORDS
    return {
        **row,
        "sentence_right": bool(row["answered"] and row["citation_support"]),
        "span_right": bool(row["correct"] and short),
        "refused": not row["answered"],
    }


def _share(rows: Sequence[dict[str, Any]], key: str) -> float:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else 0.0


def group_figures(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["answerable"]]
    out: dict[str, Any] = {"n": len(rows)}
    if ans:
        out.update(
            sentence_right=_share(ans, "sentence_right"),
            span_right=_share(ans, "span_right"),
            answer_holds_gold=_share(ans, "correct"),
            refused=_share(ans, "refused"),
        )
    else:
        out["refused"] = _share(rows, "refused")
    return out


def summarize_heldout(rows: Sequence[dict[str, Any]], raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    from postqa.interfaces.evaluation import percentile, refusal_metrics, retrieval_metrics

    cases = [r for r in rows if r["kind"] != "general"]
    general = [r for r in rows if r["kind"] == "general"]
    ans = [r for r in rows if r["answerable"]]
    lat = [r["latency_ms"] for r in rows]
    summary: dict[str, Any] = {
        "cases": len(rows),
        "answerable": len(ans),
        "unanswerable": sum(r["kind"] == "unanswerable" for r in rows),
        "general": len(general),
        **group_figures(ans),
        **{k: round(v, 4) for k, v in retrieval_metrics([r["hit_rank"] for r in ans]).items()},
        **{k: round(v, 4) for k, v in refusal_metrics([(not r["answerable"], r["refused"]) for r in cases]).items()},
        "general_refused": _share(general, "refused"),
        "refusal_all": {
            k: round(v, 4) for k, v in refusal_metrics([(not r["answerable"], r["refused"]) for r in rows]).items()
        },
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
        "latency_ms_max": max(lat, default=0.0),
    }
    summary.pop("n", None)
    kinds = sorted({r["kind"] for r in rows})
    summary["per_kind"] = {k: group_figures([r for r in rows if r["kind"] == k]) for k in kinds}
    summary["literal_vs_paraphrase"] = {
        label: group_figures([r for r in ans if bool(raw[r["id"]].get("paraphrase")) == flag])
        for label, flag in (("literal", False), ("paraphrase", True))
    }
    return summary


def run_heldout(settings: Any) -> dict[str, Any]:
    """Ingest the held-apart corpus, ask every case, and return the report as a JSON-able dict."""
    from postqa.interfaces.evaluation import prepare_assistant
    from postqa.interfaces.evaluation.suite import git_commit

    raw = {r["id"]: r for r in raw_cases()}
    cases = load_heldout()
    assistant, info = prepare_assistant(settings)
    rows = [judge(r) for r in ask_all(assistant, cases)]
    for r in rows:
        r["paraphrase"] = bool(raw[r["id"]].get("paraphrase"))
    emb = assistant.info.get("embedding", {})
    meta = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": emb.get("model", settings.embedding.model),
        "dataset": "heldout",
        "commit": git_commit(),
        "min_confidence": settings.answer.min_confidence,
        "top_k": settings.retrieval.top_k,
        "corpus": str(settings.paths.corpus),
        "store": str(settings.paths.vectorstore),
        "case_files": [p.name for p in CASE_FILES],
        **info,
    }
    return {"meta": meta, "summary": summarize_heldout(rows, raw), "cases": rows}


# ------------------------------------------------------------------------------------------ report


HEADLINE = (
    "sentence_right", "span_right", "answer_holds_gold", "hit@1", "hit@5", "mrr",
    "refusal_precision", "refusal_recall", "general_refused", "latency_ms_p50", "latency_ms_p95",
)


def heldout_markdown(run: dict[str, Any]) -> str:
    m, s = run["meta"], run["summary"]
    lines = [
        f"# postqa held-apart eval — {m['model']} — {m['timestamp']}",
        "",
        f"commit `{m.get('commit') or '?'}`; {s['cases']} cases ({s['answerable']} answerable, "
        f"{s['unanswerable']} unanswerable, {s['general']} general) over {m.get('articles')} articles "
        f"({m.get('chunks')} chunks); ingest {m.get('ingest_s')} s; min_confidence {m.get('min_confidence')}.",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {k} | {s.get(k)} |" for k in HEADLINE),
        "",
        "| group | n | sentence right | span right | answer holds gold | refused |",
        "|---|---|---|---|---|---|",
    ]
    groups = {**{f"kind: {k}": v for k, v in s["per_kind"].items()}, **s["literal_vs_paraphrase"]}
    for name, g in groups.items():
        lines.append(
            f"| {name} | {g['n']} | {g.get('sentence_right', '-')} | {g.get('span_right', '-')} | "
            f"{g.get('answer_holds_gold', '-')} | {g.get('refused', '-')} |"
        )
    lines += ["", "Per-case rows are in the JSON report only (`cases`): reading them is looking at the held-apart",
              "set, so this summary can be read without seeing a case."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------- tests


def _require_data() -> None:
    if not (BBC.is_file() and REUTERS.is_file()):
        pytest.skip(f"held-apart corpora not found under {SHARED / 'corpora'} (set POSTQA_SHARED to shared/data)")


def test_gold_is_written_in_the_articles() -> None:
    """Every gold answer and gold sentence occurs in its article (whitespace-insensitive): a data check."""
    _require_data()
    rows = raw_cases()
    wanted = case_articles(rows)
    texts = {}
    for line in select_articles(wanted):
        obj = json.loads(line)
        if obj["doc_id"] in wanted:
            texts[obj["doc_id"]] = " ".join(f"{obj.get('title', '')} . {obj['body']}".split())
    assert wanted <= set(texts), wanted - set(texts)
    for r in rows:
        for doc in r["gold_articles"]:
            sentences = [r["gold_sentence"]] if isinstance(r["gold_sentence"], str) else r["gold_sentence"]
            assert all(" ".join(s.split()) in texts[doc] for s in sentences), r["id"]
            assert all(a in texts[doc] for a in r["answers"]), r["id"]


@pytest.fixture(scope="module")
def heldout_run(base_settings, eval_options: dict[str, Any]) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    _require_data()
    from postqa.interfaces.evaluation import eval_settings, write_report

    model = eval_options["model"] or base_settings.embedding.model
    corpus, store = build_corpus(select_articles(case_articles(raw_cases())), model)
    run = run_heldout(eval_settings(base_settings, store, model, corpus=corpus))
    json_path, md_path = write_report(run, eval_options["reports"], heldout_markdown)
    run["meta"]["report"] = str(json_path)
    print(f"\nheld-apart report: {json_path} and {md_path.name}")
    print(json.dumps({k: v for k, v in run["summary"].items() if k not in ("per_kind",)}, indent=1))
    return run


def test_every_case_is_asked_and_scored(heldout_run: dict[str, Any]) -> None:
    s = heldout_run["summary"]
    assert s["cases"] == len(raw_cases()) == len(heldout_run["cases"])
    assert s["general"] == 40 and s["unanswerable"] >= 15 and s["answerable"] >= 45, s
    for r in heldout_run["cases"]:
        if r["answerable"]:
            assert r["sentence_right"] is not None and r["span_right"] is not None, r["id"]
        assert r["latency_ms"] > 0, r["id"]
    # the corpus really holds every case article (the store did not silently drop the JSONL)
    assert heldout_run["meta"]["articles"] >= len(case_articles(raw_cases())) + 2


# Measured on main e38a37f (2026-12-02, MiniLM: span choice, answerability score, unwrapped Reuters bodies;
# docs/evals.md), less about three cases of slack, the figures of 822e1bc in brackets. A ratchet against
# regressions only: the issue 12 targets (span right 0.85, sentence right 0.95, refusal 0.9) are above these.
HELDOUT_FLOORS = {  # measured on main 264b6ba, 2026-12-02 (before that: e38a37f), less about 3 cases
    "hit@5": 0.95,  # measured 0.979 (0.979)
    "sentence_right": 0.67,  # measured 0.702 (0.670)
    "answer_holds_gold": 0.60,  # measured 0.638 (0.585)
    "span_right": 0.45,  # measured 0.489 (0.394)
    "general_refused": 0.925,  # measured 0.975, 39/40 (0.950, 38/40)
}


def test_heldout_quality_does_not_fall(heldout_run: dict[str, Any]) -> None:
    s = heldout_run["summary"]
    low = {k: (s[k], floor) for k, floor in HELDOUT_FLOORS.items() if s[k] < floor}
    assert not low, f"held-apart figures below their floors (measured, floor): {low}"
