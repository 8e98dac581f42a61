"""Answer candidates in a sentence: entities and noun phrases of the type the question asks for."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from postqa.answering.question import WH_WORDS, Question, label_of_noun
from postqa.nlp.analysis import Analysis, Span
from postqa.nlp.relations import PERSON, entity_at, head_of, people_in, role_of

SimilarFn = Callable[[str, str], float]
HEAD_MATCH = 0.55  # cosine from which a noun phrase's head counts as the noun the question asks for
_JOINERS = ("-", "–", "/")  # punctuation inside a written word ('140,000-acre')
_VALUE_LABELS = {"DATE", "TIME", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT"}


@dataclass(frozen=True)
class Candidate:
    """Tokens [start, end) of a sentence's analysis that may answer, and why (its prior in 0..1)."""

    start: int
    end: int
    prior: float
    label: str = ""
    head: int = -1
    tied: float = 0.0  # structural evidence found with it: a noun of the question names it ('chief executive X')


def _noun_phrases(a: Analysis, sent: Span) -> list[Span]:
    return list(a.within(a.chunks, sent))


def _strip(a: Analysis, span: Span) -> Span:
    """Without leading determiners and possessives, nor trailing punctuation."""
    lo, hi = span.start, span.end
    while lo < hi - 1 and a.tokens[lo].pos in ("DET", "PRON") and a.tokens[lo].dep in ("det", "poss"):
        lo += 1
    while hi > lo + 1 and a.tokens[hi - 1].pos == "PUNCT" and a.word(hi - 1) not in ('"', "”", "’"):
        hi -= 1
    return Span(lo, hi, span.label)


# how well an entity label fits a kind of question (the first label of a kind is the natural one)
_PRIOR = {("person", "ORG"): 0.75, ("person", "NORP"): 0.6, ("place", "ORG"): 0.4, ("place", "FAC"): 0.9}


def typed(q: Question, a: Analysis, sent: Span, similar: SimilarFn) -> list[Candidate]:
    """Entities of the expected labels; for which/what questions also noun phrases whose head means the
    asked noun ('tech' ~ 'technology'); for who-questions also names with an appositive role."""
    out: list[Candidate] = []
    named = label_of_noun(q.head) if q.head else None  # 'what date' names DATE among the date labels
    for e in a.within(a.ents, sent):
        if e.label in q.labels:
            prior = _PRIOR.get((q.kind, e.label), 1.0) * (0.8 if named not in (None, e.label) else 1.0)
            if e.label in ("PERCENT", "MONEY") and _asks_count(q):  # 'how many people': a count, not a share
                prior *= 0.7
            out.append(Candidate(e.start, e.end, prior, e.label, head_of(a, e)))
    if q.kind == "person" or "PERSON" in q.labels:
        out += [Candidate(p.start, p.end, 0.9, PERSON, head_of(a, p)) for p in people_in(a, sent)
                if not any(c.start <= p.start < c.end for c in out)]
    if q.head is not None and q.kind != "number":
        out += _head_matches(q, a, sent, similar)
    if q.head is not None and q.kind == "number":  # 'how many years': '30 years' is a DATE to the recogniser
        out += [Candidate(e.start, e.end, 0.9, e.label, head_of(a, e)) for e in a.within(a.ents, sent)
                if e.label in ("DATE", "TIME") and _names_head(q.head, a, e, similar)]
    if q.kind == "entity" and not q.labels:
        out += [Candidate(e.start, e.end, 0.5, e.label, head_of(a, e)) for e in a.within(a.ents, sent)
                if e.label not in _VALUE_LABELS]
    return out


def _asks_count(q: Question) -> bool:
    """'How many ...?' (not 'how much'): the answer counts things."""
    a = q.analysis
    return any(a.word(t.i).lower() == "how" and t.i + 1 < len(a.tokens) and a.word(t.i + 1).lower() == "many"
               for t in a.tokens)


def _names_head(head: str, a: Analysis, span: Span, similar: SimilarFn) -> bool:
    return any(similar(head, a.tokens[k].lemma.lower()) >= HEAD_MATCH for k in range(span.start, span.end)
               if a.tokens[k].pos == "NOUN")


