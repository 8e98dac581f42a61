"""The external news-QA dataset (articles.jsonl + dev.jsonl): the product path (Assistant.ask with each question's
date) beside the raw hybrid, dense and BM25 retrievers, in one run."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postqa.core.atomic import atomic_write_text
from postqa.interfaces.evaluation.cases import EvalError
from postqa.interfaces.evaluation.metrics import contains_answer, gold_rank, percentile, retrieval_metrics, token_f1
from postqa.interfaces.evaluation.reports import cell, fmt
from postqa.interfaces.evaluation.suite import git_commit

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.config import Settings
    from postqa.core.types import Hit


@dataclass
class ExternalQuestion:
    id: str
    question: str
    answers: list[str]
    gold: str
    question_date: str = ""


def load_external(dataset: Path, limit: int | None = None) -> list[ExternalQuestion]:
    path = dataset / "dev.jsonl"
    if not path.is_file() or not (dataset / "articles.jsonl").is_file():
        raise EvalError(f"{str(dataset)!r} must hold articles.jsonl and dev.jsonl")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            o = json.loads(line)
            out.append(
                ExternalQuestion(
                    o["id"],
                    o["question"],
                    list(o.get("answers") or []),
                    o["source_doc_id"],
                    o.get("question_date", ""),
                )
            )
    return out[:limit] if limit else out


def external_articles(
    dataset: Path, questions: Sequence[ExternalQuestion], distractors: int | None, store: Path
) -> Path:
    """The articles file to ingest: the full one, or the gold articles plus ``distractors`` others chosen
    by a stable hash of their ids (written under ``store``, never into the repository)."""
    source = dataset / "articles.jsonl"
    if distractors is None:
        return source
    gold = {q.gold for q in questions}
    keep: list[tuple[str, str]] = []
    others: list[tuple[str, str]] = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        aid = json.loads(line).get("id", "")
        (keep if aid in gold else others).append((hashlib.sha1(aid.encode()).hexdigest(), line))
    others.sort()
    chosen = [line for _, line in keep] + [line for _, line in others[:distractors]]
    store.mkdir(parents=True, exist_ok=True)
    subset = store / f"subset-{len(gold)}gold-{distractors}.jsonl"
    text = "\n".join(chosen) + "\n"
    if not subset.is_file() or subset.read_text(encoding="utf-8") != text:
        atomic_write_text(subset, text)
    return subset


# "product": what a user gets (Assistant.ask, news-aware, asked on the question's date); the others are the raw
# retrievers with the extractive answerer over their own top passages
EXTERNAL_MODES = ("product", "hybrid", "dense", "keyword")
MODE_LABELS = {"product": "product (ask, dated)", "hybrid": "raw hybrid", "dense": "dense only",
               "keyword": "BM25 only"}


def _asked_on(q: ExternalQuestion) -> date | None:
    try:
        return date.fromisoformat(q.question_date) if q.question_date else None
    except ValueError:
        return None


def _ask(assistant: Any, q: ExternalQuestion, mode: str, depth: int, k_answer: int) -> dict[str, Any]:
    """One question through one mode: the gold rank, the answer and whether it contains the answer."""
    start = time.perf_counter()
    if mode == "product":
        answer = assistant.ask(q.question, as_of=_asked_on(q))
        hits: list[Hit] = list(answer.hits)
    else:
        hits = assistant.retriever.retrieve(q.question, top_k=depth, mode=mode)
        answer = assistant.answerer.answer(q.question, hits[:k_answer])
    ms = (time.perf_counter() - start) * 1000
    return {
        "id": q.id,
        "rank": gold_rank([h.chunk.article_id for h in hits], [q.gold]),
        "cited_first": bool(answer.citations) and answer.citations[0].article_id == q.gold,
        "answered": answer.answerable,
        "got": answer.text,
        "contains": bool(answer.answerable and contains_answer(answer.text, q.answers)),
        "passage_contains": any(contains_answer(h.chunk.text, q.answers) for h in hits[:k_answer]),
        "f1": round(token_f1(answer.text, q.answers) if answer.answerable else 0.0, 4),
        "latency_ms": round(ms, 1),
    }


def _mode_summary(rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    n = len(rows) or 1
    summary = {
        **retrieval_metrics([r["rank"] for r in rows], (1, 3, 5, 10)),
        "cited@1": sum(r.get("cited_first", False) for r in rows) / n,
        "answer_containment": sum(r["contains"] for r in rows) / n,
        "answered": sum(r["answered"] for r in rows) / n,
        "containment_when_answered": (
            sum(r["contains"] for r in rows) / max(1, sum(r["answered"] for r in rows))
        ),
        "token_f1": sum(r["f1"] for r in rows) / n,
        "passage_containment@5": sum(r["passage_contains"] for r in rows) / n,
        "latency_ms_p50": percentile([r["latency_ms"] for r in rows], 50),
    }
    return {k: round(v, 4) for k, v in summary.items()}


def evaluate_external(
    settings: Settings,
    dataset: Path,
    limit: int | None = None,
    distractors: int | None = None,
    depth: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """hit@k, MRR and answer containment on an external QA set, in the same run for the product path
    (``Assistant.ask`` with each question's ``question_date`` as the date asked: ranks over its hits, at most
    ``top_k``) and for raw hybrid, dense-only and BM25-only retrieval (ranks over ``depth`` passages; the
    extractive answerer reads each mode's own top passages)."""
    from postqa.service.pipeline import build_assistant, ingest

    questions = load_external(dataset, limit)
    store = settings.paths.vectorstore
    articles = external_articles(dataset, questions, distractors, store)
    t0 = time.perf_counter()
    report = ingest(settings, [articles])
    t1 = time.perf_counter()
    assistant = build_assistant(settings)
    assistant.ask("warm-up question about the news")
    per_mode: dict[str, list[dict[str, Any]]] = {m: [] for m in EXTERNAL_MODES}
    for i, q in enumerate(questions, start=1):
        for mode in EXTERNAL_MODES:
            per_mode[mode].append(_ask(assistant, q, mode, depth, settings.retrieval.top_k))
        if progress:
            progress(i, len(questions))
    meta = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": assistant.info.get("embedding", {}).get("model"),
        "dataset": dataset.name,
        "dataset_path": str(dataset),
        "questions": len(questions),
        "articles": report.articles_total,
        "chunks": report.chunks_total,
        "distractors": "all" if distractors is None else distractors,
        "ingest_s": round(t1 - t0, 1),
        "chunks_embedded": report.chunks_embedded,
        "commit": git_commit(),
        "store": str(store),
        "min_confidence": settings.answer.min_confidence,
        "depth": depth,
    }
    questions_out = [
        {"id": q.id, "question": q.question, "expected": q.answers, "gold": q.gold,
         **{m: per_mode[m][i] for m in EXTERNAL_MODES}}
        for i, q in enumerate(questions)
    ]
    summary = {mode: _mode_summary(rows) for mode, rows in per_mode.items()}
    return {"meta": meta, "summary": summary, "questions": questions_out}


