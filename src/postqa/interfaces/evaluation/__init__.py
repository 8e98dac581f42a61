"""Evaluation: the fixed Q&A suite (evals/cases*.jsonl), its metrics, reports and regressions, model
comparison, refusal-threshold calibration and the external news-QA dataset. `pytest evals` and the
`postqa eval` / `postqa calibrate` commands both run on this package; no LLM judges anything here.

cases (loading) -> metrics (pure functions) -> scoring (one case, the summary, THRESHOLDS) -> runners
(suite, external, calibration) -> reports (files, regressions, comparisons) -> commands (the CLI)."""

from __future__ import annotations

from postqa.interfaces.evaluation.calibration import best_threshold, calibrate, calibration_table
from postqa.interfaces.evaluation.cases import (
    CALIBRATION_FILE,
    CASES_GLOB,
    EVALS_DIR,
    REFUSAL_KINDS,
    REPO_ROOT,
    REPORTS_DIR,
    UNANSWERABLE,
    Case,
    EvalError,
    load_cases,
)
from postqa.interfaces.evaluation.commands import cmd_calibrate, cmd_eval, register_cli
from postqa.interfaces.evaluation.external import (
    EXTERNAL_METRICS,
    EXTERNAL_MODES,
    ExternalQuestion,
    evaluate_external,
    external_articles,
    external_markdown,
    external_table,
    load_external,
)
from postqa.interfaces.evaluation.metrics import (
    KS,
    contains_answer,
    gold_rank,
    normalize,
    percentile,
    refusal_metrics,
    retrieval_metrics,
    span_valid,
    token_f1,
)
from postqa.interfaces.evaluation.reports import (
    HEADLINE,
    LOWER_IS_BETTER,
    compare_table,
    improvements,
    markdown_report,
    previous_report,
    print_summary,
    regressions,
    report_regressions,
    report_stem,
    slug,
    write_report,
)
from postqa.interfaces.evaluation.scoring import THRESHOLDS, CaseResult, check_thresholds, score_case, summarize
from postqa.interfaces.evaluation.suite import eval_settings, evaluate, prepare_assistant, run_cases, run_meta

__all__ = [
    "CALIBRATION_FILE", "CASES_GLOB", "EVALS_DIR", "REPO_ROOT", "REPORTS_DIR", "UNANSWERABLE", "REFUSAL_KINDS",
    "KS", "HEADLINE",
    "LOWER_IS_BETTER", "EXTERNAL_METRICS", "EXTERNAL_MODES", "THRESHOLDS",
    "Case", "CaseResult", "EvalError", "ExternalQuestion",
    "load_cases", "normalize", "contains_answer", "token_f1", "gold_rank", "retrieval_metrics", "refusal_metrics",
    "span_valid", "percentile", "score_case", "run_cases", "summarize", "check_thresholds", "evaluate", "run_meta",
    "eval_settings", "prepare_assistant", "write_report", "markdown_report", "report_stem", "slug", "regressions",
    "improvements", "previous_report", "report_regressions", "print_summary", "compare_table", "calibrate",
    "calibration_table", "best_threshold", "load_external", "external_articles", "evaluate_external",
    "external_table", "external_markdown", "cmd_eval", "cmd_calibrate", "register_cli",
]
