"""Answer and retrieval metrics: normalisation, containment, token F1, ranks, refusals, spans, percentiles."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence

KS = (1, 3, 5)


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
