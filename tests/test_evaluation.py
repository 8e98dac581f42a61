"""The eval metrics, reports and regressions, and an end-to-end run with the hash embedder (fast, offline)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postqa.core.types import Answer, Chunk, Citation, Hit
from postqa.interfaces.evaluation import (
    Case,
    EvalError,
    best_threshold,
    calibration_table,
    check_thresholds,
    compare_table,
    contains_answer,
    gold_rank,
    load_cases,
    markdown_report,
    normalize,
    previous_report,
    refusal_metrics,
    regressions,
    retrieval_metrics,
    score_case,
    span_valid,
    summarize,
    token_f1,
    write_report,
)

XINHUA = "002_5146c6ce1be9ca86"
AUTO = "000_7c54a6ad0a6d1da4"


def test_normalize_folds_case_quotes_punctuation_and_articles() -> None:
    assert normalize("The General Manager’s Office.") == "general manager office"
    assert normalize("strategic cooperation V2.0") == "strategic cooperation v2.0"
    assert normalize("“three in one”") == "three in one"


def test_contains_answer_matches_whole_words_only() -> None:
    assert contains_answer("Zhang Yongping, Head of the Office", ["zhang yongping"])
    assert contains_answer("Head of the General Manager's Office", ["General Manager’s Office"])
    assert not contains_answer("31 provinces", ["3"])
    assert not contains_answer("", ["Beijing"])
    assert contains_answer("in Beijing", ["Shanghai", "Beijing"])


def test_token_f1_takes_the_best_alias() -> None:
    assert token_f1("Kang Ning", ["Kang Ning"]) == 1.0
    assert token_f1("GIS electronic fence technology", ["GIS"]) == pytest.approx(2 * 0.25 / 1.25)
    assert token_f1("GIS electronic fence technology", ["GIS", "GIS electronic fence technology"]) == 1.0
    assert token_f1("nothing shared", ["Beijing"]) == 0.0


def test_gold_rank_and_retrieval_metrics() -> None:
    assert gold_rank(["a", "b", "a"], ["b"]) == 2
    assert gold_rank(["a", "a"], ["b"]) is None
    m = retrieval_metrics([1, 2, None, 5])
    assert m["hit@1"] == 0.25 and m["hit@3"] == 0.5 and m["hit@5"] == 0.75
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0 + 0.2) / 4)


def test_refusal_metrics() -> None:
    # (should refuse, refused): 2 right refusals, 1 missed, 1 answerable refused, 2 answered
    pairs = [(True, True), (True, True), (True, False), (False, True), (False, False), (False, False)]
    m = refusal_metrics(pairs)
    assert m["refusal_precision"] == pytest.approx(2 / 3)
    assert m["refusal_recall"] == pytest.approx(2 / 3)
    assert m["coverage"] == pytest.approx(2 / 3)
    assert refusal_metrics([])["refusal_recall"] == 1.0


def test_span_valid() -> None:
    passage = "Zhang Yongping presided over the meeting."
    assert span_valid(passage, (0, 14), "Zhang Yongping")
    assert not span_valid(passage, (0, 99), "Zhang Yongping")  # outside the passage
    assert not span_valid(passage, (15, 23), "Zhang Yongping")  # does not cover the answer
    assert not span_valid(passage, None, "Zhang Yongping")
    # an answer may restate its span's words or add a qualifier
    assert span_valid("Chairman Liu Aili said", (0, 17), "Liu Aili: Chairman (as of 2019-05-21)")
    assert span_valid(passage, (0, 14), "Zhang Yongping (as of 2020-09-11)")


def _chunk(article: str, text: str) -> Chunk:
    return Chunk(id=f"{article}#0", article_id=article, n=0, text=text, start=0, end=len(text))


def _answer(
    text: str,
    answerable: bool,
    article: str = XINHUA,
    passage: str | None = None,
    hits: tuple[str, ...] = (XINHUA, AUTO),
) -> Answer:
    passage = passage if passage is not None else f"{text} presided over the meeting."
    pos = passage.find(text)
    cites = [
        Citation(
            n=1,
            article_id=article,
            title="t",
            published=None,
            source="s",
            passage=passage,
            span=(pos, pos + len(text)) if answerable and pos >= 0 else None,
            score=1.0,
        )
    ]
    return Answer(
        question="q",
        text=text,
        answerable=answerable,
        citations=cites,
        hits=[Hit(chunk=_chunk(a, passage), score=1.0) for a in hits],
        confidence=0.7,
    )


CASE = Case(
    id="c1", kind="who", question="Who presided?", answers=("Zhang Yongping",), gold_articles=(XINHUA,)
)
UNANSWERABLE = Case(id="u1", kind="unanswerable", question="Who is the CEO of PSBC?")


def test_score_case_right_answer_passes() -> None:
    r = score_case(CASE, _answer("Zhang Yongping", True), 12.0)
    assert r.passed and r.correct and r.hit_rank == 1 and r.f1 == 1.0
    assert r.citation_support and r.span_ok and r.why == ""


def test_score_case_wrong_and_refused_answers_say_why() -> None:
    wrong = score_case(CASE, _answer("Gong Xixiang", True, hits=(AUTO, XINHUA)), 1.0)
    assert not wrong.passed and wrong.hit_rank == 2 and "wrong span" not in wrong.why
    refused = score_case(CASE, _answer("The news in the index does not say.", False), 1.0)
    assert not refused.passed and refused.why.startswith("refused")
    missed = score_case(CASE, _answer("Gong Xixiang", True, hits=(AUTO,)), 1.0)
    assert missed.hit_rank is None and "no passage" in missed.why


def test_score_case_unanswerable_must_be_refused() -> None:
    assert score_case(UNANSWERABLE, _answer("The news does not say.", False), 1.0).passed
    r = score_case(UNANSWERABLE, _answer("Kang Ning", True), 1.0)
    assert not r.passed and "does not say" in r.why


def _run(results: list) -> dict:  # type: ignore[type-arg]
    from dataclasses import asdict

    return {
        "meta": {"timestamp": "2026-01-01T00:00:00Z", "model": "m", "commit": "x", "case_files": ["f"]},
        "summary": summarize(results),
        "cases": [asdict(r) for r in results],
    }


def test_summary_reports_and_regressions(tmp_path: Path) -> None:
    good = [
        score_case(CASE, _answer("Zhang Yongping", True), 10.0),
        score_case(UNANSWERABLE, _answer("no", False), 20.0),
    ]
    bad = [
        score_case(CASE, _answer("Gong Xixiang", True), 10.0),
        score_case(UNANSWERABLE, _answer("no", False), 20.0),
    ]
    s = summarize(good)
    assert s["answer_accuracy"] == 1.0 and s["refusal_recall"] == 1.0 and s["hit@3"] == 1.0
    assert s["per_kind"]["who"] == {"n": 1, "passed": 1, "accuracy": 1.0, "sentence_right": 1.0, "span_right": 1.0}
    assert check_thresholds(s) == []
    assert any("answer_accuracy" in m for m in check_thresholds(summarize(bad)))

    before, after = _run(good), _run(bad)
    after["meta"]["timestamp"] = "2026-01-02T00:00:00Z"
    found = regressions(before, after)
    assert any(line.startswith("case c1") for line in found)
    assert any(line.startswith("answer_accuracy") for line in found)
    assert regressions(before, before) == []
    grown = {**after, "cases": after["cases"] + [{**after["cases"][0], "id": "new"}]}
    assert any("case set changed" in line for line in regressions(before, grown))

    p1, md1 = write_report(before, tmp_path)
    p2, _ = write_report(after, tmp_path)
    assert p1.name == "20260101T000000Z-m.json" and md1.suffix == ".md"
    assert previous_report(tmp_path, after, exclude=p2) == p1
    assert json.loads(p2.read_text())["summary"]["answer_accuracy"] == 0.0
    md = markdown_report(after)
    assert "| c1 | who |" in md and "✗" in md
    table = compare_table([before, {**after, "meta": {**after["meta"], "model": "other"}}])
    assert "| answer_accuracy | 1.000 | 0.000 |" in table and "c1" in table


def test_calibration_sweep_picks_the_middle_of_the_best_range() -> None:
    # (answerable, has span, confidence, right)
    rows = [
        (True, True, 0.8, True),
        (True, True, 0.6, True),
        (False, True, 0.3, False),
        (False, False, 0.7, False),
        (False, True, 0.5, False),
    ]
    table = calibration_table(rows, [i / 10 for i in range(11)])
    best = best_threshold(table)
    assert best["row"]["refusal_f1"] == 1.0
    assert best["range"] == (0.6, 0.6)
    assert best["threshold"] == 0.6


def test_load_cases_validates(tmp_path: Path) -> None:
    f = tmp_path / "cases.jsonl"
    f.write_text(
        '{"id": "a", "kind": "who", "question": "Who?", "answers": ["X"], "gold_articles": ["g"],'
        ' "gold_sentence": "X did."}\n',
        encoding="utf-8",
    )
    (c,) = load_cases([f])
    assert c.answerable and c.gold_sentence == ("X did.",)
    f.write_text(
        '{"id": "a", "kind": "unanswerable", "question": "Who?", "answers": ["X"]}\n', encoding="utf-8"
    )
    with pytest.raises(EvalError, match="no answers"):
        load_cases([f])
    # general-knowledge questions outside the news are refusals too: no answers, no gold article needed
    f.write_text('{"id": "g", "kind": "general", "question": "Who wrote Hamlet?", "answers": []}\n', encoding="utf-8")
    (g,) = load_cases([f])
    assert g.kind == "general" and not g.answerable
    f.write_text('{"id": "g", "kind": "general", "question": "Who?", "answers": ["X"]}\n', encoding="utf-8")
    with pytest.raises(EvalError, match="general case must have no answers"):
        load_cases([f])
    f.write_text(
        '{"id": "a", "kind": "who", "question": "Who?", "answers": ["X"], "gold_articles": ["g"]}\n' * 2,
        encoding="utf-8",
    )
    with pytest.raises(EvalError, match="duplicate"):
        load_cases([f])


def test_the_repository_case_files_load() -> None:
    cases = load_cases()
    assert len(cases) >= 50 and len({c.id for c in cases}) == len(cases)


def test_an_end_to_end_run_with_the_hash_embedder(hash_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from postqa.interfaces.evaluation import evaluate

    cases = [c for c in load_cases() if c.kind in ("who", "unanswerable")][:6]
    run = evaluate(hash_settings, cases)
    s = run["summary"]
    assert s["cases"] == 6 and 0.0 <= s["answer_accuracy"] <= 1.0 and s["latency_ms_p50"] > 0
    assert run["meta"]["model"].startswith("hash")
    json_path, md_path = write_report(run, tmp_path)
    assert json_path.is_file() and md_path.read_text(encoding="utf-8").startswith("# postqa eval")


def test_the_cli_has_eval_and_calibrate() -> None:
    from postqa.interfaces.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["eval", "--compare", "a", "b", "--limit", "3", "--json", "--out", "x"])
    assert args.compare == ["a", "b"] and args.limit == 3 and args.json and args.out == "x"
    args = parser.parse_args(["eval", "--dataset", "d", "--articles", "10"])
    assert args.dataset == "d" and args.articles == 10
    args = parser.parse_args(["calibrate", "--embedding-model", "m"])
    assert args.embedding_model == "m" and args.func.__name__ == "cmd_calibrate"
