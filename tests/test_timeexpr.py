"""Time expressions in questions resolve to publication-date ranges against a reference date."""

from __future__ import annotations

from datetime import date

import pytest

from postqa.answering.timeexpr import REPORTING_LAG, describe, intent_filter, parse_time_expression
from postqa.core.types import SearchFilter

REF = date(2020, 9, 11)  # the newest article of the bundled corpus
D = date


@pytest.mark.parametrize("question,lo,hi", [
    ("What did China Post announce in 2019?", D(2019, 1, 1), D(2019, 12, 31)),
    ("What did China Post announce in May 2019?", D(2019, 5, 1), D(2019, 5, 31)),
    ("What happened in September 2020?", D(2020, 9, 1), D(2020, 9, 30)),
    ("Any news from May 2019?", D(2019, 5, 1), D(2019, 5, 31)),
    ("What was decided during the year of 2019?", D(2019, 1, 1), D(2019, 12, 31)),
    ("May 2019 meetings of China Post", D(2019, 5, 1), D(2019, 5, 31)),
    ("What work was officially launched on 10 September 2020?", D(2020, 9, 10), D(2020, 9, 10)),
    ("What kind of meeting did China Post Group hold on 17 May 2019?", D(2019, 5, 17), D(2019, 5, 17)),
    ("What happened on May 17, 2019?", D(2019, 5, 17), D(2019, 5, 17)),
    ("What was published on 2019-05-21?", D(2019, 5, 21), D(2019, 5, 21)),
    ("What happened in early 2019?", D(2019, 1, 1), D(2019, 4, 30)),
    ("What happened in late September 2020?", D(2020, 9, 21), D(2020, 9, 30)),
    ("What happened in Sept. 2020?", D(2020, 9, 1), D(2020, 9, 30)),
    ("What happened before 2020?", None, D(2019, 12, 31)),
    ("What happened before May 2019?", None, D(2019, 4, 30)),
    ("What happened after 2019?", D(2020, 1, 1), None),
    ("What happened after May 2019?", D(2019, 6, 1), None),
    ("What has happened since 2020?", D(2020, 1, 1), None),
    ("What has happened since June 2019?", D(2019, 6, 1), None),
    ("What happened until 2019?", None, D(2019, 12, 31)),
    ("What was known as of May 2019?", None, D(2019, 5, 31)),
    ("What happened from 2019 onwards?", D(2019, 1, 1), None),
    ("What happened between 2019 and 2020?", D(2019, 1, 1), D(2020, 12, 31)),
    ("What happened between May 2019 and September 2020?", D(2019, 5, 1), D(2020, 9, 30)),
    ("What happened from June 2019 to August 2020?", D(2019, 6, 1), D(2020, 8, 31)),
    ("What happened in 2019 and in 2020?", D(2019, 1, 1), D(2020, 12, 31)),
])
def test_absolute_expressions(question: str, lo: date | None, hi: date | None) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None
    assert (intent.date_from, intent.date_to) == (lo, hi)
    assert not intent.relative
    assert question[intent.span[0]:intent.span[1]]