def _head_matches(q: Question, a: Analysis, sent: Span, similar: SimilarFn) -> list[Candidate]:
    assert q.head is not None
    out = []
    for np_ in _noun_phrases(a, sent):
        root = head_of(a, np_)
        lemma = a.tokens[root].lemma.lower()
        sim = similar(q.head, lemma)
        if sim < HEAD_MATCH:
            continue
        holder = _holder(a, root)
        if holder is not None:  # "Which official ...": the person whose role it is, not the role
            out.append(Candidate(holder.start, holder.end, 0.6 + 0.4 * sim, PERSON, head_of(a, holder)))
            continue
        span = _strip(a, np_)
        out.append(Candidate(span.start, span.end, 0.6 + 0.4 * sim, "NP", root))
        mods = _modifiers(q, a, span, root)
        if mods is not None:  # 'the "three in one" distribution mechanism' for 'what kind of ... mechanism'
            out.append(Candidate(mods.start, mods.end, 0.6 + 0.4 * sim, "NP", root))
        of = _of_object(a, root)  # "a unified brand of 'China Post Auto Services'": the name is the answer
        if of is not None:
            out.append(Candidate(of.start, of.end, 0.7 + 0.4 * sim, "NP", head_of(a, of)))
    return out


def _modifiers(q: Question, a: Analysis, span: Span, root: int) -> Span | None:
    """The words before a noun phrase's head that the question does not say already (only when the
    question names the head noun itself)."""
    asked = q.words
    if a.tokens[root].lemma.lower() not in asked:
        return None
    hi = root
    while hi > span.start and (a.word(hi - 1).lower() in asked or a.tokens[hi - 1].lemma.lower() in asked):
        hi -= 1
    lo = span.start
    while lo < hi and a.tokens[lo].pos == "DET":
        lo += 1
    return Span(lo, root + 1) if lo < hi else None


def _holder(a: Analysis, root: int) -> Span | None:
    """The person a role noun belongs to: 'Kang Ning, Vice President' (appos) or 'President Xi' (compound)."""
    t = a.tokens[root]
    target = t.head if t.dep in ("appos", "compound", "conj") else None
    if target is None:
        return None
    ent = entity_at(a, target)
    return ent if ent is not None and ent.label == PERSON else None


def _of_object(a: Analysis, root: int) -> Span | None:
    """'a unified brand of "China Post Auto Services"': a name after 'of' (quoted or proper) is the answer."""
    prep = next((c for c in a.children(root) if c.dep == "prep" and a.word(c.i).lower() == "of"), None)
    pobj = next((c for c in a.children(prep.i) if c.dep == "pobj"), None) if prep else None
    if pobj is None or pobj.pos != "PROPN":
        return None
    from postqa.nlp.relations import subtree

    lo, hi = subtree(a, pobj.i)
    return _strip(a, Span(lo, hi))


def subjects(a: Analysis, sent: Span, verbs: list[int]) -> list[Candidate]:
    """'Who said ...': the proper-noun subject of the matched verb, whatever label NER gave it."""
    out = []
    for v in verbs[:2]:
        t = a.tokens[v]
        kids = list(a.children(v))
        if t.dep == "relcl" and t.head < v:  # 'RDF Media, which makes the show': the described noun is the doer
            kids.append(a.tokens[t.head])
        for c in kids:
            if (c.dep in ("nsubj", "agent") or c.i == t.head) and c.pos == "PROPN" and sent.start <= c.i < sent.end:
                ent = entity_at(a, c.i)
                lo = ent.start if ent is not None else c.i
                while lo > sent.start and a.tokens[lo - 1].pos == "PROPN" and a.tokens[lo - 1].dep == "compound":
                    lo -= 1
                out.append(Candidate(lo, c.i + 1, 0.85, PERSON, c.i))
    return out


def arguments(q: Question, a: Analysis, sent: Span, verbs: list[int],
              similar: SimilarFn | None = None) -> list[Candidate]:
    """Clause questions ('What did the teleconference launch?'): the object or subject of the matched verb,
    whichever the question word stands for; for 'what/which + noun' questions only one holding a name or
    headed by that noun ('What was the program called?' -> 'Bankash-A Trojan', not 'the meeting')."""
    from postqa.nlp.relations import subtree

    names_only = q.kind == "entity" and q.head is not None
    out = []
    wanted = ("nsubj", "nsubjpass") if q.subject else ("dobj", "attr", "oprd", "nsubjpass", "ccomp", "xcomp")
    for v in verbs:
        for c in a.children(v):
            if c.dep in wanted and sent.start <= c.i < sent.end:
                lo, hi = subtree(a, c.i)
                span = _strip(a, Span(lo, hi))
                if names_only and not _named_or_headed(q, a, span, c.i, similar):
                    continue
                if 1 <= span.end - span.start <= 25:
                    out.append(Candidate(span.start, span.end, 0.8, "ARG", c.i))
    return out


