"""The question's focus — the thing it asks about — and whether an answer is said of it.

"How old is Gerry Spindler?" asks about Gerry Spindler: a number in a sentence about his company is not his
age. The focus is the question's nouns and names outside the wh-phrase ("Spindler", "Gerry"); an answer is
said of it when the answer's sentence has a focus word (by lemma, or by the same word: "Mr Spindler") and
the answer's head is near it in the parse tree. These are features of the answerability model
(answerability.py), not rules: a paraphrase may name the focus with other words."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from postqa.answering.question import WH_WORDS, Question
from postqa.nlp.analysis import Analysis, Span, Token

NEAR = 3  # parse-tree steps within which a word of the asked-for type is said of a focus word
_FOCUS_POS = ("NOUN", "PROPN")
_DEPTH = 40  # a parse path longer than this is a malformed tree


def focus(q: Question) -> list[Token]:
    """The question's focus words: its nouns and proper nouns, the wh-phrase's own noun aside ('How many
    cars will Hyundai's plant produce?' -> Hyundai, plant)."""
    a = q.analysis
    return [t for t in a.tokens if t.pos in _FOCUS_POS and not t.stop and a.word(t.i).isalnum()
            and a.word(t.i).lower() not in WH_WORDS and t.lemma.lower() != q.head]


def focus_words(q: Question, words: list[Token]) -> list[str]:
    return [q.analysis.word(t.i) for t in words]


def matches(q: Question, words: list[Token], a: Analysis, sent: Span) -> list[list[int]]:
    """For each focus word, the tokens of the sentence that name it (same lemma or same word)."""
    toks = a.tokens[sent.start:sent.end]
    out = []
    for w in words:
        lemma, word = w.lemma.lower(), q.analysis.word(w.i).lower()
        out.append([t.i for t in toks if t.lemma.lower() == lemma or a.word(t.i).lower() == word])
    return out


def _ancestors(a: Analysis, i: int) -> list[int]:
    path = [i]
    while len(path) < _DEPTH:
        h = a.tokens[path[-1]].head
        if h == path[-1] or h in path:
            break
        path.append(h)
    return path


def tree_distance(a: Analysis, i: int, j: int) -> int:
    """Edges between two tokens of one sentence in the dependency tree (a large number across sentences)."""
    up_i, up_j = _ancestors(a, i), _ancestors(a, j)
    depth_j = {t: d for d, t in enumerate(up_j)}
    return next((d + depth_j[t] for d, t in enumerate(up_i) if t in depth_j), 2 * _DEPTH)


def span_head(a: Analysis, sent: Span, sent_start: int, chars: tuple[int, int]) -> int | None:
    """The token heading the span ``chars`` (offsets in the sentence's text, which starts at ``sent_start`` of
    the analysed text): the span's token whose head lies outside it."""
    lo, hi = sent_start + chars[0], sent_start + chars[1]
    inside = [t for t in a.tokens[sent.start:sent.end] if t.start >= lo and t.end <= hi]
    idx = {t.i for t in inside}
    return next((t.i for t in inside if t.head not in idx or t.head == t.i), None)


def _typed(q: Question, a: Analysis, t: Token, labelled: dict[int, str]) -> bool:
    if labelled.get(t.i) in q.labels:
        return True
    return q.kind == "number" and t.pos == "NUM"


def typed_near(q: Question, words: list[Token], a: Analysis, sent: Span) -> bool:
    """Does the sentence hold a word of the asked-for type (an entity of the question's labels; for
    how-many/how-much any number) within NEAR parse steps of a focus word? Without focus words: any such word."""
    labelled = {i: e.label for e in a.within(a.ents, sent) for i in range(e.start, e.end)}
    typed = [t.i for t in a.tokens[sent.start:sent.end] if _typed(q, a, t, labelled)]
    if not typed:
        return False
    if not words:
        return True
    named = {i for hit in matches(q, words, a, sent) for i in hit}
    return any(tree_distance(a, i, j) <= NEAR for i in typed for j in named if i != j)


