"""The corpus run: ingest into a private store, ask every case, score, and describe the run."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postqa.interfaces.evaluation.cases import REPO_ROOT, Case
from postqa.interfaces.evaluation.metrics import KS
from postqa.interfaces.evaluation.scoring import THRESHOLDS, CaseResult, check_thresholds, score_case, summarize

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.config import Settings
    from postqa.service.assistant import Assistant


def run_cases(
    assistant: Assistant, cases: Sequence[Case], progress: Callable[[int, int], None] | None = None
) -> list[CaseResult]:
    """Ask every case (follow-ups with their history) and score the answers. Retrieval is scored on its
    own: the retriever's top passages for the question as the assistant phrases the query (a follow-up
    borrows the earlier question), whatever path the answer then takes."""
    from postqa.service.assistant import clean_question

    depth = max(KS[-1], assistant.retriever.settings.top_k)
    results = []
    for i, case in enumerate(cases, start=1):
        history = [clean_question(h) for h in case.history]
        query, _ = assistant.retrieval_query(clean_question(case.question), history)
        hits = assistant.retriever.retrieve(query, top_k=depth)
        t0 = time.perf_counter()
        answer = assistant.ask(case.question, history=list(case.history))
        ms = (time.perf_counter() - t0) * 1000
        results.append(score_case(case, answer, ms, hits))
        if progress:
            progress(i, len(cases))
    return results


def git_commit() -> str:
    """The short commit, with "-dirty" when src/ has uncommitted changes (the run measured those too)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=5, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        return f"{head}-dirty" if head and dirty else head
    except (OSError, subprocess.SubprocessError):
        return ""


def eval_settings(
    base: Settings, store: Path, model: str | None = None, corpus: Path | None = None, **extra: Any
) -> Settings:
    """``base`` pointed at a private store (and optionally another model or corpus), one torch thread."""
    overrides: dict[str, Any] = {"paths.vectorstore": Path(store), "embedding.threads": 1, **extra}
    if model:
        overrides["embedding.model"] = model
    if corpus is not None:
        overrides["paths.corpus"] = Path(corpus)
    return base.with_overrides(**overrides)


def prepare_assistant(settings: Settings) -> tuple[Assistant, dict[str, Any]]:
    """Ingest the configured corpus into the configured store and open an assistant over it, warmed up."""
    from postqa.service.pipeline import build_assistant, ingest

    t0 = time.perf_counter()
    report = ingest(settings)
    t1 = time.perf_counter()
    assistant = build_assistant(settings)
    assistant.ask("warm-up question about the news")  # first-call costs stay out of the latencies
    t2 = time.perf_counter()
    info = {
        "ingest_s": round(t1 - t0, 2),
        "load_s": round(t2 - t1, 2),
        "articles": report.articles_total,
        "chunks": report.chunks_total,
    }
    return assistant, info


def run_meta(
    settings: Settings, assistant: Assistant, cases: Sequence[Case], extra: dict[str, Any]
) -> dict[str, Any]:
    emb = assistant.info.get("embedding", {})
    return {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": emb.get("model", settings.embedding.model),
        "dim": emb.get("dim"),
        "collection": assistant.info.get("collection"),
        "commit": git_commit(),
        "min_confidence": settings.answer.min_confidence,
        "top_k": settings.retrieval.top_k,
        "hybrid": settings.retrieval.hybrid,
        "corpus": str(settings.paths.corpus),
        "case_files": sorted({c.file for c in cases}),
        **extra,
    }


def evaluate(
    settings: Settings, cases: Sequence[Case], progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]:
    """A full run: ingest, ask every case, score; the report as a JSON-able dict (meta, summary, cases)."""
    assistant, info = prepare_assistant(settings)
    results = run_cases(assistant, cases, progress)
    summary = summarize(results)
    return {
        "meta": run_meta(settings, assistant, cases, info),
        "summary": summary,
        "thresholds": {
            k: {"min": v, "ok": not check_thresholds(summary, {k: v})} for k, v in THRESHOLDS.items()
        },
        "cases": [asdict(r) for r in results],
    }