def _named_or_headed(q: Question, a: Analysis, span: Span, head: int, similar: SimilarFn | None) -> bool:
    """Headed by the asked noun, or a name of the type it implies (any name when it implies none)."""
    if similar is not None and q.head is not None and similar(q.head, a.tokens[head].lemma.lower()) >= HEAD_MATCH:
        return True
    if q.labels:
        return any(e.label in q.labels for e in a.within(a.ents, span))
    return any(t.pos == "PROPN" for t in a.tokens[span.start:span.end])


def coordinated(a: Analysis, cand: Candidate, sent: Span) -> Candidate:
    """'Heilongjiang and Shandong', 'PSBC and the Parcel, Express and Logistics Business Unit': a candidate
    with the conjuncts that hang off its head, whole."""
    from postqa.nlp.relations import subtree

    if cand.head < 0:
        return cand
    top = cand.head
    # a name its role noun picked out ('chairman X and chief executive Y') takes only the conjuncts after it
    while not cand.tied and a.tokens[top].dep == "conj" and a.tokens[a.tokens[top].head].pos in ("PROPN", "NOUN"):
        top = a.tokens[top].head
    if top == cand.head and not any(c.dep == "conj" and a.tokens[c.i].pos in ("PROPN", "NOUN")
                                    for c in a.children(top)):
        return cand
    lo, hi = subtree(a, top)
    span = _strip(a, Span(max(lo, sent.start), min(hi, sent.end)))
    if span.end - span.start > 24 or any(a.tokens[i].pos in ("VERB", "AUX") for i in range(span.start, span.end)):
        return cand
    return replace(cand, start=min(span.start, cand.start), end=max(span.end, cand.end), head=top)


def with_role(a: Analysis, cand: Candidate, sent: Span) -> Candidate:
    """A person with the role the sentence gives right after the name ('Zhang Yongping, Head of ...')."""
    name = Span(cand.start, cand.end, PERSON)
    taken = {i for p in people_in(a, sent) for i in range(p.start, p.end)} - set(range(cand.start, cand.end))
    role = role_of(a, name, taken)
    if role is not None and role.start >= cand.end and role.end <= sent.end:
        return replace(cand, end=role.end)
    return cand


def copula_complements(q: Question, a: Analysis, sent: Span, words: list[int]) -> list[Candidate]:
    """'What is synergy for China Post?' over 'synergy is the first strategy and the core strength': the
    complement of 'be' whose subject is a word of the question."""
    from postqa.nlp.relations import subtree

    out = []
    for w in words:
        t = a.tokens[w]
        be = a.tokens[t.head]
        if t.dep != "nsubj" or be.lemma != "be":
            continue
        for c in a.children(be.i):
            if c.dep in ("attr", "acomp"):
                lo, hi = subtree(a, c.i)
                span = _strip(a, Span(lo, min(hi, sent.end)))
                if 1 <= span.end - span.start <= 20:
                    out.append(Candidate(span.start, span.end, 0.9, "ARG", c.i))
    return out


def _numeric(a: Analysis, i: int) -> bool:
    """A number word or a written amount ('nine', '200', '£200' even when mis-decoded as 'Â£200')."""
    return a.tokens[i].pos == "NUM" or (a.tokens[i].pos not in ("PUNCT", "SPACE") and
                                        any(ch.isdigit() for ch in a.word(i)))


def has_number(a: Analysis, cand: Candidate) -> bool:
    """Whether a candidate holds a number ('£2.5m', 'nine'): a how-many/how-much answer must ('annual' is a
    DATE to the recogniser, yet no amount)."""
    return any(_numeric(a, i) for i in range(cand.start, cand.end))


def numbers(a: Analysis, sent: Span) -> list[Candidate]:
    """Numbers the entity recogniser left unlabelled ('obtained nine guilty pleas', 'given two nominations',
    'gives Â£200'): runs of number tokens outside any value entity."""
    out: list[Candidate] = []
    i = sent.start
    while i < sent.end:
        ent = entity_at(a, i)
        if not _numeric(a, i) or (ent is not None and ent.label in _VALUE_LABELS):
            i += 1
            continue
        j = i
        while j < sent.end and _numeric(a, j) and entity_at(a, j) is None:
            j += 1
        j = max(j, i + 1)
        out.append(Candidate(i, j, 0.9, "CARDINAL", head_of(a, Span(i, j))))
        i = j
    return out


