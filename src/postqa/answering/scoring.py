"""Candidate scores: the syntactic tie to the words that matched the question, type, and no repetition."""

from __future__ import annotations

from postqa.answering.candidates import Candidate, SimilarFn, has_number
from postqa.answering.question import Question
from postqa.nlp.analysis import Analysis, Span

COUNT_MATCH = 0.5  # cosine from which a number's noun is the counted noun ('provinces' ~ 'province')
COUNT_OTHER = 0.3  # below it the number counts something else ('31 provinces' for 'how many cities')
NEAR_SCALE = 60.0  # tokens of distance from the matched words that cost a candidate 1.0 (capped at 30)
PREP_MATCH = 0.3  # bonus of a candidate after the preposition that governs the question's wh-phrase
VERB_MATCH = 0.5  # cosine from which a sentence verb counts as the question's verb ('chaired' ~ 'presided')
_ARG_DEPS = ("nsubj", "nsubjpass", "dobj", "attr", "pobj", "agent", "dative", "oprd")
_CLIMB_DEPS = ("conj", "appos", "compound", "pobj", "prep", "agent", "poss", "amod", "nmod", "cc")


def matched_verbs(q: Question, a: Analysis, sent: Span, similar: SimilarFn) -> list[int]:
    """Sentence verbs that mean the question's verb, best first (lemma equal, else by the model)."""
    if q.verb is None:
        return []
    verbs = [t for t in a.tokens[sent.start:sent.end] if t.pos in ("VERB", "AUX") and t.lemma != "be"]
    scored = [(1.0 if t.lemma.lower() == q.verb else similar(q.verb, t.lemma.lower()), t.i) for t in verbs]
    return [i for s, i in sorted(scored, reverse=True) if s >= VERB_MATCH]


def matched_words(q: Question, a: Analysis, sent: Span) -> list[int]:
    content = set(q.content)
    return [t.i for t in a.tokens[sent.start:sent.end] if t.lemma.lower() in content and not t.stop]


def tie(a: Analysis, cand: Candidate, verbs: list[int], kind: str) -> float:
    """How closely the candidate hangs off the matched verb. Who/what answers are its arguments (subject or
    object, through conjuncts and appositives: 1.0; through a preposition: 0.3); when/where answers are its
    adjuncts ('held in Beijing', 'On May 17, ... held': 1.0); how-many/how-much answers either ('took 1.5bn
    yen'), but an amount in an appositive or parenthesis restates another ('1.5bn yen (£7.7m)': 0.6 of it)."""
    if cand.head < 0 or not verbs:
        return 0.0
    adjunct = kind in ("date", "place", "number")
    if not adjunct and any(a.tokens[v].dep == "relcl" and cand.start <= a.tokens[v].head < cand.end for v in verbs):
        return 1.0  # 'RDF Media, which makes the show': the noun a matched relative clause describes
    i, loose, aside = cand.head, False, False
    for _ in range(6):
        t = a.tokens[i]
        if t.head == i:
            return 0.0
        if t.head in verbs:
            if adjunct:
                return _adjunct_tie(t.dep, loose, kind) * (0.6 if aside else 1.0)
            return 0.3 if loose or t.dep not in _ARG_DEPS else 1.0
        if t.dep not in _CLIMB_DEPS:
            return 0.3 if a.tokens[t.head].head in verbs else 0.0
        # 'backed by X': the agent's object is the doer, as close as a subject
        by_agent = t.dep == "pobj" and a.tokens[t.head].dep == "agent"
        loose = loose or (t.dep in ("prep", "pobj", "poss", "amod", "nmod", "agent") and not by_agent)
        aside = aside or (kind == "number" and t.dep == "appos")
        i = t.head
    return 0.0


def _adjunct_tie(dep: str, loose: bool, kind: str) -> float:
    if loose or dep in ("npadvmod", "advmod", "tmod", "nummod"):
        return 1.0
    if kind == "number" and dep in ("dobj", "attr", "oprd"):
        return 1.0
    return 0.0 if dep in ("nsubj", "nsubjpass") else 0.5


def light_verb(q: Question) -> bool:
    """The question's verb is a light one ('make', 'take', 'do': a stop word), whose absence says little."""
    return any(t.lemma.lower() == q.verb and t.stop for t in q.analysis.tokens)