def asked_words(q: Question) -> set[str]:
    """Lemmas of the words saying what kind of thing is asked: the wh-phrase's noun ('how many *stores*'), the
    adjective of 'how old / how long', and the main verb unless it is a light one ('be', 'have', 'do')."""
    a = q.analysis
    out = {q.head} if q.head else set()
    for t in a.tokens[:-1]:
        if a.word(t.i).lower() == "how" and a.tokens[t.i + 1].pos in ("ADJ", "ADV") and \
                a.word(t.i + 1).lower() not in ("many", "much"):
            out.add(a.tokens[t.i + 1].lemma.lower())
    if q.verb and not any(t.lemma.lower() == q.verb and t.stop for t in a.tokens):
        out.add(q.verb)
    return out


def asked_tie(q: Question, a: Analysis, sent: Span, head: int | None) -> float:
    """1 / (1 + parse steps) from the span's head to the nearest word of the sentence that says what is asked
    (asked_words; 1.0 when the span holds it: '1,200 Tutsis' for 'how many Tutsis'); 0 when none is there."""
    if head is None:
        return 0.0
    wanted = asked_words(q)
    near = [tree_distance(a, head, t.i) for t in a.tokens[sent.start:sent.end]
            if t.lemma.lower() in wanted or a.word(t.i).lower() in wanted]
    return 1.0 / (1.0 + min(near)) if near else 0.0


def other_unit(q: Question, a: Analysis, sent: Span, head: int | None) -> float:
    """1: a how-many/how-much answer counts or measures a noun the question never says ('940,000 users' for
    'how much does a call cost', '30 gigabytes' for a price); 0 otherwise."""
    if head is None or q.kind != "number":
        return 0.0
    t = a.tokens[head]
    nouns = [t] if t.pos == "NOUN" else []
    if t.dep in ("nummod", "quantmod") and a.tokens[t.head].pos == "NOUN":
        nouns.append(a.tokens[t.head])
    said = {x.lemma.lower() for x in q.analysis.tokens} | {q.analysis.word(x.i).lower() for x in q.analysis.tokens}
    return 1.0 if any(n.lemma.lower() not in said and a.word(n.i).lower() not in said for n in nouns) else 0.0


# --- the question's relation: what it asks *about* its focus ('chief executive', 'directed', 'cost') ---------

MATCH = 0.5  # cosine from which a sentence word says the question's relation word ('boss' ~ 'chief')
_RELATION_POS = ("VERB", "NOUN", "PROPN", "ADJ")
SimilarMatrix = Callable[[Sequence[str], Sequence[str]], np.ndarray]


def relation_words(q: Question) -> list[str]:
    """Lemmas of the relation the question asks about its focus: the words saying what is asked (asked_words),
    the role a who-question names ('Who is the chief executive of X' -> executive) and the modifiers of those
    nouns ('chief', 'unemployment rate'). Light verbs and the focus's own names are not relations."""
    a = q.analysis
    out = set(asked_words(q)) | set(q.roles)
    for t in a.tokens:
        if t.lemma.lower() in out and t.pos in ("NOUN", "PROPN"):
            out.update(c.lemma.lower() for c in a.children(t.i)
                       if c.dep in ("compound", "amod") and c.pos in ("NOUN", "ADJ") and not c.stop)
    named = {w.lower() for n in q.named for w in n.split()}
    return sorted(w for w in out if w.isalpha() and w not in named)


def _lemma_matrix(left: Sequence[str], right: Sequence[str]) -> np.ndarray:
    return np.array([[1.0 if x == y else 0.0 for y in right] for x in left], dtype=float).reshape(
        len(left), len(right))


