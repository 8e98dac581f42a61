"""Evaluation: the fixed Q&A suite (evals/cases*.jsonl), its metrics, reports and regressions, model
comparison, refusal-threshold calibration and the external news-QA dataset. `pytest evals` and the
`postqa eval` / `postqa calibrate` commands both run on this module; no LLM judges anything here."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postqa.core.errors import PostqaError

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.config import Settings
    from postqa.core.types import Answer, Hit
    from postqa.service.assistant import Assistant

REPO_ROOT = Path(__file__).resolve().parents[3]
EVALS_DIR = REPO_ROOT / "evals"
REPORTS_DIR = EVALS_DIR / "reports"
CASES_GLOB = "cases*.jsonl"
CALIBRATION_FILE = EVALS_DIR / "calibration.jsonl"
KS = (1, 3, 5)
UNANSWERABLE = "unanswerable"
# kinds whose cases must be refused: not in the news, or general knowledge the news never touches
REFUSAL_KINDS = frozenset({UNANSWERABLE, "general"})

# The quality bar of `pytest evals` on corpus/ with the default model: the figures measured on main when
# the suite was written (2026-11-22, commit 6c4941f: accuracy 35/55, refusal 7/12 and 7/16), less a margin
# of about two cases, so that noise does not fail the build but a real drop does. Raise them as the answerer
# improves (a ratchet); docs/evals.md gives the measurements behind each value.
THRESHOLDS: dict[str, float] = {
    # Each bar is the figure measured on main (MiniLM, min_confidence 0.25) less about two cases of slack;
    # raise them as the answerer improves. Measured 2026-11-22: see evals/reports/baseline.md.
    "hit@3": 1.0,  # the gold article is always in the top 3 passages (two articles: anything less is a bug)
    "answer_accuracy": 0.77,  # answerable cases answered with an acceptable answer (measured 0.811)
    "token_f1": 0.48,  # mean token F1 over answerable cases; penalises padded answers (measured 0.536)
    "citation_support": 0.95,  # of correct answers: the first citation's passage contains it (measured 1.0)
    "span_valid": 1.0,  # every answer's span lies inside its cited passage and covers the answer (1.0)
    "refusal_recall": 0.85,  # unanswerable cases refused (measured 1.0: 14/14)
    "refusal_precision": 0.65,  # refusals that were right to refuse (measured 0.778)
}


class EvalError(PostqaError):
    """An eval file or dataset is missing or malformed."""


# ------------------------------------------------------------------------------------------ cases


@dataclass(frozen=True)
class Case:
    """One fixed question with its acceptable answers and where the answer is written."""

    id: str
    kind: str
    question: str
    answers: tuple[str, ...] = ()
    gold_articles: tuple[str, ...] = ()
    gold_sentence: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    notes: str = ""
    file: str = ""

    @property
    def answerable(self) -> bool:
        return self.kind not in REFUSAL_KINDS and bool(self.answers)


def _as_tuple(value: object, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise EvalError(f"{where}: {key!r} must be a string or a list of strings, got {value!r}")


def load_cases(paths: Iterable[str | Path] | None = None) -> list[Case]:
    """Cases from the given JSONL files (default: every evals/cases*.jsonl), ids unique across files."""
    files = [Path(p) for p in paths] if paths is not None else sorted(EVALS_DIR.glob(CASES_GLOB))
    if not files:
        raise EvalError(f"no case files found (looked for {EVALS_DIR / CASES_GLOB})")
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            raise EvalError(f"case file {str(path)!r} does not exist")
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise EvalError(f"{where}: not valid JSON ({err.msg})") from None
            for key in ("id", "kind", "question"):
                if not isinstance(obj.get(key), str) or not obj[key].strip():
                    raise EvalError(f"{where}: {key!r} must be a non-empty string, got {obj.get(key)!r}")
            case = Case(
                id=obj["id"],
                kind=obj["kind"],
                question=obj["question"],
                answers=_as_tuple(obj.get("answers"), where, "answers"),
                gold_articles=_as_tuple(obj.get("gold_articles"), where, "gold_articles"),
                gold_sentence=_as_tuple(obj.get("gold_sentence"), where, "gold_sentence"),
                history=_as_tuple(obj.get("history"), where, "history"),
                notes=str(obj.get("notes") or ""),
                file=path.name,
            )
            if case.id in seen:
                raise EvalError(f"{where}: duplicate case id {case.id!r} (first in {seen[case.id]})")
            seen[case.id] = where
            if case.kind in REFUSAL_KINDS and case.answers:
                raise EvalError(f"{where}: an {case.kind} case must have no answers, got {case.answers!r}")
            if case.kind not in REFUSAL_KINDS and not (case.answers and case.gold_articles):
                raise EvalError(f"{where}: an answerable case needs answers and gold_articles")
            cases.append(case)
    return cases


# ---------------------------------------------------------------------------------------- metrics

_ARTICLES = {"a", "an", "the"}


def normalize(text: str) -> str:
    """Lower case, curly quotes folded, punctuation and articles (a/an/the) dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"'s\b", "", text)
    text = re.sub(r"[^\w\s.]|(?<!\d)\.|\.(?!\d)", " ", text)  # keep decimal points: "2.0"
    return " ".join(w for w in text.split() if w not in _ARTICLES)