def counts(q: Question, a: Analysis, cand: Candidate, similar: SimilarFn) -> float | None:
    """'How many provinces': a number must count provinces (its head means the counted noun); None: it
    counts something clearly else; 0.0: nothing is said of what it counts. 'How large is the estate': an
    amount that modifies a noun of the question ('a 140,000-acre estate') measures what is asked (1.0).
    'What price ...' asks for a measure, not a count: the head noun is not what the number counts."""
    if q.kind != "number":
        return 0.0
    if q.head is not None and q.wh != "how" and cand.label == "CARDINAL" and \
            all(a.tokens[i].pos == "NUM" or a.word(i)[:1].isdigit() for i in range(cand.start, cand.end)):
        return None  # 'What is the price?': a bare count ('three') is no price; an amount has its unit
    t = a.tokens[cand.head] if cand.head >= 0 else None
    if t is None or t.dep not in ("nummod", "quantmod", "amod", "compound"):
        return 0.0
    counted = a.tokens[t.head].lemma.lower()
    if q.head is None or q.wh != "how":
        return 1.0 if counted in q.content and not cand.start <= t.head < cand.end else 0.0
    sim = similar(q.head, counted)
    return 1.0 if sim >= COUNT_MATCH else (0.0 if sim >= COUNT_OTHER else None)


def role_fit(q: Question, a: Analysis, cand: Candidate) -> float | None:
    """'Who is the President of X?': the person's role in the sentence must be that role (title words equal,
    the organisation's words present); None: another role or no person."""
    if not q.role:
        return 0.0
    if cand.label != "PERSON":
        return None
    from postqa.nlp.relations import people_in, role_of

    sent = a.sentence_of(cand.start)
    taken = {i for p in people_in(a, sent) for i in range(p.start, p.end)} - set(range(cand.start, cand.end))
    role = role_of(a, Span(cand.start, cand.end, "PERSON"), taken)
    if role is None:
        return None
    have = a.span_text(role).lower().replace("’", "'")
    want = q.role.lower().replace("’", "'")
    title_h, _, org_h = have.partition(" of ")
    title_w, _, org_w = want.partition(" of ")
    if title_h.split() != title_w.split():
        return None
    if org_w and not set(org_w.split()) <= set(org_h.split()):
        return None
    return 1.0


def repeats(q: Question, a: Analysis, cand: Candidate) -> float:
    """Share of the candidate's content words that the question already says (1.0: it names the answer)."""
    # number words ('nine', 'two') are stop words to spaCy, yet they are the whole answer to 'how many'
    idx = [i for i in range(cand.start, cand.end) if a.tokens[i].pos not in ("DET", "ADP", "PUNCT", "CCONJ", "PART")
           and (not a.tokens[i].stop or a.tokens[i].pos == "NUM")]
    if not idx:
        return 1.0
    asked = q.words
    return sum(a.word(i).lower() in asked or a.tokens[i].lemma.lower() in asked for i in idx) / len(idx)


def distance(cand: Candidate, anchors: list[int]) -> int:
    if not anchors:
        return 20
    return min(min(abs(x - cand.start), abs(x - (cand.end - 1))) for x in anchors)


def score(q: Question, a: Analysis, cand: Candidate, verbs: list[int], words: list[int],
          similar: SimilarFn) -> float | None:
    """The candidate's own score (None: it cannot be the answer)."""
    if q.kind == "number" and not has_number(a, cand):
        return None
    rep = repeats(q, a, cand)
    inside = any(cand.start <= w < cand.end for w in words)
    if rep >= 1.0 or (inside and rep > 0.5 and cand.label != "NP"):
        return None
    counted = counts(q, a, cand, similar)
    # named by the role noun: that is the role (role_fit asks for its capitalised title word for word)
    fit = (1.0 if q.role else 0.0) if cand.tied else role_fit(q, a, cand)
    if counted is None or fit is None:
        return None
    t = max(tie(a, cand, verbs, q.kind), cand.tied)
    near = distance(cand, verbs + words)
    # the question's verb is not in the sentence (a light verb's absence says little)
    unmatched = 0.3 if q.verb is not None and not verbs and not light_verb(q) and not cand.tied else 0.0
    return cand.prior + t + counted + fit + same_preposition(q, a, cand) - 0.8 * rep - min(near, 30) / NEAR_SCALE \
        - unmatched


def same_preposition(q: Question, a: Analysis, cand: Candidate) -> float:
    """'On what day ...' over '... on April 14 followed by ... later in the month': the candidate that stands
    after the question's own preposition."""
    if not q.prep or cand.head < 0:
        return 0.0
    i = cand.head  # 'on the morning of September 10': 'September 10' stands after 'on' too
    for _ in range(4):
        t = a.tokens[i]
        if t.dep != "pobj" or t.head == i:
            return 0.0
        if a.word(t.head).lower() == q.prep:
            return PREP_MATCH
        i = a.tokens[t.head].head
    return 0.0
