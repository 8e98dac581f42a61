"""Extractive answers: rank sentences of the retrieved chunks, pull out a short typed span, cite it."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from postqa.core.config import AnswerSettings
from postqa.core.types import Answer, Chunk, Citation, Hit
from postqa.index.chunking import split_sentences
from postqa.index.keyword import STOPWORDS, stem, tokenize

NOT_COVERED = "The news in the index does not say."

MONTHS = ("January|February|March|April|May|June|July|August|September|October|November|December|"
          "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec")
_DATE = re.compile(
    rf"\b(?:(?:early|mid|late)[- ])?(?:{MONTHS})\.?(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{4}})?\b"
    rf"|\b\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?\b|\b(?:19|20)\d{{2}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
    r"|\b(?i:this|last|next) (?:year|month|week)\b|\b(?i:yesterday|today)\b")
_NUMBER_WORDS = ("one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
                 "twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozens?|hundreds")
_NUMBER = re.compile(rf"(?<![\w.])(?:\d[\d,.]*\d|\d)(?:\s*(?:%|percent|million|billion|thousand))?\b"
                     rf"|\b(?:{_NUMBER_WORDS})\b",
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
    name: str = ""  # people: the name alone
    role: str = ""  # people: the appositive role


_MONTH_WORDS = {m.lower() for m in MONTHS.split("|")}
_SENTENCE_STARTERS = {
    "on", "in", "at", "according", "he", "she", "it", "they", "we", "the", "this", "that", "these", "those",
    "faced", "meanwhile", "secondly", "firstly", "thirdly", "fourthly", "finally", "also", "and", "but", "as",
    "all", "both", "since", "with", "for", "from", "by", "to", "after", "before", "during", "so", "its",
    "their", "his", "her", "our", "a", "an", "china", "future", "there", "what", "when", "who", "which",
}


def _asked_role(question: str) -> list[str]:
    """Title words a who-question asks about: 'Who is the Secretary General of X?' and
    "Who is X's Secretary General?" -> [secretary, general]."""
    q = question.strip().replace("’", "'")
    m = re.match(r"^(?:and\s+)?who\s+(?:is|was|are|were)\s+(?:the\s+)?((?:[A-Za-z]+\s+){0,3}?[A-Za-z]+)\s+of\b",
                 q, re.IGNORECASE) or \
        re.match(r"^(?:and\s+)?who\s+(?:is|was|are|were)\s+.+?'s\s+((?:[A-Za-z]+\s*){1,4})\??$", q, re.IGNORECASE)
    if not m:
        return []
    words = [w.lower() for w in m.group(1).split()]
    return [w for w in words if w in _TITLE_WORDS]


def _asked_org(question: str) -> list[str]:
    """Content words of the organisation a role question names: '... President of Xinhua News Agency?' or
    "Who is Xinhua News Agency's Secretary General?"."""
    q = question.replace("’", "'")
    m = re.search(r"\bof\s+(?:the\s+)?([A-Z][\w'&.-]*(?:\s+(?:of|and|the|[A-Z][\w'&.-]*))*)", q) or \
        re.search(r"\b(?:is|was|are|were)\s+(?:the\s+)?([A-Z][\w&.-]*(?:\s+[A-Z][\w&.-]*)*)'s\s", q)
    if not m:
        return []
    return [w.lower() for w in re.findall(r"\w+", m.group(1)) if w.lower() not in ("of", "and", "the")]


_AUX = {"is", "are", "was", "were", "be", "been", "has", "have", "had", "will", "would", "should", "can", "could",
        "must", "may", "might", "shall", "did", "does", "do", "also", "then", "first", "really"}


def question_verb(question: str) -> str | None:
    """The stemmed main verb after a subject wh-word: 'Who presided over ...' -> 'presid',
    'What has become the key ...' -> 'becom'."""
    m = re.match(r"^(?:and\s+|so\s+)?(?:who|what)\s+((?:[\w’']+\s+){0,3})", question.strip() + " ", re.IGNORECASE)
    if not m:
        return None
    for original in m.group(1).split():
        word = original.lower()
        if word in _AUX:
            continue
        if original[:1].isupper() or word in STOPWORDS or len(word) < 3 or "'" in word or "’" in word:
            return None  # "What will China Post ...": a named subject follows, "what" is the object
        return stem(word)
    return None


def kind_of_noun(question: str) -> str | None:
    """'What kind of meeting ...' / 'Which category of Xinhua publications must ...' -> stem of the noun."""
    m = re.search(r"\b(?:what|which)\s+(?:kind|type|sort|category|form|sorts|kinds|types)\s+of\s+"
                  r"((?:[\w-]+\s+){0,3}?)([\w-]+)\s+(?:is|are|was|were|did|does|do|has|have|had|will|would|should|"
                  r"can|could|must|may)\b", question, re.IGNORECASE)
    if m:
        return stem(m.group(2).lower())
    m = re.match(r"^(?:what|which)\s+([\w-]+)\s+(?:is|are|was|were|has|have|had|will|would|should|can|could|must)\s+"
                 r"(?:\w+ly\s+)?\w+(?:ed|en)\b", question, re.IGNORECASE)  # 'What work was officially launched'
    return stem(m.group(1).lower()) if m else None


_WH = {"who", "whom", "whose", "what", "when", "where", "which", "how", "why", "many", "much", "time", "date", "day",
       "year", "month", "city", "place", "number", "long"}


def _predicate_terms(question: str) -> set[str]:
    """Stems of the question's lower-case content words: what it asks about, names aside
    ("When did the Xinhua partnership first start?" -> partnership, first, start)."""
    words = re.findall(r"[A-Za-z][\w’'-]*", question)
    out = set()
    for i, w in enumerate(words):
        if w[0].isupper() and i > 0:
            continue
        for t in tokenize(w):
            if t not in _WH and t not in {stem(a) for a in _AUX}:
                out.add(t)
    return out


_MONEY = re.compile(r"(?:[$€£¥]|\b(?:yuan|rmb|dollars?|euros?|pounds?|usd|cny)\b)", re.IGNORECASE)


def _asked_money(question: str) -> bool:
    return bool(re.search(r"\b(price|cost|fee|revenue|profit|budget|salary|turnover|money|invest\w*|spend\w*|"
                          r"worth)\b", question, re.IGNORECASE))


def _asked_name(question: str) -> str | None:
    """The person a role question is about: "What is Zhang Yongping's position" -> "Zhang Yongping"."""
    m = _NAME.search(question.replace("’s", "").replace("'s", ""))
    return m.group(0) if m else None


_PERSON_NOUNS = ("person|people|executive|executives|official|officials|leader|leaders|man|woman|"
                 "speaker|chairman|president|head|secretary|director|minister|manager")


def question_kind(question: str) -> str:
    """The expected answer type: person, role, date, number, place, entity or clause."""
    q = question.lower().strip().replace("’", "'")
    q = re.sub(r"^(and|so|but|also|then|ok|okay|now)[, ]+", "", q)
    if re.search(r"\b(position|title|role|job)\b", q) and re.match(r"^(what|which)\b", q):
        return "role"
    if re.match(r"^(who|whom|whose)\b", q) or re.match(rf"^(which|what)\b(\s+[\w'-]+){{0,3}}\s+({_PERSON_NOUNS})\b", q):
        return "person"
    if re.search(r"\bhow (many|much)\b", q) or re.search(r"\b(what|which) (number|percentage|amount)\b", q) or \
            re.match(r"^what\s+(?:is|was|are|were)\s+(?:the\s+)?(?:[\w'-]+\s+){0,4}?(price|cost|fee|revenue|profit|"
                     r"budget|salary|turnover|value|rate|share)s?\b", q):
        return "number"
    if re.match(r"^when\b", q) or re.search(r"\b(what|which) (date|day|year|month|time)\b", q) or \
            re.search(r"\bon what (date|day)\b", q):
        return "date"
    if re.match(r"^where\b", q) or re.search(r"\b(which|what) (city|province|place|country|location|"
                                              r"venue|region)\b", q):
        return "place"
    if re.match(r"^(which|what)\s+\w+", q) and not re.match(
            r"^what\s+(is|are|was|were|did|does|do|has|have|had|will|would|should|can|could|must|about|happened|"
            r"happens)\b", q):
        return "entity"
    return "clause"


def head_noun(question: str) -> str | None:
    """The noun a which/what question asks for: 'What unified brand ...' -> 'brand'."""
    q = question.lower().replace("’", "'")
    m = re.match(r"^(?:and\s+)?(?:which|what)\s+((?:[a-z-]+\s+){0,2}?)([a-z-]+)\s+(?:is|are|was|were|did|does|do|has|"
                 r"have|had|will|would|should|can|could|of|in|for|at|on|to)\b", q)
    return stem(m.group(2)) if m else None


def question_focus(question: str) -> str:
    """The question without leading junk: "<script>x</script> Who presided ...?" -> "Who presided ...?".

    Only a prefix holding markup or code-like characters is dropped; "According to Gong, what ...?" stays whole.
    """
    m = re.search(r"\b(?:who|whom|whose|what|when|where|which|how|why)\b", question, re.IGNORECASE)
    if not m or m.start() == 0:
        return question
    prefix = question[:m.start()]
    return question[m.start():] if re.search(r"[<>;=(){}\[\]|`$]|--", prefix) else question


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

    RERANK = 8  # sentences embedded per question: the rest keep their cheap score (the encoder is the cost)

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], idf: Callable[[str], float],
                 settings: AnswerSettings, embed_query: Callable[[str], np.ndarray] | None = None) -> None:
        self.embed = embed
        self.embed_query = embed_query or (lambda text: embed([text])[0])
        self.idf = idf
        self.settings = settings
        self._word_cache: dict[str, np.ndarray] = {}
        self._cache_lock = threading.Lock()

    # ------------------------------------------------------------------------------------- scoring

    def _weights(self, terms: Sequence[str]) -> dict[str, float]:
        """IDF weights; a term the corpus never uses is as telling as the rarest one (a question about
        "weather" over news that never says it is likely not answered there)."""
        idf = {t: self.idf(t) for t in terms}
        rarest = max([v for v in idf.values() if v > 0], default=1.0)
        return {t: (v if v > 0 else rarest) for t, v in idf.items()}

    def rank_sentences(self, question: str, hits: Sequence[Hit], context: str = "") -> list[Scored]:
        """Sentences of the hits by 0.6 x cosine + 0.4 x rarity-weighted overlap with the question.

        Overlap is soft: a question word the sentence lacks still counts, scaled down, when one of the
        sentence's words means nearly the same to the embedding model ("car" / "automobile")."""
        own = self._weights(question_terms(question))
        extra = {t: 0.5 * w for t, w in self._weights(question_terms(context)).items() if t not in own}
        weights = {**extra, **own}
        total = sum(weights.values()) or 1.0
        cands: list[tuple[Chunk, str, int, set[str], int]] = []
        seen: set[tuple[str, int]] = set()
        for rank, hit in enumerate(hits):
            for sent in split_sentences(hit.chunk.text):
                key = (hit.chunk.article_id, hit.chunk.start + sent.start)
                if key in seen:
                    continue
                seen.add(key)
                cands.append((hit.chunk, sent.text, sent.start, set(tokenize(sent.text)), rank))
        if not cands:
            return []
        exact = [sum(w for t, w in weights.items() if t in c[3]) / total for c in cands]
        # Cheap first pass: the chunk's own dense similarity stands in for the sentence's. Only the best
        # RERANK sentences are embedded and get soft word matches (the encoder is the cost of a question;
        # the query vector is the retriever's, cached).
        chunk_cos = {h.chunk.id: (h.dense_score if h.dense_score is not None else 0.0) for h in hits}
        cheap = [0.6 * chunk_cos.get(c[0].id, 0.0) + 0.4 * lex for c, lex in zip(cands, exact, strict=True)]
        top = sorted(range(len(cands)), key=lambda i: -cheap[i])[: self.RERANK]
        soft = self._soft_matches(question, context, weights, [cands[i][3] for i in top])
        query_text = f"{context} {question}".strip() if context else question
        q = self.embed_query(query_text)
        vecs = self.embed([cands[i][1] for i in top])
        qn = float(np.linalg.norm(q)) or 1.0
        cos = {i: float(v @ q) / (float(np.linalg.norm(v)) * qn + 1e-9) for i, v in zip(top, vecs, strict=True)}
        scored = []
        for i, c in enumerate(cands):
            if i in cos:
                cs = cos[i]
                lex = sum(w if t in c[3] else w * max((soft.get((t, x), 0.0) for x in c[3]), default=0.0)
                          for t, w in weights.items()) / total
            else:  # not reranked: a little below its chunk
                cs, lex = chunk_cos.get(c[0].id, 0.0) - 0.1, exact[i]
            scored.append(Scored(chunk=c[0], text=c[1], start=c[2], lexical=lex, cosine=cs,
                                 score=0.6 * cs + 0.4 * lex - 0.005 * c[4], rank=c[4]))
        return sorted(scored, key=lambda x: -x.score)

    SOFT_MIN = 0.6  # word-to-word cosine below which two words do not count as the same
    SOFT_WEIGHT = 0.7  # a near-synonym counts this much of an exact match

    def _soft_matches(self, question: str, context: str, weights: dict[str, float],
                      sentence_terms: list[set[str]]) -> dict[tuple[str, str], float]:
        """(question term, sentence term) -> credit, for question terms some sentence lacks."""
        surface: dict[str, str] = {}
        for w in re.findall(r"[A-Za-z][A-Za-z-]+", f"{context} {question}".replace("’", "'")):
            surface.setdefault(stem(w.lower()), w.lower())
        every = set().union(*sentence_terms) if sentence_terms else set()
        missing = [t for t in weights if t in surface and not all(t in toks for toks in sentence_terms)]
        words = sorted(t for t in every if t.isalpha() and len(t) > 2)
        if not missing or not words:
            return {}
        vecs = self._word_vectors([surface[t] for t in missing] + words)
        out: dict[tuple[str, str], float] = {}
        qv = np.stack([vecs[surface[t]] for t in missing])
        wv = np.stack([vecs[w] for w in words])
        sims = qv @ wv.T
        for i, t in enumerate(missing):
            for j in np.nonzero(sims[i] >= self.SOFT_MIN)[0]:
                if words[j] != t:
                    out[(t, words[j])] = self.SOFT_WEIGHT * float(sims[i, j])
        return out

    def _word_vectors(self, words: list[str]) -> dict[str, np.ndarray]:
        """Unit vectors of single words, cached (news vocabularies repeat from question to question)."""
        with self._cache_lock:
            todo = sorted({w for w in words if w not in self._word_cache})
        if todo:
            vecs = self.embed(todo)
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = vecs / np.where(norms == 0, 1.0, norms)
            with self._cache_lock:
                if len(self._word_cache) > 50_000:
                    self._word_cache.clear()
                self._word_cache.update(zip(todo, vecs, strict=True))
        with self._cache_lock:
            return {w: self._word_cache[w] for w in words}

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
        """People in a sentence, each with the role that follows it as an appositive
        ("Kang Ning, Vice President of China Post Group") when there is one; ``role`` is kept in ``extra``."""
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
            role_text = ""
            if role:
                role_text = re.sub(r"\s+(?:and|of|the|for|in)$", "", role[1].strip())
                if role_text.split()[0].lower() not in _TITLE_WORDS:
                    role_text = ""
            appositive = bool(role_text)  # the role follows the name: the span may include it
            titled = bool(before) and before[-1].strip(",") in _TITLE_WORDS
            if titled and not role_text:
                k = len(before)
                while k > 0 and before[k - 1].strip(",") in _TITLE_WORDS:
                    k -= 1
                role_text = " ".join(before[k:]).title()
            acts = bool(_PERSON_VERBS.match(after))
            if not (role_text or acts):
                continue
            span_end = end
            if appositive and sentence[end:].startswith(","):
                span_end = end + after.index(role_text) + len(role_text)
            spans.append(Span(sentence[start:span_end], start, span_end, 1.0 + 0.2 * bool(role_text),
                              name=name, role=role_text))
        return spans

    def _dates(self, sentence: str) -> list[Span]:
        out = []
        for m in _DATE.finditer(sentence):
            text, start = m.group(0), m.start()
            if re.fullmatch(r"(19|20)\d\d", text) and re.match(r"\s+[A-Z]", sentence[m.end():]):
                continue  # "2019 Automobile Industry Chain ..." is part of a name
            pre = re.search(r"(?:the\s+)?(?:morning|afternoon|evening|night|end|beginning|middle)\s+of\s+$",
                            sentence[:start], re.IGNORECASE)
            if pre:
                start = pre.start()
            specific = 1.0 + 0.3 * bool(re.search(r"\d{1,2}", text) and not re.fullmatch(r"\d{4}", text)) \
                + 0.1 * bool(pre)
            out.append(Span(sentence[start:m.end()], start, m.end(), specific))
        return out

    def _numbers(self, sentence: str, question: str) -> list[Span]:
        dates = self._dates(sentence)
        qterms = set(question_terms(question))
        out = []
        for m in _NUMBER.finditer(sentence):
            if re.fullmatch(r"(19|20)\d\d", m.group(0)) or any(d.start <= m.start() < d.end for d in dates):
                continue
            asked = re.search(r"\bhow many\s+((?:[a-z-]+\s*){1,3})", question.lower())
            asked_stems = {stem(w) for w in asked.group(1).split() if w not in STOPWORDS} if asked else qterms
            nxt = re.findall(r"[A-Za-z-]+", sentence[m.end():m.end() + 40])[:3]
            counted = any(stem(w.lower()) in asked_stems for w in nxt)  # "31 provinces" for "how many provinces"
            out.append(Span(m.group(0), m.start(), m.end(), 1.0 + 0.6 * counted))
        return out

    def _entities(self, sentence: str, question: str) -> list[Span]:
        head = head_noun(question)
        quoted = [Span(m.group(1), m.start(1), m.end(1), 1.3)
                  for m in re.finditer(r"[“\"]([^”\"]{2,80})[”\"]", sentence)]
        caps = []
        for m in re.finditer(rf"\b(?:{_CAP}|[A-Z]{{2,}}\w*|[A-Z]\d[\w.]*)"
                             rf"(?:\s+(?:of|and|for|the)?\s*(?:{_CAP}|[A-Z]{{2,}}\w*))*",
                             sentence):
            text, start = m.group(0), m.start()
            while " " in text and text.split(" ", 1)[0].lower() in _SENTENCE_STARTERS:
                rest = text.split(" ", 1)[1].lstrip()
                start += len(text) - len(rest)
                text = rest
            if " " not in text and text.lower() in _SENTENCE_STARTERS:
                continue
            if all(w.lower().strip(".") in _MONTH_WORDS or w.isdigit() for w in text.split()):
                continue  # "May", "On May": a date, not a name
            caps.append(Span(text, start, start + len(text), 1.0 + 0.3 * bool(re.search(r"\d", text))))
        out = quoted + caps
        noun = kind_of_noun(question)
        if noun:
            # "a promotion meeting" for "What kind of meeting": the modifiers in front of the asked noun
            words = list(re.finditer(r"[“”\"]?[\w’'-]+[”“\"]?|[,;:()]", sentence))
            for i, w in enumerate(words):
                if stem(w.group(0).strip("“”\"").lower()) != noun:
                    continue
                j = i
                while j > 0 and i - j < 6:
                    prev = words[j - 1].group(0)
                    joined = prev.lower() == "and" and j > 1 and words[j - 2].group(0).lower() not in STOPWORDS
                    if prev.endswith(("”", '"')):  # a quoted modifier: '"three in one" distribution mechanism'
                        k = j - 1
                        while k >= 0 and not words[k].group(0).startswith(("“", '"')) and j - k < 6:
                            k -= 1
                        if k >= 0 and words[k].group(0).startswith(("“", '"')):
                            j = k
                            continue
                    if not joined and (prev in ",;:()" or prev.lower() in STOPWORDS | {"new", "all", "its", "their"}):
                        break
                    j -= 1
                if j < i:
                    mods = sentence[words[j].start():words[i - 1].end()]
                    out.append(Span(sentence[words[j].start():w.end()], words[j].start(), w.end(), 1.8, name=mods))
        if head:
            # a candidate right after or before the head noun ("brand of "X"", "V2.0 cooperation") gains
            for i, sp in enumerate(out):
                window = sentence[max(0, sp.start - 40):sp.end + 25].lower()
                if any(stem(w) == head for w in re.findall(r"[a-z]+", window)):
                    out[i] = Span(sp.text, sp.start, sp.end, sp.score + 0.4)
        return out

    def _typed_spans(self, kind: str, sentence: str, question: str = "") -> list[Span]:
        if kind in ("person", "role"):
            return self._persons(sentence)
        if kind == "date":
            return self._dates(sentence)
        if kind == "number":
            return self._numbers(sentence, question)
        if kind == "place":
            return [Span(m.group(1), m.start(1), m.end(1), 1.0)
                    for m in re.finditer(rf"\b(?:in|at|to|from)\s+((?:{_CAP})(?:\s+{_CAP})*)", sentence)
                    if m.group(1).split()[0].lower() not in _SENTENCE_STARTERS]
        if kind == "entity":
            return self._entities(sentence, question)
        return []

    def _verb_after(self, verb: str | None, sentence: str, end: int, window: int = 90) -> bool:
        """Whether the question's verb follows the span closely: the span is its subject."""
        if not verb:
            return False
        tail = sentence[end:end + window]
        return any(stem(w.lower()) == verb for w in re.findall(r"[A-Za-z]+", tail))

    def _subject(self, sentence: str, verb: str | None, require_capital: bool = True) -> Span | None:
        """The subject in front of the question's verb: 'At the meeting, PSBC and the Parcel ... Unit
        respectively introduced' -> 'PSBC and the Parcel ... Unit'."""
        if not verb:
            return None
        for m in re.finditer(r"[A-Za-z]+", sentence):
            if stem(m.group(0).lower()) != verb:
                continue
            head = sentence[:m.start()]
            head = re.sub(r"\s+(?:respectively|also|jointly|both|then|has|have|had|will|was|were|is|are|should|"
                          r"must|can|could|would|may|might)\s*$", "", head.rstrip())
            lead = re.match(r"^(?:(?:At|In|On|During|After|Before|According to)\b[^,]{0,60},\s*)", head)
            start = lead.end() if lead else 0
            if not require_capital and "," in head[start:]:
                start = head.rindex(",") + 1  # the clause right before the verb
            text = head[start:].strip().rstrip(",")
            start = head.index(text, start) if text else start
            if text and (re.search(r"[A-Z]", text) or not require_capital) and len(text.split()) <= 12:
                return Span(text, start, start + len(text), 1.2)
        return None

    def _verb_argument(self, question: str, ranked: Sequence[Scored]) -> tuple[Scored | None, Span | None]:
        """Object and passive questions, answered from the sentence's own verb:
        "What will China Post Group specially establish ...?" -> the object after "establish";
        "At what level should the top-level design be formulated?" -> the subject before "formulate"."""
        passive = re.search(r"\bbe\s+(\w+(?:ed|en))\b|\b(?:was|were|is|are)\s+(\w+ed)\b\s*(?:\?|$|by\b)", question)
        if passive:
            verb = stem(next(g for g in passive.groups() if g).lower())
            for cand in ranked:
                subj = self._subject(cand.text, verb, require_capital=False)
                if subj is not None:
                    return cand, subj
            return None, None
        m = re.match(r"^what\s+(?:did|does|do|will|would|should|can|could|must|has|have|had|is|are|was|were)\s+(.+)$",
                     question.strip().rstrip("?"), re.IGNORECASE)
        if not m:
            return None, None
        # "<subject> <verb> [to|at|for ... rest]": the verb is the last word before the first preposition
        head = re.split(r"\s(?:to|at|in|on|for|with|from|by|about|during|after|before|of)\s", " " + m.group(1) + " ")[0]
        words = [w for w in head.split() if not w.lower().endswith("ly")]
        if not words or not words[-1][:1].islower():
            return None, None
        verb = stem(words[-1].lower())
        for cand in ranked:
            if verb not in {stem(w.lower()) for w in re.findall(r"[A-Za-z]+", cand.text)}:
                continue
            for vm in re.finditer(r"[A-Za-z]+", cand.text):
                if stem(vm.group(0).lower()) != verb:
                    continue
                tail = cand.text[vm.end():]
                obj = re.match(r"\s+(?:(?:an?|the)\s+)?((?:[\w“”\"’'-]+\s+){0,7}?[\w“”\"’'-]+?)"
                               r"(?=\s*(?:[,;.]|\s(?:to|and|in order|by|so that|which|that)\s|$))", tail)
                if obj and len(obj.group(1).split()) >= 2:
                    start = vm.end() + obj.start(1)
                    return cand, Span(obj.group(1), start, start + len(obj.group(1)), 1.0)
        return None, None

    def _score_spans(self, question: str, kind: str, sentence: str,
                     context_words: set[str]) -> list[tuple[float, Span]]:
        spans = self._typed_spans(kind, sentence, question)
        qwords = {w.lower() for w in re.findall(r"\w+", question.replace("’", "'"))} | context_words
        cues = self._cue_positions(question, sentence)
        wanted_role = _asked_role(question) if kind == "person" else []
        wanted_org = _asked_org(question) if wanted_role else []
        asked_name = _asked_name(question) if kind == "role" else None
        verb = question_verb(question) if kind in ("person", "entity") else None
        counted_noun = "how many" in question.lower()
        money = _asked_money(question)
        if kind == "entity" and question.lower().startswith("who"):
            spans = [sp for sp in spans if self._verb_after(verb, sentence, sp.end, 40)]
            subj = self._subject(sentence, verb)
            if subj:
                spans.append(subj)
        out = []
        for sp in spans:
            if kind == "role":
                if not sp.role or not asked_name or asked_name.lower() not in sp.name.lower():
                    continue
                role_start = sp.start + sentence[sp.start:sp.end].index(sp.role)
                out.append((sp.score + 1.0, Span(sp.role, role_start, role_start + len(sp.role), sp.score)))
                continue
            if kind == "number" and counted_noun and sp.score < 1.5:
                continue  # "how many copies": a number that counts something else is no answer
            if kind == "number" and money and not _MONEY.search(sentence[max(0, sp.start - 4):sp.end + 12]):
                continue  # a price or a sum needs a currency next to the number
            key = sp.name or sp.text
            words = [w.lower() for w in re.findall(r"\w+", key.replace("’", "'"))]
            if words and all(w in qwords for w in words):
                continue  # the question already names it
            overlap = sum(w in qwords for w in words) / max(len(words), 1)
            dist = min((abs(c - sp.start) for c in cues), default=len(sentence))
            before_cue = any(0 <= c - sp.end <= 25 for c in cues)
            score = sp.score - overlap - dist / 200.0 + 0.5 * before_cue
            if kind == "person" and self._verb_after(verb, sentence, sp.end):
                score += 0.8
            if wanted_role:
                role = sp.role.lower()
                title = role.split(" of ")[0].split()
                if not sp.role or sorted(set(title)) != sorted(set(wanted_role)):
                    continue  # "Who is the President of X?" needs someone whose title is President, not Vice President
                if wanted_org and " of " in role and not any(w in role for w in wanted_org):
                    continue  # ... and of X, not of another organisation
                score += 1.0
            out.append((score, sp))
        return out

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
        asked = question
        question = question_focus(question)
        ranked = self.rank_sentences(question, hits, context)
        if not ranked:
            return Answer(question=asked, text=NOT_COVERED, answerable=False, hits=list(hits))
        kind = question_kind(question)
        chosen, span = self._select(question, kind, ranked, context)
        type_found = span is not None
        subject_question = re.match(r"^what\s+(?:has|have|had|is|are|was|were|will|would|can)?\s*\w+", question,
                                    re.IGNORECASE)
        if chosen is None and kind == "clause" and subject_question:
            verb = question_verb(question)
            for cand in ranked[:3]:
                subj = self._subject(cand.text, verb, require_capital=False)
                if subj is not None and len(subj.text.split()) >= 2:
                    chosen, span = cand, subj
                    break
        if chosen is None and kind == "clause":
            chosen, span = self._verb_argument(question, ranked[:3])
        if chosen is None:
            chosen = ranked[0]
            span = self._clause(question, chosen.text) if kind in ("clause", "entity") else None
        confidence = self._confidence(chosen, kind, type_found)
        answerable = confidence >= self.settings.min_confidence and (span is not None)
        if not answerable or span is None:
            cites = self._citations(ranked, None, None)
            return Answer(question=asked, text=NOT_COVERED, answerable=False, citations=cites,
                          hits=list(hits), confidence=confidence)
        text = span.text.strip().rstrip(",;:")
        cites = self._citations(ranked, chosen, span)
        return Answer(question=asked, text=text, answerable=True, citations=cites, hits=list(hits),
                      confidence=confidence)

    def _select(self, question: str, kind: str, ranked: list[Scored],
                context: str) -> tuple[Scored | None, Span | None]:
        """The best (sentence, span) among the top sentences: sentence score plus the span's own score."""
        if kind == "clause":
            return None, None
        context_words = {w.lower() for w in re.findall(r"\w+", context)} if context and kind != "person" else set()
        both = bool(re.search(r"\b(both|each of|two articles|two meetings)\b", question, re.IGNORECASE))
        top = ranked[0].score
        best: tuple[float, Scored, Span, str] | None = None
        kinds = [kind] + (["entity"] if kind == "person" and not _asked_role(question) else [])
        window = 0.35 if kind in ("person", "role") or kind_of_noun(question) else 0.2
        predicate = _predicate_terms(question) if kind in ("date", "number", "place") else set()
        for k in kinds:
            for cand in ranked[:8]:
                if cand.score < top - window:
                    break
                if predicate and not predicate & set(tokenize(cand.text)) and not context:
                    continue  # a date/number/place in a sentence that never mentions what was asked about
                for span_score, sp in self._score_spans(question, k, cand.text, context_words):
                    total = cand.score + 0.2 * span_score - (0.3 if k != kind else 0.0)
                    if both:
                        name = (sp.name or sp.text).lower()
                        arts = {c.chunk.article_id for c in ranked if name in c.text.lower()}
                        total += 0.3 * (len(arts) - 1)
                    if best is None or total > best[0]:
                        best = (total, cand, sp, k)
            if best is not None:
                break
        if best is None:
            return None, None
        _, cand, sp, k = best
        if k == "person":
            spans = [x for _, x in self._score_spans(question, k, cand.text, context_words)]
            if sp in spans:
                sp = self._coordinate(sp, spans, cand.text, self._cue_positions(question, cand.text))
        return cand, sp

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
