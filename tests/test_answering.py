"""The linguistic answerer's parts: question analysis, candidate choice, coordination, refusal, answer kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pytest

from postqa.answering.answer import NOT_COVERED, ExtractiveAnswerer
from postqa.answering.question import Question, read_question
from postqa.answering.refusal import factor, missing
from postqa.core.config import AnswerSettings
from postqa.core.types import Chunk, Hit
from postqa.index.embedding import HashEmbedder
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Span
from postqa.nlp.pipeline import Analyser

TEXT = ("Zhang Yongping, Head of the General Manager's Office of Xinhua News Agency, presided over the meeting. "
        "On the morning of September 10, the two groups jointly held a teleconference in Beijing. "
        "The executives of Heilongjiang and Shandong Postal Branches shared their experience. "
        "Executives of postal branches from 31 provinces attended the teleconference.")


def ask(analyser: Analyser, text: str) -> Question:
    return read_question(text, analyser.analyse(text))


@pytest.mark.parametrize("text,kind,labels", [
    ("Who presided over the Xinhua meeting?", "person", {"PERSON", "ORG", "NORP"}),
    ("When was the meeting held?", "date", {"DATE", "TIME"}),
    ("How many provinces attended?", "number", {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    ("Where was the teleconference held?", "place", {"GPE", "LOC", "FAC", "ORG"}),
    ("In which city was the teleconference held?", "place", {"GPE", "LOC", "FAC", "ORG"}),
    ("What brand will China Post build?", "entity", set()),
    ("What did Kang Ning announce?", "clause", set()),
    ("On what date did it happen?", "date", {"DATE", "TIME"}),
])
def test_answer_type_from_the_question(analyser: Analyser, text: str, kind: str, labels: set[str]) -> None:
    q = ask(analyser, text)
    assert q.kind == kind and set(q.labels) == labels


def test_question_parts(analyser: Analyser) -> None:
    q = ask(analyser, "Who presided over the Xinhua meeting?")
    assert q.verb == "preside" and q.subject and q.wh == "who"
    assert ask(analyser, "What unified brand will China Post build?").head == "brand"
    assert ask(analyser, "How many service packages come with it?").head == "package"
    assert ask(analyser, "Who is the Secretary General of Xinhua News Agency at the meeting?").role == \
        "Secretary General of Xinhua News Agency"
    assert "Acme Widgets" in ask(analyser, "Who is the CEO of Acme Widgets?").named


def _answerer(analyser: Analyser) -> ExtractiveAnswerer:
    emb = HashEmbedder(dim=64)

    def embed(texts: Sequence[str]) -> np.ndarray:
        return emb.embed_documents(list(texts))

    return ExtractiveAnswerer(embed, lambda t: 1.0, AnswerSettings(min_confidence=0.0), analyser=analyser)


def _hits() -> list[Hit]:
    chunk = Chunk("a#0", "a", 0, TEXT, 0, len(TEXT), "Teleconference", date(2020, 9, 11), "s")
    return [Hit(chunk, 1.0, dense_score=0.5, dense_rank=0, keyword_rank=0)]


@pytest.mark.parametrize("question,answer", [
    ("Who presided over the meeting?", "Zhang Yongping, Head of the General Manager's Office of Xinhua News Agency"),
    ("Where was the teleconference held?", "Beijing"),
    ("Which postal branches shared their experience?", "Heilongjiang and Shandong"),
    ("Executives from how many provinces attended the teleconference?", "31"),
])
def test_candidate_choice_by_structure(analyser: Analyser, question: str, answer: str) -> None:
    ans = _answerer(analyser).answer(question, _hits())
    assert ans.answerable and ans.kind == "span"
    assert answer in ans.text and answer.split()[0] not in question
    cite = ans.citations[0]
    assert cite.span is not None and ans.text in cite.passage[cite.span[0]:cite.span[1]]


def test_no_typed_candidate_answers_with_the_sentence(analyser: Analyser) -> None:
    ans = _answerer(analyser).answer("Why did the executives share their experience?", _hits())
    assert ans.kind == "sentence" and ans.text.startswith("The executives of Heilongjiang")
    cite = ans.citations[0]
    assert cite.span == (0, len(cite.passage))
    assert ans.to_json()["kind"] == "sentence"


def test_refusal_by_what_the_question_names(analyser: Analyser) -> None:
    passages = [TEXT]
    q = ask(analyser, "Who is the CEO of Acme Widgets?")
    names, _rare = missing(q, passages, lambda t: 1.0, tokenize)
    assert names == ["Acme Widgets"] and factor(names, []) < 0.6
    q = ask(analyser, "Who presided over the Xinhua News Agency meeting?")
    assert missing(q, passages, lambda t: 1.0, tokenize)[0] == []
    unknown = ask(analyser, "Who wrote Hamlet?")
    names, rare = missing(unknown, passages, lambda t: 0.0 if t == "hamlet" else 1.0, tokenize)
    assert factor(names, rare) < 1.0
    settings = AnswerSettings(min_confidence=0.2)
    refused = ExtractiveAnswerer(_answerer(analyser).embed, lambda t: 1.0, settings, analyser=analyser).answer(
        "Who is the CEO of Acme Widgets?", _hits())
    assert not refused.answerable and refused.text == NOT_COVERED and refused.kind == "none"


def _one_chunk(text: str, title: str = "News") -> list[Hit]:
    chunk = Chunk("b#0", "b", 0, text, 0, len(text), title, date(2005, 1, 1), "s")
    return [Hit(chunk, 1.0, dense_score=0.5, dense_rank=0, keyword_rank=0)]


@pytest.mark.parametrize("text,question,answer", [
    # a number word the entity recogniser left unlabelled, and a stop word to spaCy, is still the answer
    ("The inquiry began in May. The investigation has now obtained nine guilty pleas.",
     "How many guilty pleas has the investigation obtained?", "nine"),
    # a span never cuts a written word: '850' inside '$850m'
    ("Last month Marsh agreed to pay $850m to settle the lawsuit.", "How much did Marsh agree to pay?", "$850m"),
    # an amount comes with its unit; the restatement in parentheses is not the answer
    ("The film took 1.5bn yen ($14.3m) in its first two days.", "How much did the film take in two days?",
     "1.5bn yen"),
    # an amount that modifies the noun the question asks about measures it; the unit the question names stays out
    ("The Duchy of Cornwall is a 140,000-acre estate across 25 counties.",
     "How large is the estate of the Duchy of Cornwall?", "140,000-acre"),
    # 'What was X called?': the name that is the object of 'called'
    ("Stephen Toulouse said the malicious program was called Bankash-A Trojan.",
     "What was the malicious program called?", "Bankash-A Trojan"),
    # a written amount is a number even when the entity recogniser and the tagger miss it (mis-decoded '£')
    ("Each year the council pays Â£200 to every household.", "How much does the council pay to every household?",
     "Â£200"),
    # 'how many long tons': the count, without the counted noun the question says
    ("The agency accepted an offer to cover the sale of 37,000 long tons of wheat flour to North Yemen.",
     "How many long tons of wheat flour were sold to North Yemen?", "37,000"),
    # a question ending on a preposition ('fall to?', 'set at?'): that preposition's object on the matched verb
    ("The institute said its index fell to 51.8 from a revised 53.3 in December.", "What did the index fall to?",
     "51.8"),
    ("The sugar import quota has been set at 1,001,430 short tons.", "What has the sugar import quota been set at?",
     "1,001,430 short tons"),
])
def test_amounts_numbers_and_names(analyser: Analyser, text: str, question: str, answer: str) -> None:
    ans = _answerer(analyser).answer(question, _one_chunk(text))
    assert ans.kind == "span" and ans.text == answer
    cite = ans.citations[0]
    assert cite.span is not None and cite.passage[cite.span[0]:cite.span[1]].strip() == answer


def test_the_lede_passes_its_score_to_the_typed_sentence_after_it(analyser: Analyser) -> None:
    """'X has been appointed.' names no person; the next sentence does: it inherits the lede's rank."""
    text = ("The first children's commissioner for England has been appointed. "
            "Professor of child health Al Aynsley-Green was chosen by the government.")
    ans = _answerer(analyser).answer("Who has been appointed as the first children's commissioner for England?",
                                     _one_chunk(text))
    assert ans.kind == "span" and ans.text.startswith("Al Aynsley-Green")
    ranker = _answerer(analyser).ranker
    scores = ranker.discourse([0.9, 0.3, 0.5], [False, True, True], ["c", "c", "d"])
    assert scores[1] == pytest.approx(ranker.CARRY * 0.9 + ranker.TYPE_BONUS)
    assert scores[2] == pytest.approx(0.5 + ranker.TYPE_BONUS)  # another chunk: nothing carried over
    assert ranker.discourse([0.9, 0.3], [None, None], ["c", "c"]) == [0.9, 0.3]  # no asked type: unchanged