def count_of(a: Analysis, cand: Candidate) -> Candidate | None:
    """'37,000 long tons' -> '37,000' for 'How many long tons ...': the number that counts, without the
    counted noun the question already says (None: the candidate has no number, or is the number alone)."""
    idx = [i for i in range(cand.start, cand.end) if _numeric(a, i)]
    if not idx or (idx[0], idx[-1] + 1) == (cand.start, cand.end):
        return None
    lo, hi = idx[0], idx[0]
    while hi + 1 < cand.end and _numeric(a, hi + 1):
        hi += 1
    return replace(cand, start=lo, end=hi + 1, head=head_of(a, Span(lo, hi + 1)))


def stranded(q: Question, a: Analysis, sent: Span, verbs: list[int]) -> list[Candidate]:
    """'What did the index fall to?', 'What has the quota been set at?': the question ends its verb with a
    preposition that has no object; the object of that preposition on the matched verb is the answer."""
    from postqa.nlp.relations import subtree

    qa = q.analysis
    wh = {t.i for t in qa.tokens if qa.word(t.i).lower() in WH_WORDS}
    preps = {qa.word(t.i).lower() for t in qa.tokens  # no object, or the question word is it ('fall to what')
             if t.dep == "prep" and all(c.i in wh for c in qa.children(t.i) if c.dep == "pobj")}
    out = []
    for v in verbs[:2]:
        for p in a.children(v):
            if p.dep != "prep" or a.word(p.i).lower() not in preps:
                continue
            for o in a.children(p.i):
                if o.dep == "pobj" and sent.start <= o.i < sent.end:
                    lo, hi = subtree(a, o.i)
                    span = _strip(a, Span(lo, min(hi, sent.end)))
                    if 1 <= span.end - span.start <= 12:
                        out.append(Candidate(span.start, span.end, 0.9, "ARG", o.i))
    return out


def _glued(a: Analysis, left: int, right: int) -> bool:
    """Tokens ``left`` and ``right`` (= left + 1) are one written word ('$', '850', 'm' in '$850m')."""
    pos = (a.tokens[left].pos, a.tokens[right].pos)
    inner = all(a.tokens[k].pos != "PUNCT" or a.word(k) in _JOINERS for k in (left, right))
    return a.tokens[left].end == a.tokens[right].start and inner and "SPACE" not in pos


def whole_words(a: Analysis, cand: Candidate, sent: Span) -> Candidate:
    """A candidate never cuts a written word: '850' inside '$850m' becomes '$850m'."""
    lo, hi = cand.start, cand.end
    while lo > sent.start and _glued(a, lo - 1, lo):
        lo -= 1
    while hi < sent.end and _glued(a, hi - 1, hi):
        hi += 1
    return cand if (lo, hi) == (cand.start, cand.end) else replace(cand, start=lo, end=hi)


def measured(q: Question, a: Analysis, cand: Candidate, sent: Span) -> Candidate:
    """An amount with the unit it counts right after it ('1.5bn yen', '64 mln dlrs', '1,001,430 short tons'):
    the noun the number modifies, when only adjectives or numbers stand between them and the question does
    not name it ('How large is the estate' -> '140,000-acre', not '140,000-acre estate')."""
    t = a.tokens[cand.head] if cand.head >= 0 else None
    if t is None or t.dep not in ("nummod", "quantmod", "compound") or t.head < cand.end:
        return cand
    unit = a.tokens[t.head]
    between = a.tokens[cand.end:unit.i]
    if unit.pos != "NOUN" or unit.i >= sent.end or unit.i - cand.end > 2 or unit.lemma.lower() in q.words or \
            any(b.pos not in ("ADJ", "NUM", "NOUN") for b in between):
        return cand
    return replace(cand, end=unit.i + 1, head=unit.i)


def has_type(q: Question, a: Analysis, sent: Span) -> bool | None:
    """Whether a sentence holds something of the answer type the question asks for (an entity of its labels, a
    number for how-many/how-much); None when the question asks for no entity type. Cheap: every sentence of
    the retrieved chunks is checked."""
    if not q.labels:
        return None
    if any(e.label in q.labels for e in a.within(a.ents, sent)):
        return True
    if q.kind == "number":
        return any(_numeric(a, i) for i in range(sent.start, sent.end))
    return False