def contains_answer(got: str, aliases: Sequence[str]) -> bool:
    """True if some acceptable answer occurs, as whole words, in the normalised answer text."""
    hay = f" {normalize(got)} "
    return any(n and f" {n} " in hay for n in (normalize(a) for a in aliases))


def token_f1(got: str, aliases: Sequence[str]) -> float:
    """SQuAD-style token F1 of the answer against the best-matching acceptable answer."""
    got_toks = normalize(got).split()
    best = 0.0
    for alias in aliases:
        ref = normalize(alias).split()
        if not ref or not got_toks:
            continue
        common = sum(min(got_toks.count(t), ref.count(t)) for t in set(ref))
        if common:
            p, r = common / len(got_toks), common / len(ref)
            best = max(best, 2 * p * r / (p + r))
    return best


def gold_rank(article_ids: Sequence[str], gold: Iterable[str]) -> int | None:
    """1-based rank of the first retrieved passage that comes from a gold article; None if none does."""
    wanted = set(gold)
    return next((i for i, a in enumerate(article_ids, start=1) if a in wanted), None)


def retrieval_metrics(ranks: Sequence[int | None], ks: Sequence[int] = KS) -> dict[str, float]:
    """hit@k for each k and the mean reciprocal rank (0 for a miss)."""
    n = len(ranks) or 1
    out = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks}
    out["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return out


def refusal_metrics(pairs: Sequence[tuple[bool, bool]]) -> dict[str, float]:
    """From (should_refuse, refused) pairs: refusal precision, recall and F1, and coverage (answerable
    cases that got an answer). An empty denominator counts as perfect (nothing to get wrong)."""
    tp = sum(1 for s, r in pairs if s and r)
    fp = sum(1 for s, r in pairs if not s and r)
    fn = sum(1 for s, r in pairs if s and not r)
    answerable = sum(1 for s, _ in pairs if not s)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    coverage = (answerable - fp) / answerable if answerable else 1.0
    return {"refusal_precision": precision, "refusal_recall": recall, "refusal_f1": f1, "coverage": coverage}


def span_valid(passage: str, span: Sequence[int] | None, answer_text: str) -> bool:
    """The span lies inside the passage and is the answer: the span's text and the answer text contain one
    another once normalised (an answer may add a qualifier such as "(as of 2020-09-11)" to its span)."""
    if span is None:
        return False
    start, end = int(span[0]), int(span[1])
    if not (0 <= start < end <= len(passage)):
        return False
    quoted, said = normalize(passage[start:end]), normalize(answer_text)
    if not (quoted and said):
        return False
    # verbatim either way, or a restatement of the span's words ("Liu Aili: Chairman" for "Chairman Liu Aili")
    return quoted in said or said in quoted or set(quoted.split()) <= set(said.split())


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[idx]


# ------------------------------------------------------------------------------------ the runner


@dataclass
class CaseResult:
    """What the assistant did with one case, and how it scored."""

    id: str
    kind: str
    question: str
    history: list[str]
    expected: list[str]
    answerable: bool  # the case has an answer in the news
    got: str
    answered: bool  # the assistant gave an answer (did not refuse)
    confidence: float
    correct: bool  # answered and an acceptable answer is contained in the answer text
    f1: float
    hit_rank: int | None  # rank of the first passage from a gold article
    all_gold_rank: int | None  # rank by which every gold article has appeared (multi-article cases)
    gold_articles: list[str]
    retrieved: list[str]  # article id of each retrieved passage, in rank order
    cited: list[str]
    span_text: str  # what the first citation's span marks in its passage
    citation_support: bool | None  # the first citation's passage contains an acceptable answer
    span_ok: bool | None  # the answer's span lies inside the cited passage and covers the answer
    passed: bool
    latency_ms: float
    why: str = ""


def score_case(
    case: Case, answer: Answer, latency_ms: float, retrieved_hits: Sequence[Hit] | None = None
) -> CaseResult:
    """Score one answer against its case; ``why`` says in words what went wrong.

    Retrieval is scored on ``retrieved_hits`` (the retriever's own top passages for the question) when
    given, else on the passages the answer came from.
    """
    retrieved = [h.chunk.article_id for h in (answer.hits if retrieved_hits is None else retrieved_hits)]
    rank = gold_rank(retrieved, case.gold_articles) if case.answerable else None
    all_rank: int | None = None
    if case.answerable:
        ranks = [gold_rank(retrieved, [g]) for g in case.gold_articles]
        all_rank = None if any(r is None for r in ranks) else max(r for r in ranks if r is not None)
    got = answer.text if answer.answerable else ""
    correct = bool(case.answerable and answer.answerable and contains_answer(got, case.answers))
    f1 = token_f1(got, case.answers) if case.answerable else 0.0
    support: bool | None = None
    span_ok: bool | None = None
    span_text = ""
    if answer.answerable and answer.citations:
        first = answer.citations[0]
        if first.span is not None:
            span_text = first.passage[first.span[0] : first.span[1]]
        span_ok = span_valid(first.passage, first.span, answer.text)
        if case.answerable:
            support = contains_answer(first.passage, case.answers)
            if correct and span_ok and first.span is not None:  # the span itself covers an acceptable answer
                span_ok = contains_answer(first.passage[first.span[0] : first.span[1]], case.answers)
    elif answer.answerable:
        span_ok = False
    if case.answerable:
        passed = correct and bool(support) and bool(span_ok)
    else:
        passed = not answer.answerable
    why = ""
    if not passed:
        if not case.answerable:
            why = f"answered {got!r} (confidence {answer.confidence:.2f}) though the news does not say"
        elif rank is None:
            why = "no passage from the gold article was retrieved"
        elif not answer.answerable:
            why = (f"refused (confidence {answer.confidence:.2f} below the threshold, "
                   "or no span of the expected type)")
        elif not correct:
            in_top = any(contains_answer(h.chunk.text, case.answers) for h in answer.hits)
            why = (
                "wrong span: " if in_top else "the answer is not in any retrieved passage: "
            ) + f"gold article at rank {rank}"
        elif not support:
            why = "the answer is right but the first citation's passage does not contain it"
        else:
            why = "the span does not lie inside its passage or does not cover the answer"
    return CaseResult(
        id=case.id,
        kind=case.kind,
        question=case.question,
        history=list(case.history),
        expected=list(case.answers),
        answerable=case.answerable,
        got=answer.text,
        answered=answer.answerable,
        confidence=round(answer.confidence, 4),
        correct=correct,
        f1=round(f1, 4),
        hit_rank=rank,
        all_gold_rank=all_rank,
        gold_articles=list(case.gold_articles),
        retrieved=retrieved,
        cited=[c.article_id for c in answer.citations],
        span_text=span_text,
        citation_support=support,
        span_ok=span_ok,
        passed=passed,
        latency_ms=round(latency_ms, 1),
        why=why,
    )


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


def summarize(results: Sequence[CaseResult]) -> dict[str, Any]:
    """The headline metrics, per kind, over a list of scored cases."""
    ans = [r for r in results if r.answerable]
    n_ans = len(ans) or 1
    correct = [r for r in ans if r.correct]
    answered = [r for r in results if r.answered]
    lat = [r.latency_ms for r in results]
    out: dict[str, Any] = {
        "cases": len(results),
        "answerable": len(ans),
        "unanswerable": len(results) - len(ans),
        "passed": sum(r.passed for r in results),
        "pass_rate": sum(r.passed for r in results) / (len(results) or 1),
        **retrieval_metrics([r.hit_rank for r in ans]),
        "answer_accuracy": len(correct) / n_ans,
        "token_f1": sum(r.f1 for r in ans) / n_ans,
        "citation_support": (sum(bool(r.citation_support) for r in correct) / len(correct))
        if correct
        else 0.0,
        "span_valid": (sum(bool(r.span_ok) for r in answered) / len(answered)) if answered else 1.0,
        **refusal_metrics([(not r.answerable, not r.answered) for r in results]),
        "latency_ms_mean": statistics.fmean(lat) if lat else 0.0,
        "latency_ms_p50": percentile(lat, 50),
        "latency_ms_p95": percentile(lat, 95),
        "latency_ms_max": max(lat, default=0.0),
    }
    multi = [r for r in ans if len(r.gold_articles) > 1]
    if multi:
        out["multi_all_gold@5"] = sum(
            1 for r in multi if r.all_gold_rank is not None and r.all_gold_rank <= 5
        ) / len(multi)
    kinds: dict[str, dict[str, Any]] = {}
    for kind in sorted({r.kind for r in results}):
        rows = [r for r in results if r.kind == kind]
        kinds[kind] = {
            "n": len(rows),
            "passed": sum(r.passed for r in rows),
            "accuracy": sum(r.passed for r in rows) / len(rows),
        }
    out["per_kind"] = kinds
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def check_thresholds(summary: dict[str, Any], thresholds: dict[str, float] | None = None) -> list[str]:
    """The thresholds the summary misses, one line each (empty: all met)."""
    misses = []
    for key, bar in (thresholds or THRESHOLDS).items():
        value = summary.get(key)
        if value is None or value < bar - 1e-9:
            misses.append(f"{key} = {value} is below the threshold {bar}")
    return misses


# ---------------------------------------------------------------------------------- the corpus run


def _git_commit() -> str:
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
        "commit": _git_commit(),
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


# ---------------------------------------------------------------------------------------- reports


def slug(text: str) -> str:
    name = Path(text).name if ("/" in text or "\\" in text) else text
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def report_stem(run: dict[str, Any]) -> str:
    ts = run["meta"]["timestamp"].replace(":", "").replace("-", "")
    suffix = f"-{slug(run['meta']['dataset'])}" if run["meta"].get("dataset") else ""
    return f"{ts}-{slug(run['meta']['model'])}{suffix}"


def _cell(value: object, width: int = 80) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("|", "\\|")
    return text if len(text) <= width else text[: width - 1] + "…"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.0f}"
    return str(value)


