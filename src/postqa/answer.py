"""Extractive answers: rank sentences of the retrieved chunks, pull out a short typed span, cite it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from postqa.chunking import split_sentences
from postqa.config import AnswerSettings
from postqa.keyword import STOPWORDS, stem, tokenize
from postqa.types import Answer, Chunk, Citation, Hit

NOT_COVERED = "The news in the index does not say."

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
          "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DATE = re.compile(
    rf"\b(?:(?:early|mid|late)[- ])?(?:{MONTHS})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?\b|\b(?:19|20)\d{{2}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    r"|\b(?:this|last|next) (?:year|month|week)\b|\byesterday\b|\btoday\b")
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?|hundreds")
_NUMBER = re.compile(rf"\b(?:\d[\d,.]*\d|\d)(?:\s*(?:%|percent|million|billion|thousand))?\b|\b(?:{_NUMBER_WORDS})\b",
                     re.IGNORECASE)
_CAP = r"[A-Z][a-zA-Z]+(?:-[A-Za-z]+)?"
_NAME = re.compile(rf"\b{_CAP}(?:\s+{_CAP}){{1,2}}\b")
_TITLE_WORDS = {
    "president", "vice", "chairman", "chairwoman", "chair", "head", "secretary", "director", "deputy",
    "general", "manager", "minister", "chief", "ceo", "cfo", "officer", "governor", "mayor", "leader",
    "member", "party", "executive", "spokesperson", "spokesman", "spokeswoman", "founder", "editor",
    "professor", "dr", "mr", "mrs", "ms", "commissioner", "ambassador", "premier", "representative",
}
_ORG_WORDS = {
    "post", "group", "agency", "news", "office", "bank", "company", "corporation", "limited", "ltd", "inc",
    "unit", "ministry", "committee", "branch", "branches", "province", "provincial", "council", "bureau",
    "department", "association", "union", "china", "chinese", "national", "state", "xinhua", "postal",
    "logistics", "express", "parcel", "business", "services", "service", "auto", "project", "industry",
    "automobile", "chain", "the", "of", "and", "psbc", "ems", "party", "communist", "internet", "republic",
    "university", "institute", "centre", "center", "government", "cooperation", "strategic", "future",
    "beijing", "shanghai", "january", "february", "march", "april", "may", "june", "july", "august",
    "september", "october", "november", "december", "gis", "at", "in", "on", "meanwhile", "according",
}
_PERSON_VERBS = re.compile(
    r"^\s*(?:,\s*)?(?:said|says|pointed|noted|stressed|added|announced|required|presided|addressed|attended|"
    r"delivered|chaired|urged|called|emphasized|emphasised|told|spoke|gave|made|met|signed|visited|hosted|"
    r"respectively|and\b)")


@dataclass(frozen=True)
class Scored:
    """A candidate sentence from a retrieved chunk."""

    chunk: Chunk
    text: str
    start: int  # offset in the chunk text
    score: float
    lexical: float
    cosine: float
    rank: int  # rank of the chunk among the hits


@dataclass(frozen=True)
class Span:
    text: str
    start: int
    end: int
    score: float


def question_kind(question: str) -> str:
    """The expected answer type: person, date, number, place, entity or clause."""
    q = question.lower().strip()
    q = re.sub(r"^(and|so|but|also|then|ok|okay)[, ]+", "", q)
    if re.match(r"^(who|whom|whose)\b", q) or re.search(r"\b(which|what) (person|executive|official|leader|"
                                                         r"people|officials|executives|man|woman)\b", q):
        return "person"
    if re.match(r"^when\b", q) or re.search(r"\b(what|which) (date|day|year|month|time)\b", q) or \
            re.search(r"\bon what (date|day)\b", q):
        return "date"
    if re.match(r"^how (many|much)\b", q) or re.search(r"\b(what|which) (number|percentage|amount)\b", q):
        return "number"
    if re.match(r"^where\b", q) or re.search(r"\b(which|what|in which) (city|province|place|country|location|"
                                              r"venue|region)\b", q):
        return "place"
    if re.match(r"^(which|what)\s+\w+", q) and not re.match(
            r"^what\s+(is|are|was|were|did|does|do|has|have|had|will|would|should|can|could|must|about)\b", q):
        return "entity"
    return "clause"


def question_terms(question: str) -> list[str]:
    return [t for t in tokenize(question) if t not in {"who", "when", "where", "how", "which", "what"}]


def is_follow_up(question: str) -> bool:
    """A second turn that leans on the previous one ("And who addressed it?")."""
    q = question.strip().lower()
    if re.match(r"^(and|what about|how about|also|then|so)\b", q):
        return True
    if re.search(r"\b(it|its|he|she|him|her|they|them|that meeting|this meeting|the same|there|then)\b", q):
        return len(question_terms(question)) <= 4
    return len(question_terms(question)) <= 1


class ExtractiveAnswerer:
    """Answers from the retrieved text only: no language model, every answer a span of a cited sentence."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], idf: Callable[[str], float],
                 settings: AnswerSettings) -> None:
        self.embed = embed
        self.idf = idf
        self.settings = settings

    # ------------------------------------------------------------------------------------- scoring

    def _weights(self, terms: Sequence[str]) -> dict[str, float]:
        return {t: max(self.idf(t), 0.1) for t in terms}

    def rank_sentences(self, question: str, hits: Sequence[Hit], context: str = "") -> list[Scored]:
        """Sentences of the hits by 0.6 x cosine + 0.4 x rarity-weighted overlap with the question."""
        own = self._weights(question_terms(question))
        extra = {t: 0.5 * w for t, w in self._weights(question_terms(context)).items() if t not in own}
        weights = {**extra, **own}
        total = sum(weights.values()) or 1.0
        cands: list[tuple[Chunk, str, int, float, int]] = []
        seen: set[tuple[str, int]] = set()
        for rank, hit in enumerate(hits):
            for sent in split_sentences(hit.chunk.text):
                key = (hit.chunk.article_id, hit.chunk.start + sent.start)
                if key in seen:
                    continue
                seen.add(key)
                toks = set(tokenize(sent.text))
                lex = sum(w for t, w in weights.items() if t in toks) / total
                cands.append((hit.chunk, sent.text, sent.start, lex, rank))
        if not cands:
            return []
        query_text = f"{context} {question}".strip() if context else question
        vecs = self.embed([query_text] + [c[1] for c in cands])
        q, s = vecs[0], vecs[1:]
        cos = s @ q / (np.linalg.norm(s, axis=1) * (np.linalg.norm(q) or 1.0) + 1e-9)
        scored = [Scored(chunk=c[0], text=c[1], start=c[2], lexical=c[3], cosine=float(cs),
                         score=0.6 * float(cs) + 0.4 * c[3] - 0.005 * c[4], rank=c[4])
                  for c, cs in zip(cands, cos, strict=True)]
        return sorted(scored, key=lambda x: -x.score)

    # ------------------------------------------------------------------------------------ extraction

    def _cue_positions(self, question: str, sentence: str) -> list[int]:
        """Where the question's words (other than names it mentions) occur in the sentence."""
        qterms = set(question_terms(question))
        out = []
        for m in re.finditer(r"[A-Za-z0-9’']+", sentence):
            w = m.group(0).lower().replace("’", "'").removesuffix("'s")
            if w not in STOPWORDS and stem(w) in qterms:
                out.append(m.start())
        return out

    def _persons(self, sentence: str) -> list[Span]:
        spans: list[Span] = []
        for m in _NAME.finditer(sentence):
            words = m.group(0).split()
            # drop leading title words: "Chairman Liu Aili" -> "Liu Aili"
            while words and words[0].lower() in _TITLE_WORDS | _ORG_WORDS:
                words = words[1:]
            if len(words) < 2 or any(w.lower() in _ORG_WORDS | _TITLE_WORDS for w in words):
                continue
            name = " ".join(words)
            start = m.start() + m.group(0).index(name)
            end = start + len(name)
            before = sentence[max(0, start - 30):start].lower().split()
            after = sentence[end:]
            role = re.match(r",\s+((?:[A-Z][\w’'.-]*|of|the|and|for|in)(?:\s+(?:[A-Z][\w’'.-]*|of|the|and|for|in))*)",
                            after)
            titled = bool(before) and before[-1].strip(",") in _TITLE_WORDS
            has_role = bool(role) and role[1].split()[0].lower() in _TITLE_WORDS
            acts = bool(_PERSON_VERBS.match(after))
            if not (has_role or titled or acts):
                continue
            if has_role and role:
                end = end + role.end()
                while sentence[end - 1] in " ,":
                    end -= 1
                # stop before a coordinated second person: ", Vice President of X, and Kang Ning"
            spans.append(Span(sentence[start:end], start, end, 1.0 + 0.2 * has_role))
        return spans

    def _typed_spans(self, kind: str, sentence: str) -> list[Span]:
        if kind == "person":
            return self._persons(sentence)
        if kind == "date":
            return [Span(m.group(0), m.start(), m.end(), 1.0) for m in _DATE.finditer(sentence)]
        if kind == "number":
            return [Span(m.group(0), m.start(), m.end(), 1.0) for m in _NUMBER.finditer(sentence)
                    if not re.fullmatch(r"(19|20)\d\d", m.group(0))]
        if kind == "place":
            return [Span(m.group(1), m.start(1), m.end(1), 1.0)
                    for m in re.finditer(rf"\b(?:in|at|to|from)\s+((?:{_CAP})(?:\s+{_CAP})*)", sentence)
                    if m.group(1).split()[0].lower() not in ("the", "china")
                    and m.group(1).lower() not in _ORG_WORDS]
        if kind == "entity":
            quoted = [Span(m.group(1), m.start(1), m.end(1), 1.3)
                      for m in re.finditer(r"[“\"]([^”\"]{2,80})[”\"]", sentence)]
            caps = [Span(m.group(0), m.start(), m.end(), 1.0)
                    for m in re.finditer(rf"\b(?:{_CAP}|[A-Z]{{2,}}\w*)(?:\s+(?:of|and|for|the)?\s*(?:{_CAP}|[A-Z]{{2,}}\w*))*",
                                         sentence)]
            return quoted + caps
        return []

    def _pick(self, question: str, kind: str, sentence: str, context_words: set[str]) -> Span | None:
        spans = self._typed_spans(kind, sentence)
        qwords = {w.lower() for w in re.findall(r"\w+", question)} | context_words
        cues = self._cue_positions(question, sentence)
        best: Span | None = None
        best_score = -1e9
        for sp in spans:
            words = [w.lower() for w in re.findall(r"\w+", sp.text)]
            if words and all(w in qwords for w in words):
                continue  # the question already names it
            overlap = sum(w in qwords for w in words) / max(len(words), 1)
            dist = min((abs(c - sp.start) for c in cues), default=len(sentence))
            # prefer the subject just before a cue verb ("X presided over"), then anything close to a cue
            before_cue = any(0 <= c - sp.end <= 25 for c in cues)
            score = sp.score - overlap - dist / 200.0 + 0.5 * before_cue
            if score > best_score:
                best, best_score = sp, score
        if best is None:
            return None
        if kind == "person":
            best = self._coordinate(best, spans, sentence, cues)
        return best

    def _coordinate(self, best: Span, spans: list[Span], sentence: str, cues: list[int]) -> Span:
        """'A, role, and B, role respectively addressed' -> both people."""
        ordered = sorted(spans, key=lambda s: s.start)
        i = ordered.index(best)
        if i + 1 < len(ordered):
            nxt = ordered[i + 1]
            between = sentence[best.end:nxt.start]
            if re.fullmatch(r",?\s+and\s+", between) and any(0 <= c - nxt.end <= 25 for c in cues):
                return Span(sentence[best.start:nxt.end], best.start, nxt.end, best.score)
        if i > 0:
            prev = ordered[i - 1]
            between = sentence[prev.end:best.start]
            if re.fullmatch(r",?\s+and\s+", between) and any(0 <= c - best.end <= 25 for c in cues):
                return Span(sentence[prev.start:best.end], prev.start, best.end, best.score)
        return best

    def _clause(self, question: str, sentence: str) -> Span:
        """For what/how/why questions: the part of the sentence after the question's last cue word."""
        cues = self._cue_positions(question, sentence)
        if cues:
            pos = max(cues)
            m = re.match(r"[\w’']+\s*", sentence[pos:])
            start = pos + (m.end() if m else 0)
            tail = sentence[start:]
            lead = re.match(r"(?:that|to|of|on|about|for|in|at|as|is|was|are|were)\s+", tail)
            if lead:
                start += lead.end()
            end = len(sentence.rstrip(". "))
            if len(re.findall(r"\w+", sentence[start:end])) >= 3:
                return Span(sentence[start:end], start, end, 0.5)
        end = len(sentence.rstrip(" "))
        return Span(sentence[:end], 0, end, 0.3)

    # -------------------------------------------------------------------------------------- answer

    def answer(self, question: str, hits: Sequence[Hit], context: str = "") -> Answer:
        ranked = self.rank_sentences(question, hits, context)
        if not ranked:
            return Answer(question=question, text=NOT_COVERED, answerable=False, hits=list(hits))
        kind = question_kind(question)
        context_words = {w.lower() for w in re.findall(r"\w+", context)} if context else set()
        chosen: Scored | None = None
        span: Span | None = None
        for cand in ranked[:4]:
            if kind == "clause":
                break
            found = self._pick(question, kind, cand.text, context_words if kind != "person" else set())
            if found is not None and cand.score >= ranked[0].score - 0.15:
                chosen, span = cand, found
                break
        type_found = span is not None
        if chosen is None:
            chosen = ranked[0]
            span = self._clause(question, chosen.text) if kind in ("clause", "entity") else None
        confidence = self._confidence(chosen, kind, type_found)
        answerable = confidence >= self.settings.min_confidence and (span is not None)
        assert chosen is not None
        if not answerable:
            cites = self._citations(ranked, None, None)
            return Answer(question=question, text=NOT_COVERED, answerable=False, citations=cites,
                          hits=list(hits), confidence=confidence)
        assert span is not None
        text = span.text.strip().rstrip(",;:")
        if kind == "clause" and span.start == 0:
            text = chosen.text
        cites = self._citations(ranked, chosen, span)
        return Answer(question=question, text=text, answerable=True, citations=cites, hits=list(hits),
                      confidence=confidence)

    def _confidence(self, chosen: Scored, kind: str, type_found: bool) -> float:
        """0..1: how sure we are the sentence answers; penalised when the expected type is absent."""
        conf = 0.55 * max(chosen.cosine, 0.0) + 0.45 * chosen.lexical
        if kind in ("person", "date", "number", "place") and not type_found:
            conf *= 0.6
        return float(min(max(conf, 0.0), 1.0))

    def _citations(self, ranked: list[Scored], chosen: Scored | None, span: Span | None) -> list[Citation]:
        out: list[Citation] = []
        picks: list[tuple[Scored, tuple[int, int] | None]] = []
        if chosen is not None and span is not None:
            picks.append((chosen, (span.start, span.end)))
            needle = span.text.strip().lower()
            # the same answer stated in another article (multi-article questions) is cited too
            for cand in ranked[1:]:
                if len(picks) >= self.settings.max_citations:
                    break
                pos = cand.text.lower().find(needle) if needle else -1
                if pos >= 0 and cand.chunk.article_id != chosen.chunk.article_id and \
                        all(p[0].chunk.article_id != cand.chunk.article_id for p in picks):
                    picks.append((cand, (pos, pos + len(needle))))
        for cand in ranked:
            if len(picks) >= self.settings.max_citations:
                break
            if any(p[0] is cand for p in picks) or cand.score < (ranked[0].score * 0.5):
                continue
            picks.append((cand, None))
        for n, (cand, sp) in enumerate(picks, start=1):
            out.append(Citation(n=n, article_id=cand.chunk.article_id, title=cand.chunk.title,
                                published=cand.chunk.published, source=cand.chunk.source, passage=cand.text,
                                span=sp, score=cand.score, chunk_id=cand.chunk.id,
                                passage_start=cand.chunk.start + cand.start))
        return out
