"""Extractive answers: rank the retrieved sentences, choose a typed span by its parse, or answer with the
sentence; refuse when the news does not name what the question names. Every answer is cited."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from postqa.answering import refusal
from postqa.answering.answerability import Answerability, Evidence
from postqa.answering.answerability import features as answerability_features
from postqa.answering.candidates import (
    Candidate,
    arguments,
    coordinated,
    copula_complements,
    count_of,
    measured,
    numbers,
    stranded,
    subjects,
    typed,
    whole_words,
    with_role,
)
from postqa.answering.focus import relation_words
from postqa.answering.naming import named
from postqa.answering.question import LABEL_WORDS, Question, read_question
from postqa.answering.scoring import matched_verbs, matched_words, score
from postqa.answering.sentences import AnalysesFn, Scored, SentenceRanker, question_terms
from postqa.answering.similarity import EmbedFn, WordSimilarity, WordTable
from postqa.core.config import AnswerSettings
from postqa.core.types import Answer, Citation, Hit
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Span
from postqa.nlp.pipeline import Analyser, shared_analyser

NOT_COVERED = "The news in the index does not say."
MIN_SPAN = 0.6  # a candidate's own score below which the sentence is the answer
IMPLIED_MIN = 0.5  # cosine from which a head noun implies an entity label ('bank' ~ 'company')
SPAN_SENTENCES = 10  # top sentences whose candidates compete for the span
_WINDOW = {"person": 0.35, "entity": 0.35}

__all__ = ["NOT_COVERED", "ExtractiveAnswerer", "is_follow_up", "question_focus", "question_kind",
           "question_terms", "Scored"]


def question_focus(question: str) -> str:
    """The question without leading junk: "<script>x</script> Who presided ...?" -> "Who presided ...?".

    Only a prefix holding markup or code-like characters is dropped; "According to Gong, what ...?" stays whole.
    """
    m = re.search(r"\b(?:who|whom|whose|what|when|where|which|how|why)\b", question, re.IGNORECASE)
    if not m or m.start() == 0:
        return question
    prefix = question[:m.start()]
    return question[m.start():] if re.search(r"[<>;=(){}\[\]|`$]|--", prefix) else question


def is_follow_up(question: str) -> bool:
    """A second turn that leans on the previous one ("And who addressed it?")."""
    q = question.strip().lower()
    if re.match(r"^(and|what about|how about|also|then|so)\b", q):
        return True
    if re.search(r"\b(it|its|he|she|him|her|they|them|that meeting|this meeting|the same|there|then)\b", q):
        return len(question_terms(question)) <= 4
    return len(question_terms(question)) <= 1



def question_kind(question: str, analyser: Analyser | None = None) -> str:
    """The expected answer type: person, date, number, place, entity or clause."""
    a = (analyser or shared_analyser()).analyse(question_focus(question))
    return read_question(question, a).kind


class ExtractiveAnswerer:
    """Answers from the retrieved text only: no language model, every answer a span of a cited sentence."""

    def __init__(self, embed: EmbedFn, idf: Callable[[str], float], settings: AnswerSettings,
                 embed_query: Callable[[str], np.ndarray] | None = None, analyses: AnalysesFn | None = None,
                 analyser: Analyser | None = None, answerability: Answerability | None = None,
                 words: WordTable | None = None) -> None:
        self.embed = embed
        self.idf = idf
        self.settings = settings
        self.analyser = analyser or shared_analyser()
        self.words = WordSimilarity(embed, words)  # words: the stored vocabulary vectors, read first
        self.answerability = answerability  # None: refuse by confidence < min_confidence (the older rule)
        self.ranker = SentenceRanker(embed, embed_query or (lambda text: embed([text])[0]), idf,
                                     analyses or self.analyser.analyse_many, self.words)

    def similar(self, a: str, b: str) -> float:
        return self.words(a, b)

    def implied_label(self, noun: str) -> str | None:
        """The entity label a head noun implies by the model ('bank' ~ 'companies' -> ORG), if close enough."""
        labels = [(lab, w) for lab, ws in LABEL_WORDS.items() for w in ws]
        sims = self.words.matrix([noun], [w for _, w in labels])[0]
        best = int(np.argmax(sims))
        return labels[best][0] if float(sims[best]) >= IMPLIED_MIN else None

    def read(self, question: str) -> Question:
        return read_question(question, self.analyser.analyse(question), self.implied_label)

    def rank_sentences(self, question: str, hits: Sequence[Hit], context: str = "") -> list[Scored]:
        return self.ranker.rank(question, hits, context, self.read(question_focus(question)))

    def answer(self, question: str, hits: Sequence[Hit], context: str = "") -> Answer:
        asked = question
        question = question_focus(question)
        q = self.read(question)
        ranked = self.ranker.rank(question, hits, context, q)
        if not ranked:
            return Answer(question=asked, text=NOT_COVERED, answerable=False, hits=list(hits), kind="none")
        self.prefetch(q, ranked)
        names, rare = refusal.missing(q, [h.chunk.context_text for h in hits], self.idf, tokenize,
                                      refusal.lemmas_of(s.analysis for s in ranked))
        picked = self.select(q, ranked)
        if picked is not None:
            chosen, span, kind = picked[0], picked[1], "span"
        else:
            chosen, span, kind = ranked[0], (0, len(ranked[0].text)), "sentence"
        confidence = self.confidence(chosen, q, kind) * refusal.factor(names, rare)
        ev = Evidence(q, ranked, hits, chosen, kind, picked[2] if picked else 0.0, confidence, len(names),
                      span if picked else None, self.words.matrix)
        score, feats = self.judge(ev)
        facts = tuple(feats.items())
        if self.refuses(confidence, score):
            note = f"the news never names {', '.join(names)}" if names else ""
            return Answer(question=asked, text=NOT_COVERED, answerable=False, citations=self.citations(ranked, None),
                          hits=list(hits), confidence=confidence, note=note, kind="none",
                          answerability=score, features=facts)
        text = chosen.text[span[0]:span[1]].strip().rstrip(",;:")
        return Answer(question=asked, text=text, answerable=True, citations=self.citations(ranked, (chosen, span)),
                      hits=list(hits), confidence=confidence, kind=kind, answerability=score, features=facts)

    def judge(self, ev: Evidence) -> tuple[float | None, dict[str, float]]:
        """(P(answerable) by the answerability model, None without one; the features, always: `postqa
        calibrate --fit` learns from them)."""
        feats = answerability_features(ev, self.idf, tokenize)
        return (None if self.answerability is None else self.answerability.model.score(feats)), feats

    def refuses(self, confidence: float, score: float | None) -> bool:
        """Below the confidence floor, or (with the answerability model) not about the news by its score."""
        if confidence < self.settings.min_confidence:
            return True
        return score is not None and self.answerability is not None and score < self.answerability.threshold

    def select(self, q: Question, ranked: list[Scored]) -> tuple[Scored, tuple[int, int], float] | None:
        """The best (sentence, span) among the top sentences: sentence score plus the candidate's own."""
        top = ranked[0].score
        best: tuple[float, Scored, Candidate, float] | None = None
        for cand_s in ranked[:SPAN_SENTENCES]:
            if cand_s.score < top - _WINDOW.get(q.kind, 0.2):
                break
            for cand, own in self.candidates(q, cand_s):
                total = cand_s.score + 0.25 * own
                if best is None or total > best[0]:
                    best = (total, cand_s, cand, own)
        if best is None or best[3] < MIN_SPAN:
            return None
        _, cand_s, cand, own = best
        a, sent = cand_s.analysis, cand_s.sent
        assert a is not None and sent is not None
        if q.kind == "person" and cand.label == "PERSON":
            cand = with_role(a, cand, sent)
        lo, hi = a.char_span(Span(cand.start, cand.end))
        base = a.char_span(sent)[0]
        return cand_s, (lo - base, hi - base), own

    def candidates(self, q: Question, s: Scored) -> list[tuple[Candidate, float]]:
        a, sent = s.analysis, s.sent
        if a is None or sent is None:
            return []
        verbs = matched_verbs(q, a, sent, self.similar)
        words = matched_words(q, a, sent)
        cands = typed(q, a, sent, self.similar) if q.kind != "clause" else []
        if q.kind == "clause" or (q.kind == "entity" and (q.head is None or verbs)):
            # 'What was the program called?': the name that is the object of 'called'
            cands += arguments(q, a, sent, verbs, self.similar)
        if q.kind == "number":
            cands += numbers(a, sent)
            if q.head is not None:  # 'how many long tons': '37,000' out of '37,000 long tons'
                cands += [n for n in (count_of(a, c) for c in cands) if n is not None]
        if q.verb is not None:
            cands += stranded(q, a, sent, verbs)
        if q.kind == "clause" and q.verb is None:
            cands += copula_complements(q, a, sent, words)
        if q.kind == "person" and q.subject:
            cands += subjects(a, sent, verbs)
        cands += named(q, a, sent, self.similar, bool(verbs))
        out = []
        for c in cands:
            c = coordinated(a, whole_words(a, c, sent), sent)
            if q.kind == "number" and (q.head is None or q.wh != "how"):  # 'how much', 'what price': with the unit
                c = measured(q, a, c, sent)
            own = score(q, a, c, verbs, words, self.similar)
            if own is not None:
                out.append((c, own))
        return out

    def prefetch(self, q: Question, ranked: list[Scored]) -> None:
        """One encoder call for every word the span choice may compare (verbs, noun-phrase heads)."""
        words = {w for w in (q.verb, q.head, *q.roles, *relation_words(q)) if w}
        for s in ranked[:SPAN_SENTENCES]:
            if s.analysis is not None and s.sent is not None:
                toks = s.analysis.tokens[s.sent.start:s.sent.end]
                words.update(t.lemma.lower() for t in toks if t.pos in ("VERB", "NOUN", "PROPN", "ADJ"))
        if q.head:
            words.update(w for ws in LABEL_WORDS.values() for w in ws)
        self.words.vectors(sorted(words))

    def confidence(self, chosen: Scored, q: Question, kind: str) -> float:
        """0..1: how sure we are the sentence answers; lower when a typed question found no span. (A bonus for
        the span's own score was tried: it raised wrong spans on unanswerable questions as much as right ones.)"""
        conf = 0.55 * max(chosen.cosine, 0.0) + 0.45 * chosen.lexical
        if kind == "sentence" and q.kind in ("person", "date", "number", "place"):
            conf *= 0.5  # the answer type the question asks for is not in the sentence
        return float(min(max(conf, 0.0), 1.0))

    def citations(self, ranked: list[Scored], picked: tuple[Scored, tuple[int, int]] | None) -> list[Citation]:
        limit = self.settings.max_citations
        picks: list[tuple[Scored, tuple[int, int] | None]] = []
        if picked is not None:
            chosen, span = picked
            picks.append((chosen, span))
            needle = chosen.text[span[0]:span[1]].strip().lower()
            # the same answer stated in another article (multi-article questions) is cited too
            for cand in ranked[1:]:
                pos = cand.text.lower().find(needle) if needle and len(needle) < len(chosen.text) else -1
                if len(picks) < limit and pos >= 0 and \
                        all(p[0].chunk.article_id != cand.chunk.article_id for p in picks):
                    picks.append((cand, (pos, pos + len(needle))))
        for cand in ranked:
            if len(picks) >= limit:
                break
            if any(p[0] is cand for p in picks) or cand.score < (ranked[0].score * 0.5):
                continue
            picks.append((cand, None))
        return [Citation(n=n, article_id=c.chunk.article_id, title=c.chunk.title, published=c.chunk.published,
                         source=c.chunk.source, passage=c.text, span=sp, score=c.score, chunk_id=c.chunk.id,
                         passage_start=c.chunk.start + c.start)
                for n, (c, sp) in enumerate(picks, start=1)]