def _sims(rel: Sequence[str], lemmas: Sequence[str], similar: SimilarMatrix | None) -> np.ndarray:
    """len(rel) x len(lemmas): 1.0 for the same lemma, else the model's cosine (0 without a model)."""
    same = _lemma_matrix(rel, lemmas)
    if similar is None or not rel or not lemmas:
        return same
    return np.maximum(np.asarray(similar(rel, lemmas), dtype=float), same)


def sentence_words(a: Analysis, sent: Span) -> list[Token]:
    """The sentence's content words that may say a relation (verbs, nouns, names, adjectives)."""
    return [t for t in a.tokens[sent.start:sent.end] if t.pos in _RELATION_POS and a.word(t.i).isalpha()]


def _best_per_word(rel: Sequence[str], lemmas: Sequence[str], similar: SimilarMatrix | None) -> float | np.ndarray:
    """Each relation word's best match among ``lemmas``, clipped to [0, 1]; 1.0 when there is no relation word
    (nothing to miss), 0.0 when there are no lemmas to say it."""
    if not rel:
        return 1.0
    if not lemmas:
        return 0.0
    return np.clip(_sims(rel, lemmas, similar).max(axis=1), 0.0, 1.0)


def relation_cover(rel: Sequence[str], lemmas: Sequence[str], similar: SimilarMatrix | None) -> float:
    """Mean over the relation words of their best match among ``lemmas`` (1.0 the same lemma, else the model's
    cosine, 0 without a model); 1.0 when the question names no relation (nothing to miss)."""
    best = _best_per_word(rel, lemmas, similar)
    return best if isinstance(best, float) else float(best.mean())


def relation_weakest(rel: Sequence[str], lemmas: Sequence[str], similar: SimilarMatrix | None) -> float:
    """The relation word the sentence says worst: its best match among ``lemmas`` (1.0 without relation words).
    'How many DVD copies of Ray were sold?' over a sentence of DVD sales in dollars: 'copy' is not said."""
    best = _best_per_word(rel, lemmas, similar)
    return best if isinstance(best, float) else float(best.min())


def relation_tie(rel: Sequence[str], a: Analysis, sent: Span, head: int | None, similar: SimilarMatrix | None) -> float:
    """1 / (1 + parse steps) from the span's head to the nearest word of its sentence that says a relation word
    (same lemma or cosine >= MATCH); 0 without a span or such a word."""
    if head is None or not rel:
        return 0.0
    words = sentence_words(a, sent)
    if not words:
        return 0.0
    best = _sims(rel, [t.lemma.lower() for t in words], similar).max(axis=0)
    near = [tree_distance(a, head, t.i) for t, b in zip(words, best, strict=True) if b >= MATCH]
    return 1.0 / (1.0 + min(near)) if near else 0.0


def type_tie(q: Question, rel: Sequence[str], a: Analysis, sent: Span, similar: SimilarMatrix | None) -> float:
    """1 / (1 + parse steps) from a word of the asked-for type (an entity of the question's labels; for
    how-many/how-much any number) to the nearest word saying the question's relation (same lemma or cosine
    >= MATCH); 0 when the sentence has no word of the type or none of the relation. 'How many spectators
    watched the match?' over 'England were beaten 19-13': a number, but nothing about spectators near it."""
    labelled = {i: e.label for e in a.within(a.ents, sent) for i in range(e.start, e.end)}
    typed = [t.i for t in a.tokens[sent.start:sent.end] if _typed(q, a, t, labelled)]
    if not typed:
        return 0.0
    if not rel:  # nothing asked beyond the type: the type's presence is all there is to check
        return 1.0
    words = sentence_words(a, sent)
    lemmas = [t.lemma.lower() for t in words]
    m = _sims(rel, lemmas, similar)
    said = [t.i for t, best in zip(words, m.max(axis=0), strict=True) if best >= MATCH]
    near = [tree_distance(a, i, j) for i in typed for j in said] if words else []
    return 1.0 / (1.0 + min(near)) if near else 0.0
