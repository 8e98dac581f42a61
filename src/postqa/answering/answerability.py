"""Answerability: does the news answer this question at all? A small logistic model over signals the answerer
already has (sentence and passage match, coverage of the question's words, what the question names that no
passage contains, whether a span of the asked-for type was found), separate from the span's confidence.

The coefficients live in ``answerability.json`` beside this module, fitted by ``postqa calibrate --fit`` on
calibration cases only (docs/calibration.md says how); the threshold is chosen on the same cases."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from postqa.answering import focus as qfocus
from postqa.answering.focus import SimilarMatrix
from postqa.answering.question import Question
from postqa.answering.sentences import Scored, question_terms
from postqa.core.errors import PostqaError
from postqa.core.types import Hit

MODEL_FILE = Path(__file__).with_name("answerability.json")
FORMAT = 2  # 2: with the near-miss model ("near")
TYPED_KINDS = ("person", "date", "number", "place")
# the signals, in the model's order; each is computed by features() and documented in docs/calibration.md
FEATURES: tuple[str, ...] = (
    "confidence",  # the answerer's own confidence in the chosen sentence
    "cosine",  # cosine of the question to the chosen sentence
    "lexical",  # rarity-weighted (soft) overlap of the question's words with the chosen sentence
    "margin",  # score of the best sentence minus the next one
    "dense_top",  # cosine of the question to its nearest retrieved chunk (is it about this news at all?)
    "cover_sentence",  # share of the question's content lemmas that the chosen sentence has
    "cover_passage",  # rarity-weighted share of the question's words in the chosen sentence's passage
    "cover_hits",  # ... in any retrieved passage
    "missing_names",  # names of the question no retrieved passage contains (at most 2)
    "unseen_words",  # words of the question the corpus never uses (at most 2)
    "span",  # 1: a candidate of the asked-for type was chosen; 0: the sentence is the answer
    "span_score",  # the chosen candidate's own score (its tie to the matched words), 0 without a span
    "typed_no_span",  # 1: a who/when/where/how-many question found no span of its type
    "head_in_sentence",  # 1: the noun a which/what/how-many question asks for is in the chosen sentence
    "dates_missing",  # share of the question's date words ("in February") the chosen passage lacks
    "focus_sentence",  # rarity-weighted share of the question's focus (its nouns and names) in the chosen sentence
    "focus_tie",  # 1 / (1 + parse-tree distance) from the chosen span to the nearest focus word; 0 without both
    "type_unmet",  # 1: a typed question, and no word of its type hangs near a focus word in the top sentences
    "asked_tie",  # 1 / (1 + parse-tree distance) from the span to the word saying what is asked ('how many *X*')
    "other_unit",  # 1: a how-many/how-much span counts or measures a noun the question never says
    "relation_sentence",  # how well the chosen sentence says the question's relation (focus.relation_words)
    "relation_focus",  # ... the best of the top sentences that name the question's focus
    "relation_passages",  # ... anywhere in the top sentences
    "type_tie",  # 1 / (1 + parse steps) from a word of the asked-for type to a word of the relation, top sentences
    "cover_gap",  # share of the question's content lemmas the chosen passage has and the chosen sentence lacks
    "names_passage",  # share of the names the question uses that the chosen sentence's passage contains
    "relation_weakest",  # the relation word the chosen sentence says worst: its best cosine there
    "relation_tie",  # 1 / (1 + parse steps) from the chosen span to a word of its sentence saying the relation
)
# the near-miss model's signals: is the answer said of the thing asked about (a subset of FEATURES)
NEAR_FEATURES: tuple[str, ...] = (
    "confidence", "span_score", "typed_no_span", "focus_tie", "type_unmet", "asked_tie", "relation_sentence",
    "relation_focus", "type_tie", "names_passage", "relation_weakest", "relation_tie",
)
RELATION_SENTENCES = 10  # top sentences searched for the relation (their words are embedded for the span anyway)
TYPE_SENTENCES = 3  # top sentences searched for a word of the asked-for type


class AnswerabilityError(PostqaError):
    """The answerability model file is missing, malformed or for other features."""


@dataclass(frozen=True)
class Evidence:
    """What the answerer knows when it decides whether to answer (inputs of features())."""

    question: Question
    ranked: Sequence[Scored]
    hits: Sequence[Hit]
    chosen: Scored
    kind: str  # "span" or "sentence"
    span_score: float
    confidence: float
    missing_names: int
    span_chars: tuple[int, int] | None = None  # the chosen span in the sentence's text (kind "span")
    similar: SimilarMatrix | None = None  # word x word cosines by the embedding model (cached); None: lemmas only


def _share(wanted: Sequence[str], have: set[str], weight: Callable[[str], float]) -> float:
    total = sum(weight(t) for t in wanted)
    return sum(weight(t) for t in wanted if t in have) / total if total > 0 else 0.0


def features(ev: Evidence, idf: Callable[[str], float], tokenize: Callable[[str], list[str]]) -> dict[str, float]:
    """The signals of one answer, by name (FEATURES order)."""
    q, best = ev.question, ev.chosen
    terms = list(dict.fromkeys(question_terms(q.text)))
    rarest = max([idf(t) for t in terms] + [1.0])

    def weight(t: str) -> float:  # a word the corpus never uses weighs as much as the rarest one
        v = idf(t)
        return v if v > 0 else rarest

    lemmas: set[str] = set()
    if best.analysis is not None and best.sent is not None:
        lemmas = {t.lemma.lower() for t in best.analysis.tokens[best.sent.start:best.sent.end]}
    content = list(dict.fromkeys(q.content))
    passage = set(tokenize(best.chunk.context_text))
    every = set(tokenize(" ".join(h.chunk.context_text for h in ev.hits)))
    dense = [h.dense_score for h in ev.hits if h.dense_score is not None]
    nxt = ev.ranked[1].score if len(ev.ranked) > 1 else 0.0
    return {
        "confidence": ev.confidence,
        "cosine": max(best.cosine, 0.0),
        "lexical": best.lexical,
        "margin": max(ev.ranked[0].score - nxt, 0.0),
        "dense_top": max(dense) if dense else 0.0,
        "cover_sentence": sum(c in lemmas for c in content) / len(content) if content else 0.0,
        "cover_passage": _share(terms, passage, weight),
        "cover_hits": _share(terms, every, weight),
        "missing_names": float(min(ev.missing_names, 2)),
        "unseen_words": float(min(sum(idf(t) <= 0 and t not in every for t in terms), 2)),
        "span": 1.0 if ev.kind == "span" else 0.0,
        "span_score": min(max(ev.span_score, 0.0), 3.0) if ev.kind == "span" else 0.0,
        "typed_no_span": 1.0 if ev.kind != "span" and q.kind in TYPED_KINDS else 0.0,
        "head_in_sentence": 1.0 if q.head is None or q.head in lemmas else 0.0,
        "dates_missing": _dates_missing(q, passage, tokenize),
        **focus_features(ev, weight, tokenize),
        **relation_features(ev),
    }


def _dates_missing(q: Question, passage: set[str], tokenize: Callable[[str], list[str]]) -> float:
    a = q.analysis
    words = [t for e in a.ents if e.label in ("DATE", "TIME") for t in tokenize(a.span_text(e))]
    return sum(t not in passage for t in words) / len(words) if words else 0.0


def focus_features(ev: Evidence, weight: Callable[[str], float],
                   tokenize: Callable[[str], list[str]]) -> dict[str, float]:
    """Is the answer said of the thing asked about? (answering/focus.py)"""
    q, best = ev.question, ev.chosen
    words = qfocus.focus(q)
    if best.analysis is None or best.sent is None:
        return {"focus_sentence": 0.0, "focus_tie": 0.0, "type_unmet": 1.0 if q.kind in TYPED_KINDS else 0.0,
                "asked_tie": 0.0, "other_unit": 0.0}
    a, sent = best.analysis, best.sent
    weights = [sum(weight(t) for t in tokenize(w)) or 1.0 for w in qfocus.focus_words(q, words)]
    found = qfocus.matches(q, words, a, sent)
    share = sum(wt for wt, hit in zip(weights, found, strict=True) if hit) / sum(weights) if words else 1.0
    head = qfocus.span_head(a, sent, best.start, ev.span_chars) if ev.kind == "span" and ev.span_chars else None
    near = [qfocus.tree_distance(a, head, i) for hit in found for i in hit] if head is not None else []
    tie = 1.0 / (1.0 + min(near)) if near else 0.0
    unmet = 0.0
    if q.kind in TYPED_KINDS:
        top = [s for s in ev.ranked[:3] if s.analysis is not None and s.sent is not None]
        unmet = 0.0 if any(qfocus.typed_near(q, words, s.analysis, s.sent) for s in top  # type: ignore[arg-type]
                           ) else 1.0
    return {"focus_sentence": share, "focus_tie": tie, "type_unmet": unmet,
            "asked_tie": qfocus.asked_tie(q, a, sent, head), "other_unit": qfocus.other_unit(q, a, sent, head)}


def _analysed(ranked: Sequence[Scored]) -> list[Scored]:
    return [s for s in ranked if s.analysis is not None and s.sent is not None]


def _said(s: Scored) -> list[str]:
    return [t.lemma.lower() for t in qfocus.sentence_words(s.analysis, s.sent)]  # type: ignore[arg-type]


def relation_features(ev: Evidence) -> dict[str, float]:
    """Does the news say what the question asks *about* its focus (its relation: 'chief executive', 'cost',
    'directed'), and is a word of the asked-for type tied to it? (answering/focus.py)"""
    q, best = ev.question, ev.chosen
    rel = qfocus.relation_words(q)
    top = _analysed(ev.ranked[:RELATION_SENTENCES])
    if best.analysis is None or best.sent is None or not top:
        return {"relation_sentence": 0.0, "relation_focus": 0.0, "relation_passages": 0.0, "type_tie": 0.0,
                "cover_gap": 0.0, "names_passage": _names_passage(q, best), "relation_weakest": 0.0,
                "relation_tie": 0.0}
    said, said_best = _said, _said(best)
    words = [t for t in qfocus.focus(q) if t.lemma.lower() not in rel]  # the thing asked about, not the relation
    about = [s for s in top if not words or any(qfocus.matches(q, words, s.analysis, s.sent))]  # type: ignore[arg-type]
    typed_kind = q.kind == "number" or bool(q.labels)
    ties = [qfocus.type_tie(q, rel, s.analysis, s.sent, ev.similar)  # type: ignore[arg-type]
            for s in _analysed(ev.ranked[:TYPE_SENTENCES])]
    return {
        "relation_sentence": qfocus.relation_cover(rel, said_best, ev.similar),
        "relation_focus": max([qfocus.relation_cover(rel, said(s), ev.similar) for s in about], default=0.0),
        "relation_passages": qfocus.relation_cover(rel, [w for s in top for w in said(s)], ev.similar),
        "type_tie": max(ties, default=0.0) if typed_kind else 1.0,
        "cover_gap": _cover_gap(q, best),
        "names_passage": _names_passage(q, best),
        "relation_weakest": qfocus.relation_weakest(rel, said_best, ev.similar),
        "relation_tie": qfocus.relation_tie(rel, best.analysis, best.sent, _head(ev), ev.similar),
    }


def _head(ev: Evidence) -> int | None:
    best = ev.chosen
    if ev.kind != "span" or not ev.span_chars or best.analysis is None or best.sent is None:
        return None
    return qfocus.span_head(best.analysis, best.sent, best.start, ev.span_chars)


def _names_passage(q: Question, best: Scored) -> float:
    """'Who is the chief executive of Yeahronimo?' answered from a passage about another firm's chief executive:
    the answer's passage does not name what the question names (1.0 when the question names nothing)."""
    if not q.named:
        return 1.0
    text = " ".join(f"{best.chunk.title} {best.chunk.context_text}".lower().split())
    return sum(" ".join(n.lower().split()) in text for n in q.named) / len(q.named)


