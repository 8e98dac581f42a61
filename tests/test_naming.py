"""Names a noun of the question describes: role nouns before or after a name, class nouns before a name."""

from __future__ import annotations

import pytest

from postqa.answering.naming import anchors, named
from postqa.answering.question import read_question
from postqa.nlp.pipeline import Analyser

# a stand-in for the embedding model's word similarity: equal lemmas, and a few pairs the model finds close
NEAR = {frozenset(("boss", "chief")): 0.62, frozenset(("illness", "disease")): 0.8,
        frozenset(("chair", "chairman")): 0.56}


def similar(a: str, b: str) -> float:
    return 1.0 if a == b else NEAR.get(frozenset((a, b)), 0.0)


def names(analyser: Analyser, question: str, sentence: str) -> list[tuple[str, float]]:
    q = read_question(question, analyser.analyse(question))
    a = analyser.analyse(sentence)
    return [(a.span_text(a.sents[0].__class__(c.start, c.end)), c.tied) for c in named(q, a, a.sents[0], similar)]


def test_a_who_question_names_its_role_and_the_doer_of_its_verb(analyser: Analyser) -> None:
    a = analyser
    assert anchors(read_question("Who is the boss of Acme?", a.analyse("Who is the boss of Acme?"))) == ("boss",)
    assert anchors(read_question("Who chairs Acme?", a.analyse("Who chairs Acme?"))) == ("chair",)
    assert anchors(read_question("Who did it?", a.analyse("Who did it?"))) == ()  # a stop-word verb names nobody


@pytest.mark.parametrize("question,sentence,answer", [
    ("Who is the chief executive of Acme Foods?",
     "Shareholders want to replace Acme Foods chief executive Maria Olsen.", "Maria Olsen"),
    ("Who is the chief executive of Acme Foods?",
     '"We will grow," said Maria Olsen, chief executive of Acme Foods.', "Maria Olsen"),
    ("Who is the boss of Acme Foods?", "Acme Foods chief Maria Olsen said sales rose.", "Maria Olsen"),
])
def test_a_role_noun_names_the_person_it_is_attached_to(analyser: Analyser, question: str, sentence: str,
                                                        answer: str) -> None:
    got = names(analyser, question, sentence)
    assert answer in [g for g, _ in got]
    assert all(0.0 < t <= 1.0 for _, t in got)


def test_a_class_noun_names_the_thing_it_modifies(analyser: Analyser) -> None:
    got = dict(names(analyser, "What illness was she treated for?",
                     "She was treated for the skin disease eczema last year."))
    assert got.get("eczema") == 1.0


def test_a_word_inside_a_name_does_not_name_it(analyser: Analyser) -> None:
    """'the Federation of Chief Fire Officers' holds 'chief', yet that name is not described by it."""
    got = names(analyser, "Which fire chief spoke?",
                "The report was published by the Federation of Chief Fire Officers.")
    assert got == []


def test_a_nearer_word_ties_more_than_a_loose_one(analyser: Analyser) -> None:
    exact = dict(names(analyser, "Who is the chief of Acme Foods?", "Acme Foods chief Maria Olsen spoke."))
    loose = dict(names(analyser, "Who is the boss of Acme Foods?", "Acme Foods chief Maria Olsen spoke."))
    assert exact["Maria Olsen"] == 1.0 and 0.0 < loose["Maria Olsen"] < 1.0


def test_a_quotation_after_the_noun_is_the_name(analyser: Analyser) -> None:
    got = dict(names(analyser, "What motto did the club adopt?",
                     'The club adopted the motto "Never Give Up" last season.'))
    assert got.get("Never Give Up") == 1.0


def test_the_verb_names_the_doer_only_where_the_sentence_lacks_the_verb(analyser: Analyser) -> None:
    q = read_question("Who chairs Acme Foods?", analyser.analyse("Who chairs Acme Foods?"))
    assert anchors(q) == ("chair",) and anchors(q, verb_matched=True) == ()
