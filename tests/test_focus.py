"""The question's focus and whether an answer is said of it (answering/focus.py), and refusal.missing comparing
lemmas on both sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from postqa.answering import focus
from postqa.answering.question import Question, read_question
from postqa.answering.refusal import lemmas_of, missing
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Analysis, Span
from postqa.nlp.pipeline import Analyser

TEXT = ("The mining group, led by new chief executive Gerry Spindler, reported a loss of 51.6m in 2004. "
        "Mr Spindler, 52, said the company hoped to return to profit in 2006.")


def ask(analyser: Analyser, text: str) -> Question:
    return read_question(text, analyser.analyse(text))


def sentence(a: Analysis, n: int) -> Span:
    return a.sents[n]


def test_the_focus_is_the_questions_nouns_and_names_outside_the_wh_phrase(analyser: Analyser) -> None:
    q = ask(analyser, "How many cars will Hyundai's new plant produce?")
    words = [q.analysis.word(t.i) for t in focus.focus(q)]
    assert "Hyundai" in words and "plant" in words and "cars" not in words and "How" not in words


def test_a_focus_word_matches_by_lemma_or_by_the_same_word(analyser: Analyser) -> None:
    q = ask(analyser, "How old is Gerry Spindler?")
    a = analyser.analyse(TEXT)
    words = focus.focus(q)
    both = [focus.matches(q, words, a, s) for s in a.sents]
    assert all(any(hit) for hit in both)  # 'Gerry Spindler' in the first, 'Mr Spindler' in the second
    plural = ask(analyser, "What did the groups report?")
    assert any(focus.matches(plural, focus.focus(plural), a, a.sents[0]))  # 'groups' ~ 'group'


def test_a_number_said_of_the_focus_is_near_it_in_the_parse(analyser: Analyser) -> None:
    a = analyser.analyse(TEXT)
    age = ask(analyser, "How old is Gerry Spindler?")
    words = focus.focus(age)
    assert focus.typed_near(age, words, a, a.sents[1])  # 'Mr Spindler, 52'
    other = ask(analyser, "How old is Tom Glocer?")  # nobody of that name: no number is said of him
    assert not focus.typed_near(other, focus.focus(other), a, a.sents[1])


def test_tree_distance_and_span_head(analyser: Analyser) -> None:
    a = analyser.analyse(TEXT)
    s = a.sents[1]
    start = a.char_span(s)[0]
    text = a.span_text(s)
    lo = text.index("52")
    head = focus.span_head(a, s, start, (lo, lo + 2))
    assert head is not None and a.word(head) == "52"
    spindler = next(t.i for t in a.tokens[s.start:s.end] if a.word(t.i) == "Spindler")
    profit = next(t.i for t in a.tokens[s.start:s.end] if a.word(t.i) == "profit")
    assert focus.tree_distance(a, head, spindler) < focus.tree_distance(a, profit, spindler)
    assert focus.tree_distance(a, head, head) == 0


def test_missing_compares_lemmas_with_lemmas(analyser: Analyser) -> None:
    passage = "The meeting was held in Beijing on Monday."
    a = analyser.analyse(passage)
    q = ask(analyser, "Where does the group hold its meetings?")
    never = {"hold", "meet", "group"}  # words the corpus has no idf for: only the passage can show them

    def idf(t: str) -> float:
        return 0.0 if t in never else 1.0

    _, without = missing(q, [passage], idf, tokenize)
    _, with_lemmas = missing(q, [passage], idf, tokenize, lemmas_of([a]))
    assert "hold" in without  # the stem of 'hold' is not the stem of 'held'
    assert "hold" not in with_lemmas and "group" in with_lemmas  # 'held' is 'hold'; no group is named


def _head(analyser: Analyser, text: str, sent: int, needle: str) -> tuple[Analysis, Span, int | None]:
    a = analyser.analyse(text)
    s = a.sents[sent]
    lo = a.span_text(s).index(needle)
    return a, s, focus.span_head(a, s, a.char_span(s)[0], (lo, lo + len(needle)))


def test_the_span_is_tied_to_the_word_saying_what_is_asked(analyser: Analyser) -> None:
    text = "The hotel manager saved 1,200 Tutsis during the genocide."
    a, s, head = _head(analyser, text, 0, "1,200 Tutsis")
    q = ask(analyser, "How many Tutsis did the hotel manager save?")
    assert "tutsis" in {w.lower() for w in focus.asked_words(q)} or "tutsi" in focus.asked_words(q)
    assert focus.asked_tie(q, a, s, head) == 1.0
    other = ask(analyser, "How much did the hotel manager invest?")
    assert focus.asked_tie(other, a, s, head) == 0.0  # nothing in the sentence says 'invest'
    assert focus.asked_tie(q, a, s, None) == 0.0


def test_a_number_of_another_unit_is_flagged(analyser: Analyser) -> None:
    a, s, head = _head(analyser, "The service has so far attracted 940,000 users.", 0, "940,000 users")
    price = ask(analyser, "How much does a call to a landline cost?")
    count = ask(analyser, "How many users has the service attracted?")
    assert focus.other_unit(price, a, s, head) == 1.0
    assert focus.other_unit(count, a, s, head) == 0.0


# --- the question's relation (focus.relation_words, relation_cover, type_tie) and their answerability features

MATCH_TEXT = ("England were beaten 19-13 by Ireland in Dublin on Sunday. "
              "About 40,000 spectators watched the match at Lansdowne Road.")
DEAL_TEXT = ("Inbev has agreed to buy a stake in Sun Interbrew for 259.7m euros. "
             "Inbev employs 77,000 people in over 30 countries.")


def test_relation_words_are_what_is_asked_about_the_focus(analyser: Analyser) -> None:
    boss = focus.relation_words(ask(analyser, "Who is the chief executive of Air Jamaica?"))
    assert "executive" in boss and "chief" in boss and "air" not in boss and "jamaica" not in boss
    assert "spectator" in focus.relation_words(ask(analyser, "How many spectators watched the match?"))
    assert "direct" in focus.relation_words(ask(analyser, "Who directed Shark Tale?"))
    assert "old" in focus.relation_words(ask(analyser, "How old is Colin Charvis?"))
    assert focus.relation_words(ask(analyser, "How much did it take?")) == []  # a light verb asks nothing more


def test_relation_cover_by_lemma_and_by_the_models_cosine() -> None:
    assert focus.relation_cover(["executive"], ["minister", "say"], None) == 0.0
    assert focus.relation_cover(["spectator", "watch"], ["spectator", "match"], None) == 0.5
    assert focus.relation_cover([], ["anything"], None) == 1.0  # nothing asked beyond the type: nothing to miss

    def near(left: Sequence[str], right: Sequence[str]) -> np.ndarray:  # 'boss' ~ 'chief', nothing else
        return np.array([[0.8 if {x, y} == {"boss", "chief"} else 0.1 for y in right] for x in left])

    assert focus.relation_cover(["boss"], ["chief", "firm"], near) == pytest.approx(0.8)


def test_type_tie_needs_the_type_near_the_relation(analyser: Analyser) -> None:
    a = analyser.analyse(MATCH_TEXT)
    crowd = ask(analyser, "How many spectators watched the match in Dublin?")
    rel = focus.relation_words(crowd)
    assert focus.type_tie(crowd, rel, a, a.sents[0], None) == 0.0  # '19-13', but nothing of spectators near it
    assert focus.type_tie(crowd, rel, a, a.sents[1], None) >= 0.5  # '40,000 spectators'
    b = analyser.analyse(DEAL_TEXT)
    staff = ask(analyser, "How many people does Inbev employ?")
    assert focus.type_tie(staff, focus.relation_words(staff), b, b.sents[1], None) >= 0.5
    bottles = ask(analyser, "How many bottles of beer does Sun Interbrew produce?")
    assert max(focus.type_tie(bottles, focus.relation_words(bottles), b, s, None) for s in b.sents) == 0.0
