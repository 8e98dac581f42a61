"""People and roles from the text: patterns, the index, its persistence and its answers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from conftest import AUTO, CORPUS, XINHUA

from postqa.core.types import Answer, Article, Chunk, Citation
from postqa.index.people import (
    PeopleIndex,
    extract_people,
    is_both_question,
    is_present_person_question,
    person_question,
    role_answer,
    role_mentions_in,
    who_answer,
    with_as_of,
)
from postqa.reading.corpus import read_corpus


@pytest.mark.parametrize("sentence,expected", [
    ("Zhang Jinliang, President of China Post Group, and Kang Ning, Vice President of China Post Group, "
     "attended the meeting.",
     [("Zhang Jinliang", "President of China Post Group"),
      ("Kang Ning", "Vice President of China Post Group")]),
    ("Zhang Yongping, Head of the General Manager’s Office of Xinhua News Agency, presided over it.",
     [("Zhang Yongping", "Head of the General Manager’s Office of Xinhua News Agency")]),
    ("Gong Xixiang, Secretary General of Xinhua News Agency, and Kang Ning, Vice President of China Post "
     "Group "
     "respectively addressed the meeting.",
     [("Gong Xixiang", "Secretary General of Xinhua News Agency"),
      ("Kang Ning", "Vice President of China Post Group")]),
    ("the instructions put forward by Chairman Liu Aili that synergy is the first strategy.",
     [("Liu Aili", "Chairman")]),
    ("Li Wei and Wang Fang, Vice Presidents of China Post Group, visited Hainan.",
     [("Li Wei", "Vice Presidents of China Post Group"), ("Wang Fang", "Vice Presidents of China Post Group")]),
    ("The speech of Deputy General Manager of China Post Group Chen Hao was warmly received.",
     [("Chen Hao", "Deputy General Manager of China Post Group")]),
    ("Xinhua News Agency and China Post Group Corporation Limited jointly held a teleconference.", []),
    ("At the meeting, PSBC and the Parcel, Express and Logistics Business Unit introduced plans.", []),
])
def test_role_patterns(sentence: str, expected: list[tuple[str, str]]) -> None:
    found = [(name, role) for name, role, _, _ in role_mentions_in(sentence)]
    assert sorted(found) == sorted(expected)
    for name, _role, a, b in role_mentions_in(sentence):
        assert name in sentence[a:b]


@pytest.fixture(scope="module")
def people() -> PeopleIndex:
    return PeopleIndex.from_articles(read_corpus([CORPUS]).articles, "fp")


def test_extract_people_from_an_article() -> None:
    art = next(a for a in read_corpus([CORPUS]).articles if a.id == AUTO)
    mentions = extract_people(art)
    roles = {(m.name, m.role) for m in mentions if m.role}
    assert ("Zhang Jinliang", "President of China Post Group") in roles
    assert ("Liu Aili", "Chairman") in roles
    # people are also found where a sentence names them without a role
    assert any(m.name == "Kang Ning" and not m.role and "announced" in m.sentence for m in mentions)
    for m in mentions:
        assert art.text[m.sentence_start:m.sentence_start + len(m.sentence)] == m.sentence
        assert m.published == date(2019, 5, 21)


def test_index_lists_roles_newest_first_with_each_article(people: PeopleIndex) -> None:
    kang = people.person("Kang Ning")
    assert kang is not None
    assert [r.role for r in kang.roles] == ["Vice President of China Post Group"]
    assert kang.roles[0].dates == [date(2020, 9, 11), date(2019, 5, 21)]
    assert [a["id"] for a in kang.articles] == [XINHUA, AUTO]
    assert people.names() == ["Gong Xixiang", "Kang Ning", "Liu Aili", "Zhang Jinliang", "Zhang Yongping"]


@pytest.mark.parametrize("asked,key", [
    ("Kang Ning", "kang ning"), ("kang ning", "kang ning"), ("Ning Kang", "kang ning"),
    ("Gong", "gong xixiang"), ("Zhang", None), ("Nobody Here", None),
])
def test_aliases(people: PeopleIndex, asked: str, key: str | None) -> None:
    assert people.resolve(asked) == key


def test_who_answer_cites_every_article_newest_first(people: PeopleIndex) -> None:
    ans = who_answer(people, "Who is Kang Ning?", "Kang Ning")
    assert ans is not None and ans.answerable
    assert ans.text == "Kang Ning: Vice President of China Post Group (as of 2020-09-11; also 2019-05-21)"
    assert [c.article_id for c in ans.citations] == [XINHUA, AUTO]
    for c in ans.citations:
        assert c.span is not None
        assert c.passage[c.span[0]:c.span[1]] == "Kang Ning, Vice President of China Post Group"


def test_role_questions(people: PeopleIndex) -> None:
    asked = person_question(people, "Who is the President of China Post Group?")
    assert asked == ("role", "President of China Post Group")
    ans = role_answer(people, "q", asked[1])
    assert ans is not None and ans.text == "Zhang Jinliang (as of 2019-05-21)"
    assert ans.citations[0].article_id == AUTO
    vice = role_answer(people, "q", "Vice President of China Post Group")
    assert vice is not None and vice.text.startswith("Kang Ning (as of 2020-09-11)")
    assert role_answer(people, "q", "President of Xinhua News Agency") is None
    assert person_question(people, "Who is Kang Ning?") == ("name", "kang ning")
    assert person_question(people, "What is Zhang Yongping's position at Xinhua News Agency?") == \
        ("name", "zhang yongping")
    assert person_question(people, "Who presided over the meeting?") is None


def test_present_tense_and_as_of() -> None:
    assert is_present_person_question("Who is the President of China Post Group?")
    assert is_present_person_question("What is Kang Ning's role?")
    assert not is_present_person_question("Who was the President at the meeting?")
    assert not is_present_person_question("Who presided over the meeting?")
    cite = Citation(1, AUTO, "t", date(2019, 5, 21), "s", "Zhang Jinliang, President", (0, 14), 1.0)
    ans = with_as_of(Answer("q", "Zhang Jinliang", True, [cite]))
    assert ans.text == "Zhang Jinliang (as of 2019-05-21)"
    assert with_as_of(ans).text == ans.text  # once


def test_both_question_detection() -> None:
    assert is_both_question("Which executive attended both the auto meeting and the Xinhua teleconference?")
    assert is_both_question("Which China Post executive spoke at both meetings?")
    assert not is_both_question("What did both sides agree?")


def test_built_from_overlapping_chunks_like_from_articles(people: PeopleIndex) -> None:
    arts = read_corpus([CORPUS]).articles
    chunks = []
    for a in arts:  # two overlapping chunks per article
        mid = a.text.index(". ", len(a.text) // 2) + 2
        back = a.text.rindex(". ", 0, mid - 2) + 2
        chunks += [Chunk(f"{a.id}#0", a.id, 0, a.text[:mid].rstrip(), 0, mid, a.title, a.published,
                         a.source),
                   Chunk(f"{a.id}#1", a.id, 1, a.text[back:], back, len(a.text), a.title, a.published,
                         a.source)]
    from_chunks = PeopleIndex.from_chunks(chunks, "fp")
    key = sorted((m.name, m.role, m.article_id, m.sentence_start) for m in people.mentions)
    assert sorted((m.name, m.role, m.article_id, m.sentence_start) for m in from_chunks.mentions) == key


def test_save_and_load_round_trip(tmp_path: Path, people: PeopleIndex) -> None:
    path = tmp_path / "people" / "c.json"
    people.save(path)
    loaded = PeopleIndex.load(path)
    assert loaded is not None and loaded.fingerprint == "fp"
    assert loaded.mentions == people.mentions
    assert not list(path.parent.glob("*.tmp"))
    path.write_text("{not json")
    assert PeopleIndex.load(path) is None
    path.write_text(json.dumps({"version": 999, "mentions": []}))
    assert PeopleIndex.load(path) is None


def test_names_without_roles_are_not_people() -> None:
    art = Article("x", "t", date(2020, 1, 1), "s", "Beijing Post Office opened. China Post Group said so.")
    assert extract_people(art) == []


def test_a_role_without_organisation_does_not_contradict_the_asked_one() -> None:
    from postqa.index.people import contradicts_role

    art = Article(id="a", title="T", published=None, source="s",
                  text="Zhang Jinliang required units to follow the instructions put forward by Chairman Liu Aili. "
                       "Kang Ning, Vice President of China Post Group, attended.")
    people = PeopleIndex.from_articles([art])
    assert not contradicts_role(people, "Liu Aili", "Chairman of China Post Group")
    assert contradicts_role(people, "Kang Ning", "President of Xinhua News Agency")