def test_the_headline_stands_in_for_the_story_subject(analyser: Analyser) -> None:
    """'Sales rose 2.8%' under 'Deutsche Telekom sees mobile gain': the headline's words count, at a discount."""
    ranker = _answerer(analyser).ranker
    weights = {"telekom": 2.0, "sale": 1.0}
    assert ranker.lexical(weights, {"sale"}, {"telekom"}, {}) == pytest.approx(1.0 + 2.0 * ranker.TITLE_CREDIT)
    assert ranker.lexical(weights, {"sale"}, set(), {}) == pytest.approx(1.0)


def test_argument_answers_to_which_noun_questions_must_name_or_be_that_noun(analyser: Analyser) -> None:
    """'Which leader did the delegates meet?': the object of 'met' answers when it is a name, not 'the press'."""
    from postqa.answering.candidates import arguments

    an = _answerer(analyser)
    q = an.read("Which leader did the delegates meet?")
    assert q.kind == "entity" and q.head == "leader"

    def objects(text: str) -> set[str]:
        a = analyser.analyse(text)
        verbs = [t.i for t in a.tokens if t.lemma == "meet"]
        same = lambda x, y: float(x == y)  # noqa: E731 - word similarity: equal lemmas only
        return {a.span_text(Span(c.start, c.end)) for c in arguments(q, a, a.sents[0], verbs, same)}

    assert objects("The delegates met the press.") == set()
    assert objects("The delegates met Kang Ning.") == {"Kang Ning"}
    assert objects("The delegates met the leader of the party.") == {"leader of the party"}


