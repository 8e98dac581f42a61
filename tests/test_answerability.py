"""The answerability (refusal) score: its features, a deterministic fit, the model file, and refusal on a tiny
corpus with the hash embedder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from postqa.answering.answer import NOT_COVERED, ExtractiveAnswerer
from postqa.answering.answerability import (
    FEATURES,
    MODEL_FILE,
    NEAR_FEATURES,
    Answerability,
    AnswerabilityError,
    AnswerabilityModel,
    fit,
    for_embedding,
    load_model,
)
from postqa.core.config import AnswerSettings
from postqa.core.types import Answer, Chunk, Hit
from postqa.index.embedding import HashEmbedder
from postqa.index.keyword import tokenize
from postqa.nlp.pipeline import Analyser

TEXT = ("Zhang Yongping, Head of the General Manager's Office of Xinhua News Agency, presided over the meeting. "
        "On the morning of September 10, the two groups jointly held a teleconference in Beijing. "
        "The executives of Heilongjiang and Shandong Postal Branches shared their experience. "
        "Executives of postal branches from 31 provinces attended the teleconference.")
VOCAB = set(tokenize(TEXT))
ANSWERABLE = ["Who presided over the meeting?", "Where was the teleconference held?",
              "How many provinces attended the teleconference?", "Which branches shared their experience?"]
UNANSWERABLE = ["Who is the chief executive of Acme Widgets?", "Who wrote Hamlet?",
                "What is the boiling point of water?", "How much did Brightwater Telecom pay for Kestrel Airways?"]


def _idf(term: str) -> float:
    """A corpus of one passage: its words are known (idf 1), every other word is unseen (0)."""
    return 1.0 if term in VOCAB else 0.0


def _answerer(analyser: Analyser, judge: Answerability | None = None) -> ExtractiveAnswerer:
    emb = HashEmbedder(dim=64)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return emb.embed_documents(list(texts))

    return ExtractiveAnswerer(embed, _idf, AnswerSettings(min_confidence=0.0), analyser=analyser,
                              answerability=judge)


def _hits() -> list[Hit]:
    chunk = Chunk("a#0", "a", 0, TEXT, 0, len(TEXT), "Teleconference", date(2020, 9, 11), "s")
    return [Hit(chunk, 1.0, dense_score=0.5, dense_rank=0, keyword_rank=0)]


def _features(analyser: Analyser, question: str) -> dict[str, float]:
    return dict(_answerer(analyser).answer(question, _hits()).features)


def test_features_are_named_bounded_and_mean_what_they_say(analyser: Analyser) -> None:
    known = _features(analyser, "Where was the teleconference held?")
    assert tuple(known) == FEATURES
    assert all(np.isfinite(v) for v in known.values())
    assert known["cover_hits"] == 1.0 and known["missing_names"] == 0.0
    assert known["span"] == 1.0 and known["typed_no_span"] == 0.0 and known["dense_top"] == 0.5
    stranger = _features(analyser, "Who is the chief executive of Acme Widgets?")
    assert stranger["missing_names"] >= 1.0 and stranger["cover_hits"] < 0.5
    assert _features(analyser, "Who wrote Hamlet?")["unseen_words"] >= 1.0
    for feats in (known, stranger):
        assert 0.0 <= feats["cover_sentence"] <= 1.0 and 0.0 <= feats["cover_passage"] <= 1.0


def _rows(n: int = 40) -> tuple[list[dict[str, float]], list[bool]]:
    rng = np.random.default_rng(7)
    rows, labels = [], []
    for i in range(n):
        good = i % 2 == 0
        row = {name: float(rng.uniform(0, 1)) for name in FEATURES}
        row["cover_hits"] = float(rng.uniform(0.6, 1.0) if good else rng.uniform(0.0, 0.7))
        rows.append(row)
        labels.append(good)
    return rows, labels


def test_fit_is_deterministic_and_learns_the_signal() -> None:
    rows, labels = _rows()
    a, b = fit(rows, labels), fit(rows, labels)
    assert a == b
    weights = dict(zip(a.names, a.coef, strict=True))
    assert weights["cover_hits"] == max(weights.values()) > 0
    scores = [a.score(r) for r in rows]
    assert np.mean([s for s, y in zip(scores, labels, strict=True) if y]) > \
        np.mean([s for s, y in zip(scores, labels, strict=True) if not y])
    with pytest.raises(AnswerabilityError, match="one label per row"):
        fit(rows, labels[:-1])


def test_model_file_round_trips_and_a_stale_one_says_what_to_do(tmp_path: Path) -> None:
    rows, labels = _rows()
    model = AnswerabilityModel(**{**fit(rows, labels).__dict__, "threshold": 0.42, "meta": {"embedding": "x"}})
    path = tmp_path / "answerability.json"
    model.save(path)
    back = load_model(path)
    assert back == model and back.score(rows[0]) == model.score(rows[0])
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["features"] = obj["features"][:-1]
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(AnswerabilityError, match="calibrate --fit"):
        load_model(path)
    with pytest.raises(AnswerabilityError, match="cannot read"):
        load_model(tmp_path / "missing.json")
    with pytest.raises(AnswerabilityError, match="refusal"):
        for_embedding("answerability", None, "x", tmp_path / "missing.json")


def test_the_judge_follows_the_embedding_and_the_config(tmp_path: Path) -> None:
    rows, labels = _rows()
    path = tmp_path / "m.json"
    AnswerabilityModel(**{**fit(rows, labels).__dict__, "meta": {"embedding": "mini"}}).save(path)
    judge = for_embedding("answerability", 0.3, "mini", path)
    assert judge is not None and judge.threshold == 0.3
    assert for_embedding("answerability", None, "mini", path).threshold == 0.5  # type: ignore[union-attr]
    assert for_embedding("answerability", None, "other-model", path) is None
    assert for_embedding("confidence", None, "mini", path) is None


def test_the_shipped_model_loads_and_names_its_embedding() -> None:
    model = load_model(MODEL_FILE)
    assert model.names == FEATURES and 0.0 < model.threshold < 1.0
    assert isinstance(model.meta.get("embedding"), str)


def test_refusal_on_a_tiny_corpus(analyser: Analyser, tmp_path: Path) -> None:
    """Fitted on some questions over one passage, the judge refuses a question the passage cannot answer
    (a company and a rare word it never names) and answers one it can, neither of them seen in the fit."""
    train = [(q, True) for q in ANSWERABLE] + [(q, False) for q in UNANSWERABLE]
    model = fit([_features(analyser, q) for q, _ in train], [y for _, y in train])
    path = tmp_path / "m.json"
    AnswerabilityModel(**{**model.__dict__, "meta": {"embedding": "hash"}}).save(path)
    answerer = _answerer(analyser, Answerability(None, path))
    refused = answerer.answer("Who is the treasurer of Zentrix Logistics?", _hits())
    assert not refused.answerable and refused.text == NOT_COVERED
    assert refused.answerability is not None and refused.answerability < 0.5
    answered = answerer.answer("In which city was the teleconference held?", _hits())
    assert answered.answerable and "Beijing" in answered.text
    assert answered.answerability is not None and answered.answerability >= 0.5
    assert Answer.to_json(answered)["answerability"] == round(answered.answerability, 4)
    assert _answerer(analyser).answer("Who wrote Hamlet?", _hits()).answerability is None


def test_calibrate_fit_chooses_the_threshold_on_the_cases() -> None:
    from postqa.interfaces.evaluation.calibration import answerability_table, fit_answerability

    rows, labels = _rows()
    per_case = [{"id": str(i), "kind": "who" if y else "general", "answerable": y, "has_span": True,
                 "confidence": 0.5, "correct": y, "features": r}
                for i, (r, y) in enumerate(zip(rows, labels, strict=True))]
    per_case.append({"id": "people", "kind": "who", "answerable": True, "has_span": True, "confidence": 0.9,
                     "correct": True, "features": {}})
    near = {"id": "near", "kind": "unanswerable", "answerable": False, "has_span": True, "confidence": 0.5,
            "correct": False, "features": {**rows[0], "cover_hits": 0.0}}
    out = fit_answerability([*per_case, near], {"embedding": "e"}, 0.25)
    model = out["model"]
    assert model.meta == {"embedding": "e", "fitted_cases": len(rows), "min_confidence": 0.25}
    assert out["best"]["threshold"] == model.threshold
    assert out["best"]["row"]["refusal_f1"] > 0.8
    assert per_case[-1]["answerability"] is None  # answered by another path: keeps its answer
    table = answerability_table([(True, True, 0.5, None, True), (False, True, 0.5, 0.2, False),
                                 (False, True, 0.1, 0.9, False)], [0.5], 0.25)
    assert table[0]["refusal_precision"] == 1.0 and table[0]["refusal_recall"] == 1.0


def test_the_near_miss_model_round_trips_and_lowers_the_score(tmp_path: Path) -> None:
    rows, labels = _rows()
    first = fit(rows, labels)
    # a near-miss model that says the opposite of the first: the score is the lower of the two
    near = fit(rows, [not y for y in labels], names=NEAR_FEATURES)
    both = AnswerabilityModel(**{**first.__dict__, "meta": {"embedding": "x"}, "near": near})
    assert near.names == NEAR_FEATURES
    assert all(both.score(r) == min(first.own_score(r), near.own_score(r)) for r in rows)
    assert any(both.score(r) < first.score(r) for r in rows)
    path = tmp_path / "answerability.json"
    both.save(path)
    assert load_model(path) == both
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["near"]["features"] = ["no_such_feature"]
    path.write_text(json.dumps(obj), encoding="utf-8")
    with pytest.raises(AnswerabilityError, match="calibrate --fit"):
        load_model(path)


def test_fit_near_learns_from_near_miss_cases_within_its_refusal_budget() -> None:
    from postqa.interfaces.evaluation.calibration import fit_answerability, fit_near

    rng = np.random.default_rng(3)
    per_case = []
    for i in range(60):
        kind = ("who", "unanswerable", "general")[i % 3]
        row = {name: float(rng.uniform(0, 1)) for name in FEATURES}
        row["cover_hits"] = 0.0 if kind == "general" else 1.0  # the first model tells general questions apart
        row["relation_sentence"] = float(rng.uniform(0.6, 1.0) if kind == "who" else rng.uniform(0.0, 0.5))
        per_case.append({"id": str(i), "kind": kind, "answerable": kind == "who", "has_span": True,
                         "confidence": 0.5, "correct": kind == "who", "features": row})
    out = fit_answerability(per_case, {"embedding": "e"}, 0.25)
    model = out["model"]
    assert model.near is not None and model.near.threshold == model.threshold
    weights = dict(zip(model.near.names, model.near.coef, strict=True))
    assert weights["relation_sentence"] == max(weights.values()) > 0
    refused = [c for c in per_case if c["answerability"] < model.threshold]
    assert sum(c["kind"] == "unanswerable" for c in refused) >= 15  # of 20
    assert sum(c["answerable"] for c in refused) <= 2  # 10% of the 20 answerable ones at most
    strict = fit_near(per_case, replace(model, near=None), 0.25, extra=0.0)  # no budget: no answerable refused
    assert strict is not None and all(strict.own_score(c["features"]) >= strict.threshold
                                      for c in per_case if c["answerable"])
    assert fit_near([c for c in per_case if c["kind"] != "unanswerable"], model, 0.25) is None  # none to learn from


def test_the_shipped_model_puts_a_clear_answerable_above_a_clear_near_miss(analyser: Analyser) -> None:
    """Same article, same focus: the staff count is said, the beer output is not."""
    text = ("Inbev has agreed to buy a stake in Sun Interbrew, Russia's second-largest brewer, for 259.7m euros. "
            "Inbev employs 77,000 people, running operations in over 30 countries. "
            "The deal is expected to be completed in the first quarter of 2005.")
    chunk = Chunk("b#0", "b", 0, text, 0, len(text), "Beer giant swallows Russian firm", date(2005, 1, 5), "s")
    hits = [Hit(chunk, 1.0, dense_score=0.6, dense_rank=0, keyword_rank=0)]
    model = load_model(MODEL_FILE)
    answerer = _answerer(analyser)
    said = answerer.answer("How many people does Inbev employ?", hits)
    unsaid = answerer.answer("How many bottles of beer does Sun Interbrew produce a year?", hits)
    assert "77,000" in said.text
    assert model.score(dict(said.features)) > model.score(dict(unsaid.features))
    assert model.near is not None
    assert model.near.own_score(dict(said.features)) > model.near.own_score(dict(unsaid.features))
