"""Names that a noun of the question describes in a sentence: 'chief executive Werner Seifert', 'hedge funds
TCI and Atticus', 'Lynne Brindley, chief executive of ...', 'respiratory disease emphysema'."""

from __future__ import annotations

from postqa.answering.candidates import Candidate, SimilarFn
from postqa.answering.question import Question
from postqa.nlp.analysis import Analysis, Span
from postqa.nlp.relations import entity_at, head_of, subtree

NAME_MATCH = 0.5  # cosine from which a sentence noun means the question's role or class noun ('boss' ~ 'chief')
FULL_MATCH = 0.8  # cosine from which the tie is whole; between the two it grows linearly ('agency' ~ 'executive'
# at 0.51 ties little, 'disease' ~ 'illness' at 0.8 fully)
VERB_NOUN = 0.5  # share of the tie when the noun means the question's verb, not its role noun
_MODIFIER = ("compound", "amod", "nmod")
_WORD_POS = ("NOUN", "PROPN", "ADJ")


def anchors(q: Question, verb_matched: bool = False) -> tuple[str, ...]:
    """The question's nouns that name its answer: the role of a who-question, the head of which/what. The doer
    of the question's verb ('Who chairs' -> 'chairman X') only where the sentence lacks the verb itself: there
    the verb's own subject is the better evidence ('presided' is no 'President')."""
    roles = tuple(r for r in q.roles if not (verb_matched and r == q.verb))
    return roles + ((q.head,) if q.head and q.kind not in ("number", "date") else ())


def named(q: Question, a: Analysis, sent: Span, similar: SimilarFn, verb_matched: bool = False) -> list[Candidate]:
    """Candidates a noun meaning an anchor names, tied to it by the parse: the name it modifies
    ('bourse Euronext'), its appositive ('the slogan "X"'), or the name it is an appositive of ('X, head of Y')."""
    words = anchors(q, verb_matched)
    if not words:
        return []
    out: list[Candidate] = []
    toks = a.tokens[sent.start:sent.end]
    for t in toks:
        if t.pos not in _WORD_POS or t.lemma.lower() in q.named:
            continue
        sims = {w: similar(w, t.lemma.lower()) for w in words}
        best = max(sims, key=lambda w: sims[w])
        sim = sims[best]
        if sim < NAME_MATCH:
            continue
        span = _modified(a, t.i, sent, q.kind == "entity") or _appositive_of(a, t.i, sent) or _apposed(a, t.i, sent)
        if span is not None and _fits(q, a, span) and not _inside_name(a, t.i, span):
            ent = entity_at(a, head_of(a, span))
            tied = min(1.0, (sim - NAME_MATCH + 0.05) / (FULL_MATCH - NAME_MATCH + 0.05))
            if best == q.verb:  # a noun of the verb ('chairman' for 'chairs') is weaker than the verb itself
                tied *= VERB_NOUN
            out.append(Candidate(span.start, span.end, 0.9, ent.label if ent is not None else "NP",
                                 head_of(a, span), tied=tied))
    return out


def _modified(a: Analysis, i: int, sent: Span, common: bool) -> Span | None:
    """'chief executive Werner Seifert': climb compound/amod arcs to the name they modify; the name is what
    follows the last word of the role phrase (``common``: a common noun too, 'disease emphysema')."""
    last, j = i, i
    for _ in range(4):
        t = a.tokens[j]
        if t.dep not in _MODIFIER or t.head <= j or t.head >= sent.end:
            break
        last, j = j, t.head
        plain = common and t.dep == "compound" and a.tokens[j].pos in ("NOUN", "X") and \
            a.tokens[j].dep not in _MODIFIER
        if a.tokens[j].pos == "PROPN" or entity_at(a, j) is not None or plain:
            lo = last + 1
            while lo < j and a.tokens[lo].pos not in ("PROPN", "NOUN", "NUM"):
                lo += 1
            return Span(lo, j + 1) if plain or _is_name(a, lo, j + 1) else None
    return None


def _appositive_of(a: Analysis, i: int, sent: Span) -> Span | None:
    """'Lynne Brindley, chief executive of the British Library': the role noun (or the noun its modifier
    hangs off) is an appositive of the name before it."""
    j = i
    while a.tokens[j].dep in _MODIFIER and a.tokens[j].head > j:
        j = a.tokens[j].head
    t = a.tokens[j]
    if t.dep != "appos" or t.head >= j or not sent.start <= t.head < sent.end:
        return None
    ent = entity_at(a, t.head)
    if ent is not None:
        return Span(ent.start, ent.end, ent.label)
    lo = t.head
    while lo > sent.start and a.tokens[lo - 1].pos == "PROPN" and a.tokens[lo - 1].dep == "compound":
        lo -= 1
    return Span(lo, t.head + 1) if a.tokens[t.head].pos == "PROPN" else None


_QUOTES = ('"', "“", "”", "'", "‘", "’")


def _apposed(a: Analysis, i: int, sent: Span) -> Span | None:
    """'the slogan "Britain is Working"', 'his show, The Contender': the appositive after the noun; a quotation
    right after it, whatever the parser made of its words."""
    if i + 2 < sent.end and a.word(i + 1) in _QUOTES:
        close = next((k for k in range(i + 2, min(i + 14, sent.end)) if a.word(k) in _QUOTES), None)
        return Span(i + 2, close) if close is not None and close > i + 2 else None
    kid = next((c for c in a.children(i) if c.i > i and c.dep == "appos"), None)
    if kid is None:
        return None
    lo, hi = subtree(a, kid.i)
    lo, hi = max(lo, i + 1), min(hi, sent.end)
    while lo < hi and a.tokens[lo].pos in ("PUNCT", "DET"):
        lo += 1
    while hi > lo and a.tokens[hi - 1].pos == "PUNCT":
        hi -= 1
    return Span(lo, hi) if 1 <= hi - lo <= 10 else None


def _inside_name(a: Analysis, i: int, span: Span) -> bool:
    """'Association of Chief Police Officers': the matched word is part of the name, it does not describe it."""
    ent = entity_at(a, i)
    return ent is not None and ent.start <= span.start and span.end <= ent.end


def _is_name(a: Analysis, lo: int, hi: int) -> bool:
    return hi > lo and any(a.tokens[k].pos == "PROPN" or entity_at(a, k) is not None for k in range(lo, hi))


def _fits(q: Question, a: Analysis, span: Span) -> bool:
    """A who-question's answer is a name of a person, organisation or group (or an unlabelled proper noun)."""
    if q.kind != "person":
        return True
    ent = entity_at(a, head_of(a, span))
    return ent.label in q.labels if ent is not None else a.tokens[head_of(a, span)].pos == "PROPN"