@pytest.mark.parametrize("question,lo,hi,label_part", [
    ("What did China Post do this year?", D(2020, 1, 1), D(2020, 12, 31), "this year (2020)"),
    ("What did China Post do last year?", D(2019, 1, 1), D(2019, 12, 31), "last year (2019)"),
    ("What is planned for next year?", D(2021, 1, 1), D(2021, 12, 31), "next year (2021)"),
    ("What happened this month?", D(2020, 9, 1), D(2020, 9, 30), "September 2020"),
    ("What happened last month?", D(2020, 8, 1), D(2020, 8, 31), "August 2020"),
    ("What happened last September?", D(2019, 9, 1), D(2019, 9, 30), "2019-09-01..2019-09-30"),
    ("What happened last May?", D(2020, 5, 1), D(2020, 5, 31), "last May"),
    ("What happened this May?", D(2020, 5, 1), D(2020, 5, 31), "this May"),
    ("What happened in September?", D(2020, 9, 1), D(2020, 9, 30), "September"),
    ("What happened in October?", D(2019, 10, 1), D(2019, 10, 31), "October"),
    ("What happened on September 10?", D(2020, 9, 10), D(2020, 9, 10), "2020-09-10"),
    ("What happened yesterday?", D(2020, 9, 10), D(2020, 9, 10), "yesterday"),
    ("What happened today?", D(2020, 9, 11), D(2020, 9, 11), "today"),
    ("What happened in the last 30 days?", D(2020, 8, 12), D(2020, 9, 11), "the last 30 days"),
    ("What happened in the past two weeks?", D(2020, 8, 28), D(2020, 9, 11), "the last 2 weeks"),
    ("What happened two years ago?", D(2018, 1, 1), D(2018, 12, 31), "2 years ago (2018)"),
    ("What happened last week?", D(2020, 8, 31), D(2020, 9, 6), "last week"),
    ("What happened this quarter?", D(2020, 7, 1), D(2020, 9, 30), "this quarter"),
])
def test_relative_expressions(question: str, lo: date, hi: date, label_part: str) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None
    assert (intent.date_from, intent.date_to) == (lo, hi)
    assert intent.relative
    assert label_part in intent.label


@pytest.mark.parametrize("question", [
    "What happened at the latest meeting?", "What is the most recent news about Xinhua?",
    "What did China Post announce recently?", "What is the newest project?",
    "What was discussed at the last meeting?",
])
def test_recency(question: str) -> None:
    intent = parse_time_expression(question, REF)
    assert intent is not None and intent.recency
    assert not intent.has_range
    assert intent.label == "latest"


def test_recency_with_a_range() -> None:
    intent = parse_time_expression("What was the latest announcement in 2019?", REF)
    assert intent is not None and intent.recency
    assert (intent.date_from, intent.date_to) == (D(2019, 1, 1), D(2019, 12, 31))


@pytest.mark.parametrize("question", [
    "Who presided over the Xinhua teleconference?",
    "What promotion meeting was held on the 2019 Automobile Industry Chain Synergic Expansion Project?",
    "What title did Kang Ning hold at China Post Group in both the 2019 and 2020 articles?",
    "What is the 2021 subscription price for Xinhua's newspapers?",
    "What may happen to subscriptions?",
    "Executives of postal branches from how many provinces attended?",
    "Which year's distribution work was recognized?",
    "How many parties make up the mechanism?",
])
def test_no_time_expression(question: str) -> None:
    assert parse_time_expression(question, REF) is None


def test_span_points_at_the_expression() -> None:
    q = "What did China Post announce in May 2019?"
    intent = parse_time_expression(q, REF)
    assert intent is not None
    assert q[intent.span[0]:intent.span[1]] == "May 2019"


def test_filter_adds_reporting_lag_and_intersects_user_filter() -> None:
    intent = parse_time_expression("What happened on 17 May 2019?", REF)
    assert intent is not None
    flt = intent_filter(intent, None)
    assert flt.date_from == D(2019, 5, 17) and flt.date_to == D(2019, 5, 17) + REPORTING_LAG
    before = parse_time_expression("What happened before 2020?", REF)
    assert before is not None
    assert intent_filter(before, None).date_to == D(2019, 12, 31)  # an explicit bound is literal
    user = SearchFilter(date_from=D(2019, 5, 20), article_ids=frozenset({"a"}))
    merged = intent_filter(intent, user)
    assert merged.date_from == D(2019, 5, 20) and merged.article_ids == frozenset({"a"})


def test_note_names_the_range_and_reference() -> None:
    intent = parse_time_expression("What did China Post announce in May 2019?", REF)
    assert intent is not None
    note = describe(intent, REF, "newest article")
    assert note == "Dates: May 2019 (2019-05-01 to 2019-05-31)"
    rel = parse_time_expression("What happened last year?", REF)
    assert rel is not None
    assert describe(rel, REF, "newest article") == (
        "Dates: last year (2019), relative to 2020-09-11 (newest article)")
    latest = parse_time_expression("What happened at the latest meeting?", REF)
    assert latest is not None
    assert "relative to 2020-09-11" in describe(latest, REF, "newest article")