EXTERNAL_METRICS = (
    "cited@1",
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "mrr",
    "passage_containment@5",
    "answered",
    "answer_containment",
    "containment_when_answered",
    "token_f1",
    "latency_ms_p50",
)


def external_table(run: dict[str, Any]) -> str:
    modes = list(run["summary"])
    lines = [
        "| metric | " + " | ".join(MODE_LABELS.get(m, m) for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for key in EXTERNAL_METRICS:
        lines.append(f"| {key} | " + " | ".join(fmt(run["summary"][m].get(key)) for m in modes) + " |")
    return "\n".join(lines) + "\n"


def external_markdown(run: dict[str, Any]) -> str:
    m = run["meta"]
    head = [
        f"# postqa eval — {m['dataset']} — {m['model']} — {m['timestamp']}",
        "",
        f"{m['questions']} questions over {m['articles']} articles ({m['chunks']} chunks; distractors: "
        f"{m['distractors']}); commit `{m.get('commit') or '?'}`; ranks over the top {m['depth']} passages; "
        "answers read the top 5 passages of each mode; the product path asks each question on its date.",
        "",
    ]
    modes = [m for m in EXTERNAL_MODES if m in run["summary"]]
    rows = ["", "| id | question | expected | " + " | ".join(MODE_LABELS[m] for m in modes) + " |",
            "|---|---|---|" + "---|" * len(modes)]
    for q in run["questions"]:
        cells = []
        for mode in modes:
            r = q[mode]
            cells.append(
                f"{'✓' if r['contains'] else '✗'} r{r['rank'] or '-'} "
                f"{cell(r['got'] if r['answered'] else '(refused)', 30)}"
            )
        rows.append(
            f"| {q['id']} | {cell(q['question'], 70)} | {cell(' / '.join(q['expected']), 30)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(head) + "\n" + external_table(run) + "\n".join(rows) + "\n"