HEADLINE = (
    "hit@1",
    "hit@3",
    "hit@5",
    "mrr",
    "answer_accuracy",
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
        lines.append(f"| {key} | {_fmt(s.get(key))} | {mark} |")
    lines += ["", "| kind | cases | passed | accuracy |", "|---|---|---|---|"]
    for kind, k in s["per_kind"].items():
        lines.append(f"| {kind} | {k['n']} | {k['passed']} | {k['accuracy']:.2f} |")
    lines += [
        "",
        "| id | kind | question | expected | got | hit rank | pass | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in run["cases"]:
        q = r["question"] if not r["history"] else f"{' / '.join(r['history'])} → {r['question']}"
        got = r["got"] if r["answered"] else f"(refused, {r['confidence']:.2f})"
        lines.append(
            f"| {r['id']} | {r['kind']} | {_cell(q)} | {_cell(' / '.join(r['expected']) or '(refuse)', 50)} "
            f"| {_cell(got, 60)} | {r['hit_rank'] if r['hit_rank'] is not None else '-'} "
            f"| {'✓' if r['passed'] else '✗'} | {_cell(r['why'], 70)} |"
        )
    return "\n".join(lines) + "\n"


def write_report(
    run: dict[str, Any], out_dir: Path, markdown: Callable[[dict[str, Any]], str] = markdown_report
) -> tuple[Path, Path]:
    """evals/reports/<timestamp>-<model>.json and .md; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(run)
    json_path, md_path = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
    json_path.write_text(json.dumps(run, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    md_path.write_text(markdown(run), encoding="utf-8")
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
                f"case {r['id']}: passed before ({_cell(old['got'], 40)!s}), fails now "
                f"({_cell(r['got'] if r['answered'] else 'refused', 40)}): {r['why']}"
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
        lines.append(f"| {key} | " + " | ".join(_fmt(r["summary"].get(key)) for r in runs) + " |")
    for key in ("ingest_s", "load_s", "dim"):
        lines.append(f"| {key} | " + " | ".join(_fmt(r["meta"].get(key)) for r in runs) + " |")
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
                cells.append(f"{'✓' if c['passed'] else '✗'} {_cell(got, 40)} (rank {c['hit_rank'] or '-'})")
            lines.append(f"| {cid} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def print_summary(run: dict[str, Any], file: Any = None) -> None:
    out = file or sys.stdout
    s, meta = run["summary"], run["meta"]
    print(f"postqa eval: {meta['model']} — {s['passed']}/{s['cases']} cases passed", file=out)
    print("  " + ", ".join(f"{k} {_fmt(s[k])}" for k in HEADLINE if k in s), file=out)
    print(
        "  per kind: " + ", ".join(f"{k} {v['passed']}/{v['n']}" for k, v in s["per_kind"].items()), file=out
    )
    for r in run["cases"]:
        if not r["passed"]:
            got = r["got"] if r["answered"] else "(refused)"
            print(
                f"  FAIL {r['id']}: expected {' / '.join(r['expected']) or '(refuse)'}; got {_cell(got, 60)} "
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


# ------------------------------------------------------------------------------------ calibration


def calibration_table(
    rows: Sequence[tuple[bool, bool, float, bool]], thresholds: Sequence[float]
) -> list[dict[str, float]]:
    """For each threshold, refusal metrics when a case is answered iff it has a span and confidence ≥ t,
    and the share of the answered answerable cases whose answer is right.

    ``rows`` are (answerable case, a typed span was found, confidence, the answer is right).
    """
    table = []
    for t in thresholds:
        answered = [(a, ok) for a, has_span, conf, ok in rows if has_span and conf >= t]
        pairs = [(not a, not (has_span and conf >= t)) for a, has_span, conf, _ in rows]
        right = [ok for a, ok in answered if a]
        table.append(
            {
                "threshold": round(t, 4),
                **refusal_metrics(pairs),
                "answered_right": sum(right) / len(right) if right else 0.0,
            }
        )
    return table


def best_threshold(table: Sequence[dict[str, float]]) -> dict[str, Any]:
    """The middle of the widest run of thresholds with the best refusal F1 (ties: the most margin)."""
    best_f1 = max(r["refusal_f1"] for r in table)
    runs: list[list[dict[str, float]]] = []
    for r in table:
        if abs(r["refusal_f1"] - best_f1) < 1e-9:
            if runs and runs[-1][-1] is table[table.index(r) - 1]:
                runs[-1].append(r)
            else:
                runs.append([r])
    widest = max(runs, key=len)
    mid = widest[(len(widest) - 1) // 2]
    return {
        "threshold": mid["threshold"],
        "range": (widest[0]["threshold"], widest[-1]["threshold"]),
        "row": mid,
    }


def calibrate(settings: Settings, cases: Sequence[Case]) -> dict[str, Any]:
    """Ask every calibration case once with the threshold at 0, then sweep the threshold offline."""
    assistant, info = prepare_assistant(settings.with_overrides(**{"answer.min_confidence": 0.0}))
    rows, per_case = [], []
    for case in cases:
        a = assistant.ask(case.question, history=list(case.history))
        right = bool(case.answerable and a.answerable and contains_answer(a.text, case.answers))
        rows.append((case.answerable, a.answerable, a.confidence, right))
        per_case.append(
            {
                "id": case.id,
                "answerable": case.answerable,
                "has_span": a.answerable,
                "confidence": round(a.confidence, 4),
                "got": a.text,
                "correct": right,
            }
        )
    grid = [i / 100 for i in range(0, 101)]
    table = calibration_table(rows, grid)
    return {
        "model": assistant.info.get("embedding", {}).get("model"),
        "cases": per_case,
        "table": table,
        "best": best_threshold(table),
        **info,
    }


# --------------------------------------------------------------------------------- external dataset


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
        subset.write_text(text, encoding="utf-8")
    return subset


EXTERNAL_MODES = ("hybrid", "dense", "keyword")


def evaluate_external(
    settings: Settings,
    dataset: Path,
    limit: int | None = None,
    distractors: int | None = None,
    depth: int = 10,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """hit@k, MRR and answer containment on an external QA set, for hybrid, dense-only and BM25-only
    retrieval in the same run (the extractive answerer reads each mode's own top passages)."""
    from postqa.service.pipeline import build_assistant, ingest

    questions = load_external(dataset, limit)
    store = settings.paths.vectorstore
    articles = external_articles(dataset, questions, distractors, store)
    t0 = time.perf_counter()
    report = ingest(settings, [articles])
    t1 = time.perf_counter()
    assistant = build_assistant(settings)
    assistant.ask("warm-up question about the news")
    k_answer = settings.retrieval.top_k
    per_mode: dict[str, list[dict[str, Any]]] = {m: [] for m in EXTERNAL_MODES}
    for i, q in enumerate(questions, start=1):
        for mode in EXTERNAL_MODES:
            start = time.perf_counter()
            hits: list[Hit] = assistant.retriever.retrieve(q.question, top_k=depth, mode=mode)
            answer = assistant.answerer.answer(q.question, hits[:k_answer])
            ms = (time.perf_counter() - start) * 1000
            rank = gold_rank([h.chunk.article_id for h in hits], [q.gold])
            per_mode[mode].append(
                {
                    "id": q.id,
                    "rank": rank,
                    "answered": answer.answerable,
                    "got": answer.text,
                    "contains": bool(answer.answerable and contains_answer(answer.text, q.answers)),
                    "passage_contains": any(
                        contains_answer(h.chunk.text, q.answers) for h in hits[:k_answer]
                    ),
                    "f1": round(token_f1(answer.text, q.answers) if answer.answerable else 0.0, 4),
                    "latency_ms": round(ms, 1),
                }
            )
        if progress:
            progress(i, len(questions))
    summary = {}
    for mode, rows in per_mode.items():
        n = len(rows) or 1
        summary[mode] = {
            **retrieval_metrics([r["rank"] for r in rows], (1, 3, 5, 10)),
            "answer_containment": sum(r["contains"] for r in rows) / n,
            "answered": sum(r["answered"] for r in rows) / n,
            "containment_when_answered": (
                sum(r["contains"] for r in rows) / max(1, sum(r["answered"] for r in rows))
            ),
            "token_f1": sum(r["f1"] for r in rows) / n,
            "passage_containment@5": sum(r["passage_contains"] for r in rows) / n,
            "latency_ms_p50": percentile([r["latency_ms"] for r in rows], 50),
        }
        summary[mode] = {k: round(v, 4) for k, v in summary[mode].items()}
    emb = assistant.info.get("embedding", {})
    meta = {
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "model": emb.get("model"),
        "dataset": dataset.name,
        "dataset_path": str(dataset),
        "questions": len(questions),
        "articles": report.articles_total,
        "chunks": report.chunks_total,
        "distractors": "all" if distractors is None else distractors,
        "ingest_s": round(t1 - t0, 1),
        "chunks_embedded": report.chunks_embedded,
        "commit": _git_commit(),
        "store": str(store),
        "min_confidence": settings.answer.min_confidence,
        "depth": depth,
    }
    questions_out = [
        {
            "id": q.id,
            "question": q.question,
            "expected": q.answers,
            "gold": q.gold,
            **{m: per_mode[m][i] for m in EXTERNAL_MODES},
        }
        for i, q in enumerate(questions)
    ]
    return {"meta": meta, "summary": summary, "questions": questions_out}


EXTERNAL_METRICS = (
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
    labels = {"hybrid": "hybrid (postqa)", "dense": "dense only", "keyword": "BM25 only"}
    modes = list(run["summary"])
    lines = [
        "| metric | " + " | ".join(labels.get(m, m) for m in modes) + " |",
        "|---|" + "---|" * len(modes),
    ]
    for key in EXTERNAL_METRICS:
        lines.append(f"| {key} | " + " | ".join(_fmt(run["summary"][m].get(key)) for m in modes) + " |")
    return "\n".join(lines) + "\n"


def external_markdown(run: dict[str, Any]) -> str:
    m = run["meta"]
    head = [
        f"# postqa eval — {m['dataset']} — {m['model']} — {m['timestamp']}",
        "",
        f"{m['questions']} questions over {m['articles']} articles ({m['chunks']} chunks; distractors: "
        f"{m['distractors']}); commit `{m.get('commit') or '?'}`; ranks over the top {m['depth']} passages; "
        "answers read the top 5 passages of each mode.",
        "",
    ]
    rows = ["", "| id | question | expected | hybrid | dense | BM25 |", "|---|---|---|---|---|---|"]
    for q in run["questions"]:
        cells = []
        for mode in EXTERNAL_MODES:
            r = q[mode]
            cells.append(
                f"{'✓' if r['contains'] else '✗'} r{r['rank'] or '-'} "
                f"{_cell(r['got'] if r['answered'] else '(refused)', 30)}"
            )
        rows.append(
            f"| {q['id']} | {_cell(q['question'], 70)} | {_cell(' / '.join(q['expected']), 30)} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(head) + "\n" + external_table(run) + "\n".join(rows) + "\n"


# ------------------------------------------------------------------------------------------- CLI


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
    cases = load_cases([args.cases] if args.cases else [CALIBRATION_FILE])
    model = args.embedding_model or base.embedding.model
    store, tmp = _store_for(args, model)
    try:
        result = calibrate(eval_settings(base, store, model), cases)
    finally:
        if tmp is not None:
            tmp.cleanup()
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
            f"{c['confidence']:.3f} | {'yes' if c['correct'] else '-'} | {_cell(c['got'], 50)} |"
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
    return 0


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

    p = subparsers.add_parser(
        "calibrate",
        parents=[common],
        help="sweep answer.min_confidence over evals/calibration.jsonl",
        description="Ask the calibration cases once, then sweep [answer] min_confidence and print refusal "
        "precision / recall / F1 and coverage per threshold, and the best threshold.",
    )
    p.add_argument("--cases", metavar="FILE", help="calibration cases (default: evals/calibration.jsonl)")
    p.add_argument("--store", metavar="DIR", help="reuse this store folder (default: a temporary one)")
    p.add_argument(
        "--step-pct", type=int, default=5, metavar="N", help="print every N hundredths (default 5)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)


__all__ = [
    "Case",
    "CaseResult",
    "THRESHOLDS",
    "load_cases",
    "normalize",
    "contains_answer",
    "token_f1",
    "gold_rank",
    "retrieval_metrics",
    "refusal_metrics",
    "span_valid",
    "score_case",
    "run_cases",
    "summarize",
    "check_thresholds",
    "evaluate",
    "write_report",
    "markdown_report",
    "regressions",
    "previous_report",
    "compare_table",
    "calibrate",
    "calibration_table",
    "best_threshold",
    "evaluate_external",
    "external_table",
    "eval_settings",
    "prepare_assistant",
]