def _cover_gap(q: Question, best: Scored) -> float:
    content = list(dict.fromkeys(q.content))
    a, sent = best.analysis, best.sent
    if not content or a is None or sent is None:
        return 0.0
    in_sentence = {t.lemma.lower() for t in a.tokens[sent.start:sent.end]}
    in_passage = {t.lemma.lower() for t in a.tokens}
    return sum(c in in_passage and c not in in_sentence for c in content) / len(content)


@dataclass(frozen=True)
class AnswerabilityModel:
    """Logistic regression on standardised features: P(the news answers the question). With ``near`` (a second
    logistic model, answerable against near-miss questions, over NEAR_FEATURES), the score is the lower of the
    two; ``near``'s intercept is shifted at fitting time so that both share this model's threshold."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float
    meta: Mapping[str, object] = field(default_factory=dict)
    near: AnswerabilityModel | None = None

    def own_score(self, feats: Mapping[str, float]) -> float:
        z = self.intercept + sum(c * (feats.get(n, 0.0) - m) / s
                                 for n, m, s, c in zip(self.names, self.mean, self.scale, self.coef, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def score(self, feats: Mapping[str, float]) -> float:
        own = self.own_score(feats)
        return own if self.near is None else min(own, self.near.own_score(feats))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "format": FORMAT, "features": list(self.names), "mean": list(self.mean), "scale": list(self.scale),
            "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold,
            "meta": dict(self.meta)}
        out["near"] = None if self.near is None else {k: v for k, v in self.near.to_json().items() if k != "format"}
        return out

    def save(self, path: Path = MODEL_FILE) -> None:
        from postqa.core.atomic import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n")


def _from_json(obj: Mapping[str, object], near: AnswerabilityModel | None = None) -> AnswerabilityModel:
    def floats(key: str) -> tuple[float, ...]:
        return tuple(float(v) for v in obj[key])  # type: ignore[attr-defined]

    return AnswerabilityModel(names=tuple(obj["features"]), mean=floats("mean"),  # type: ignore[arg-type]
                              scale=floats("scale"), coef=floats("coef"),
                              intercept=float(obj["intercept"]), threshold=float(obj["threshold"]),  # type: ignore[arg-type]
                              meta=obj.get("meta") or {}, near=near)  # type: ignore[arg-type]


def load_model(path: Path = MODEL_FILE) -> AnswerabilityModel:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise AnswerabilityError(f"cannot read the answerability model {str(path)!r} ({err}); expected the JSON "
                                 "written by `postqa calibrate --fit`: refit it, or set [answer] refusal = "
                                 '"confidence"') from None
    names = tuple(obj.get("features", ()))
    near = obj.get("near")
    near_names = tuple(near.get("features", ())) if isinstance(near, dict) else ()
    if obj.get("format") != FORMAT or names != FEATURES or (near is not None and not set(near_names) <= set(FEATURES)):
        raise AnswerabilityError(f"{str(path)!r} is format {obj.get('format')!r} with features {list(names)}; "
                                 f"this postqa expects format {FORMAT} with {list(FEATURES)}: refit it with "
                                 "`postqa calibrate --fit`")
    try:
        return _from_json(obj, _from_json(near) if isinstance(near, dict) else None)
    except (KeyError, TypeError, ValueError) as err:
        raise AnswerabilityError(f"{str(path)!r} lacks or mangles a field ({err}): refit it with "
                                 "`postqa calibrate --fit`") from None


def fit(rows: Sequence[Mapping[str, float]], labels: Sequence[bool], l2: float = 1.0,
        iterations: int = 50, names: tuple[str, ...] = FEATURES) -> AnswerabilityModel:
    """Logistic regression by Newton's method with an L2 penalty (not on the intercept); deterministic.
    ``labels``: True when the news answers the case. The threshold is left at 0.5: choose it on the
    calibration data (calibration.best_threshold)."""
    if len(rows) != len(labels) or not rows:
        raise AnswerabilityError(f"fit needs one label per row and at least one row, got {len(rows)} rows "
                                 f"and {len(labels)} labels")
    x = np.array([[r.get(n, 0.0) for n in names] for r in rows], dtype=float)
    y = np.array([1.0 if v else 0.0 for v in labels])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / scale])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w, -40, 40)))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(z.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-10:
            break
    return AnswerabilityModel(names=names, mean=tuple(float(v) for v in mean),
                              scale=tuple(float(v) for v in scale), coef=tuple(float(v) for v in w[1:]),
                              intercept=float(w[0]), threshold=0.5)


class Answerability:
    """The model (loaded once, lazily) and the threshold in force: ``[answer] min_answerability`` when set,
    else the threshold fitted with the model."""

    def __init__(self, threshold: float | None = None, path: Path = MODEL_FILE) -> None:
        self.path = path
        self.override = threshold
        self._model: AnswerabilityModel | None = None

    @property
    def model(self) -> AnswerabilityModel:
        if self._model is None:
            self._model = load_model(self.path)
        return self._model

    @property
    def threshold(self) -> float:
        return self.override if self.override is not None else self.model.threshold

    def judge(self, ev: Evidence, idf: Callable[[str], float],
              tokenize: Callable[[str], list[str]]) -> tuple[float, dict[str, float]]:
        """(P(answerable), the features it came from)."""
        feats = features(ev, idf, tokenize)
        return self.model.score(feats), feats


def for_embedding(refusal: str, threshold: float | None, embedding: str,
                  path: Path = MODEL_FILE) -> Answerability | None:
    """The answerability judge for answers ranked with ``embedding``, or None (refuse by confidence) under
    ``[answer] refusal = "confidence"`` or when the model was fitted with another embedding model (its
    cosines live on another scale: refit with `postqa calibrate --fit --embedding-model NAME`)."""
    if refusal != "answerability":
        return None
    judge = Answerability(threshold, path)
    return judge if judge.model.meta.get("embedding") == embedding else None
