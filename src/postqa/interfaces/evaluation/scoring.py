"""One case scored (CaseResult, with why it failed), the summary over a run, and the quality bar (THRESHOLDS)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from postqa.interfaces.evaluation.cases import Case
from postqa.interfaces.evaluation.metrics import (
    contains_answer,
    gold_rank,
    percentile,
    refusal_metrics,
    retrieval_metrics,
    span_valid,
    token_f1,
)

if TYPE_CHECKING:  # pragma: no cover
    from postqa.core.types import Answer, Hit


# The quality bar of `pytest evals` on corpus/ with the default model: the figures measured on main when
# the suite was written (2026-11-22, commit 6c4941f: accuracy 35/55, refusal 7/12 and 7/16), less a margin
# of about two cases, so that noise does not fail the build but a real drop does. Raise them as the answerer
# improves (a ratchet); docs/evals.md gives the measurements behind each value.
THRESHOLDS: dict[str, float] = {
    # Each bar is the figure measured on main (MiniLM, min_confidence 0.25) less about two cases of slack;
    # raise them as the answerer improves. Measured 2026-12-01 (the spaCy answerer, issue 12): docs/evals.md.
    "hit@3": 1.0,  # the gold article is always in the top 3 passages (two articles: anything less is a bug)
    "answer_accuracy": 0.82,  # answerable cases answered with an acceptable answer (measured 0.851, was 0.811)
    # sentence/span right and token F1: measured 0.851 / 0.649 / 0.523 with the span choice and the answerability
    # score together (issue 12, 2026-12-02; 0.865 / 0.649 / 0.526 before the score refused one answerable case;
    # 0.851 / 0.581 / 0.481 on main 7fb2eb6), less about one case (1/74 = 0.0135)
    "sentence_right": 0.835,  # the first cited sentence holds an acceptable answer
    "span_right": 0.63,  # a short span answer holds it (the rest are answered by the sentence)
    "token_f1": 0.51,  # mean token F1 over answerable cases; penalises padded answers (whole-sentence answers,
    # where no span is good enough, are long by design)
    "citation_support": 0.95,  # of correct answers: the first citation's passage contains it (measured 1.0)
    "span_valid": 1.0,  # every answer's span lies inside its cited passage and covers the answer (1.0)
    # Refusal regressed, and the bars say so: 1.0 (14/14) before the spaCy answerer, 0.786 on its branch, 0.714
    # (10/14) on the integrated main 822e1bc: a typed question with no good span is now answered with its
    # sentence instead of refused (unanswerable where/who/when questions at confidence 0.25-0.37). Issue 12
    # stays open for it; min_confidence 0.27-0.30 buys recall only by losing precision (docs/calibration.md).
    # 0.786 (11/14) with the focus features of the answerability model (issue 12, commit bdc1dcb:
    # un-xinhua-partnership-start now refused; nothing else changed): bar 0.786 less half a case.
    # 0.929 (13/14) with the near-miss model (issue 12, refusal round 5: un-copies-distributed and
    # un-heilongjiang-head now refused): bar 0.929 less half a case
    "refusal_recall": 0.89,
    # refusals that were right to refuse: measured 0.714 (10/14) on 822e1bc, 0.625 (10/16) with the answerability
    # score (issue 12): it refuses two paraphrases of the two-article suite corpus whose nearest chunk is as far
    # from the question as a general-knowledge question's (para-geofence-tech, answered right before, and
    # para-gaps-in-cooperation, answered wrong), for ~90% of general questions refused instead of ~67% on the
    # calibration news (docs/calibration.md); 0.625 again on main 6565e05 + the refit; 0.647 (11/17) with the focus
    # features (commit bdc1dcb: one more right refusal, the same paraphrases refused). Bar: 0.647 less ~half a case.
    # 0.619 (13/21) with the near-miss model (refusal round 5): two more right refusals (recall above) and two
    # more answerable cases refused, both answered wrongly before (para-web-subscription-team,
    # multi-common-theme: answer accuracy stays 0.851). Bar: 0.619 less ~half a case (1/21).
    "refusal_precision": 0.59,
}



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
    answer_kind: str = "span"  # Answer.kind: "span", "sentence" or "none"
    sentence_right: bool = False  # answered, and the first cited sentence holds an acceptable answer
    span_right: bool = False  # answered with a short span ("span" kind) that holds an acceptable answer


def _gold_ranks(case: Case, retrieved: Sequence[str]) -> tuple[int | None, int | None]:
    """Rank of the first gold passage, and the rank by which every gold article has appeared."""
    if not case.answerable:
        return None, None
    ranks = [gold_rank(retrieved, [g]) for g in case.gold_articles]
    all_rank = None if any(r is None for r in ranks) else max(r for r in ranks if r is not None)
    return gold_rank(retrieved, case.gold_articles), all_rank


def _citation_checks(case: Case, answer: Answer, correct: bool) -> tuple[bool | None, bool | None, str]:
    """(the first citation's passage contains an acceptable answer, its span is valid, the span's text)."""
    if not answer.answerable:
        return None, None, ""
    if not answer.citations:
        return None, False, ""
    first = answer.citations[0]
    span_text = first.passage[first.span[0] : first.span[1]] if first.span is not None else ""
    span_ok = span_valid(first.passage, first.span, answer.text)
    if not case.answerable:
        return None, span_ok, span_text
    support = contains_answer(first.passage, case.answers)
    if correct and span_ok and first.span is not None:  # the span itself covers an acceptable answer
        span_ok = contains_answer(span_text, case.answers)
    return support, span_ok, span_text


def _why(case: Case, answer: Answer, rank: int | None, correct: bool, support: bool | None) -> str:
    """In words, what went wrong with a case that did not pass."""
    if not case.answerable:
        got = answer.text if answer.answerable else ""
        return f"answered {got!r} (confidence {answer.confidence:.2f}) though the news does not say"
    if rank is None:
        return "no passage from the gold article was retrieved"
    if not answer.answerable:
        score = getattr(answer, "answerability", None)
        judged = f", answerability {score:.2f}" if score is not None else ""
        return (f"refused (confidence {answer.confidence:.2f}{judged}: below a threshold, "
                "or no span of the expected type)")
    if not correct:
        in_top = any(contains_answer(h.chunk.text, case.answers) for h in answer.hits)
        return (
            "wrong span: " if in_top else "the answer is not in any retrieved passage: "
        ) + f"gold article at rank {rank}"
    if not support:
        return "the answer is right but the first citation's passage does not contain it"
    return "the span does not lie inside its passage or does not cover the answer"


def score_case(
    case: Case, answer: Answer, latency_ms: float, retrieved_hits: Sequence[Hit] | None = None
) -> CaseResult:
    """Score one answer against its case; ``why`` says in words what went wrong.

    Retrieval is scored on ``retrieved_hits`` (the retriever's own top passages for the question) when
    given, else on the passages the answer came from.
    """
    retrieved = [h.chunk.article_id for h in (answer.hits if retrieved_hits is None else retrieved_hits)]
    rank, all_rank = _gold_ranks(case, retrieved)
    got = answer.text if answer.answerable else ""
    correct = bool(case.answerable and answer.answerable and contains_answer(got, case.answers))
    support, span_ok, span_text = _citation_checks(case, answer, correct)
    if case.answerable:
        passed = correct and bool(support) and bool(span_ok)
    else:
        passed = not answer.answerable
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
        f1=round(token_f1(got, case.answers) if case.answerable else 0.0, 4),
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
        why="" if passed else _why(case, answer, rank, correct, support),
        answer_kind=answer.kind,
        sentence_right=bool(case.answerable and answer.answerable and answer.citations
                            and contains_answer(answer.citations[0].passage, case.answers)),
        span_right=correct and answer.kind == "span",
    )


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
        "sentence_right": sum(r.sentence_right for r in ans) / n_ans,
        "span_right": sum(r.span_right for r in ans) / n_ans,
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
        answerable = [r for r in rows if r.answerable]
        kinds[kind] = {
            "n": len(rows),
            "passed": sum(r.passed for r in rows),
            "accuracy": sum(r.passed for r in rows) / len(rows),
            "sentence_right": round(sum(r.sentence_right for r in answerable) / (len(answerable) or 1), 4),
            "span_right": round(sum(r.span_right for r in answerable) / (len(answerable) or 1), 4),
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