def test_a_measure_question_wants_an_amount_not_a_bare_count(analyser: Analyser) -> None:
    """'What is the subscription price?': 'three' (of 'a three in one mechanism') is no price; '16.00 dlrs' is."""
    from dataclasses import replace

    from postqa.answering.candidates import Candidate
    from postqa.answering.scoring import counts

    an = _answerer(analyser)
    q = replace(an.read("What is the subscription price for the newspapers?"), kind="number")
    assert q.head == "price" and q.wh == "what"
    a = analyser.analyse("It set up a three in one mechanism at 16.00 dlrs a copy.")
    three = next(t.i for t in a.tokens if a.word(t.i) == "three")
    amount = next(t.i for t in a.tokens if a.word(t.i) == "16.00")
    assert counts(q, a, Candidate(three, three + 1, 0.9, "CARDINAL", three), an.similar) is None
    assert counts(q, a, Candidate(amount, amount + 2, 0.9, "CARDINAL", amount + 1), an.similar) is not None


@pytest.mark.parametrize("text,prep", [
    ("On what day will the wheat be released?", "on"),
    ("For how many years did she host the show?", "for"),
    ("In which city was the meeting held?", "in"),
    ("What day will the wheat be released?", ""),
])
def test_the_preposition_of_the_wh_phrase_is_read(analyser: Analyser, text: str, prep: str) -> None:
    assert ask(analyser, text).prep == prep
