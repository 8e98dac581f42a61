"""What a question asks for: its wh-word, the answer type (spaCy entity labels), head noun, verb and names."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from postqa.nlp.analysis import Analysis, Token

# the closed class of English question words (grammar, not vocabulary of any article)
WH_WORDS = ("who", "whom", "whose", "what", "which", "when", "where", "how", "why")
KIND_LABELS: dict[str, frozenset[str]] = {
    "person": frozenset({"PERSON", "ORG", "NORP"}),
    "date": frozenset({"DATE", "TIME"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    "place": frozenset({"GPE", "LOC", "FAC", "ORG"}),
}
# entity labels spaCy knows, with the words of spacy.explain(label) that a head noun may name
LABEL_WORDS: dict[str, tuple[str, ...]] = {
    "PERSON": ("people", "person"),
    "NORP": ("nationality", "group"),
    "FAC": ("building", "airport", "highway", "bridge"),
    "ORG": ("company", "agency", "institution"),
    "GPE": ("country", "city", "state"),
    "LOC": ("location", "range", "body"),
    "PRODUCT": ("object", "vehicle", "food"),
    "EVENT": ("hurricane", "battle", "war", "event"),
    "WORK_OF_ART": ("title", "book", "song"),
    "LAW": ("document", "law"),
    "LANGUAGE": ("language",),
    "DATE": ("date", "period", "year", "month", "week", "day"),  # a day is a date ('what day'); TIME is within one
    "TIME": ("time", "hour"),
    "PERCENT": ("percentage",),
    "MONEY": ("value", "unit"),
    "QUANTITY": ("measurement", "weight", "distance"),
    "CARDINAL": ("numeral", "number"),
}
_KIND_OF = {"PERSON": "person", "DATE": "date", "TIME": "date", "CARDINAL": "number", "QUANTITY": "number",
            "MONEY": "number", "PERCENT": "number", "GPE": "place", "LOC": "place", "FAC": "place"}
_CONTENT_POS = ("NOUN", "PROPN", "VERB", "ADJ", "NUM", "ADV")

ImpliedFn = Callable[[str], str | None]  # head-noun lemma -> the entity label it implies, if any


@dataclass(frozen=True)
class Question:
    """The parsed question and what its answer must be."""

    text: str
    analysis: Analysis
    wh: str  # the question word ('' when none)
    kind: str  # person, date, number, place, entity or clause
    labels: frozenset[str]  # entity labels an answer may have
    head: str | None  # lemma of the noun a which/what question asks for ("brand")
    verb: str | None  # lemma of the question's main verb ("preside")
    content: tuple[str, ...]  # lemmas of the content words, the wh-phrase aside
    named: tuple[str, ...]  # entity and proper-noun phrases the question names
    role: str = ""  # 'Who is the President of X?' -> 'President of X' (the role the answer must hold)
    subject: bool = False  # the question word is the subject ('Who presided' / 'What is pulling ...')
    roles: tuple[str, ...] = ()  # lemmas that name the answer: 'Who is the boss of X' -> boss, 'Who chairs' -> chair
    prep: str = ""  # the preposition the wh-phrase is the object of: 'On what day ...' -> on

    @property
    def words(self) -> frozenset[str]:
        a = self.analysis
        return frozenset(a.word(t.i).lower() for t in a.tokens) | frozenset(t.lemma.lower() for t in a.tokens)


def label_of_noun(lemma: str) -> str | None:
    """The entity label a noun names by spaCy's own label descriptions ('city' -> GPE, 'date' -> DATE)."""
    low = lemma.lower()
    return next((lab for lab, words in LABEL_WORDS.items() if low in words), None)


def _wh_token(a: Analysis) -> Token | None:
    return next((t for t in a.tokens if a.word(t.i).lower() in WH_WORDS), None)


def _light_noun(a: Analysis, t: Token) -> Token:
    """'kind of meeting', 'name of the label': the noun after 'of' carries the meaning."""
    for _ in range(2):
        of = next((c for c in a.children(t.i) if c.dep == "prep" and a.word(c.i).lower() == "of"), None)
        pobj = next((c for c in a.children(of.i) if c.dep == "pobj"), None) if of else None
        if pobj is None or not (t.stop or t.lemma.lower() in ("kind", "type", "sort", "name", "category", "form")):
            break
        t = pobj
    return t


def head_noun(a: Analysis, wh: Token) -> Token | None:
    """The noun a which/what question asks for: 'Which bank ...' -> bank, 'What is the name of the label' ->
    label, 'In which city' -> city."""
    if a.tokens[wh.head].pos in ("NOUN", "PROPN") and wh.head > wh.i and a.tokens[wh.head].dep != "ROOT":
        return _light_noun(a, a.tokens[wh.head])
    run = wh.i + 1
    while run < len(a.tokens) and a.tokens[run].pos in ("ADJ", "NOUN", "PROPN"):
        run += 1
    nouns = [t for t in a.tokens[wh.i + 1:run] if t.pos == "NOUN"]
    if nouns:  # "In which city did ...": the parser made "which" the object of "in"
        return _light_noun(a, nouns[-1])
    if a.tokens[wh.head].lemma == "be" or wh.dep in ("attr", "nsubj"):
        root = a.tokens[wh.head]
        other = next((c for c in a.children(root.i) if c.dep in ("nsubj", "attr") and c.i != wh.i
                      and c.pos == "NOUN"), None)
        if other is not None:
            return _light_noun(a, other)
    return None


def main_verb(a: Analysis, skip: set[int]) -> Token | None:
    verbs = [t for t in a.tokens if t.pos == "VERB" and t.i not in skip]
    root = next((t for t in verbs if t.dep == "ROOT"), None)
    return root or (verbs[0] if verbs else None)


def _kind(a: Analysis, wh: Token | None, head: Token | None, implied: ImpliedFn | None) -> tuple[str, frozenset[str]]:
    if wh is None:
        return "clause", frozenset()
    word = a.word(wh.i).lower()
    nxt = a.word(wh.i + 1).lower() if wh.i + 1 < len(a.tokens) else ""
    if word == "how" and nxt in ("many", "much"):
        return "number", KIND_LABELS["number"]
    if word == "how" and wh.i + 1 < len(a.tokens) and a.tokens[wh.i + 1].pos in ("ADJ", "ADV"):
        return "number", KIND_LABELS["number"] | KIND_LABELS["date"]  # "how long", "how far": a measure
    if word in ("who", "whom", "whose"):
        return "person", KIND_LABELS["person"]
    if word in ("when", "where"):
        kind = "date" if word == "when" else "place"
        return kind, KIND_LABELS[kind]
    if word in ("what", "which") and head is not None:
        label = label_of_noun(head.lemma) or (implied(head.lemma) if implied else None)
        if label is not None:
            kind = _KIND_OF.get(label, "entity")
            return kind, KIND_LABELS.get(kind, frozenset({label}))
        return "entity", frozenset()
    return "clause", frozenset()


def read_question(text: str, a: Analysis, implied: ImpliedFn | None = None) -> Question:
    wh = _wh_token(a)
    head = head_noun(a, wh) if wh is not None and a.word(wh.i).lower() in ("what", "which") else None
    kind, labels = _kind(a, wh, head, implied)
    wh_phrase = {wh.i} if wh is not None else set()
    if kind == "number" and wh is not None:
        wh_phrase.add(wh.i + 1)  # "how many"
    if head is not None:
        wh_phrase.add(head.i)
    verb = main_verb(a, wh_phrase)
    content = tuple(t.lemma.lower() for t in a.tokens
                    if t.pos in _CONTENT_POS and not t.stop and t.i not in wh_phrase and a.word(t.i).isalnum())
    named = tuple(dict.fromkeys(_bare(a.span_text(e)) for e in a.ents
                                if e.label not in ("DATE", "TIME", "ORDINAL", "CARDINAL")))
    if kind == "number" and wh is not None and head is None:
        head = _counted(a, wh)
    return Question(text=text, analysis=a, wh=a.word(wh.i).lower() if wh else "", kind=kind, labels=labels,
                    head=head.lemma.lower() if head is not None else None,
                    verb=verb.lemma.lower() if verb is not None else None, content=content, named=named,
                    role=asked_role(a, wh) if kind == "person" and wh is not None else "",
                    subject=wh is not None and (wh.dep in ("nsubj", "nsubjpass") or
                                                a.tokens[wh.head].dep in ("nsubj", "nsubjpass")),
                    roles=naming_words(a, wh, kind, verb), prep=wh_preposition(a, wh))


def naming_words(a: Analysis, wh: Token | None, kind: str, verb: Token | None) -> tuple[str, ...]:
    """Words a sentence may name the answer by: the role a who-question asks ('Who is the boss of BP?' ->
    boss) and the doer of its verb ('Who chairs X?' -> chair ~ 'chairman Y')."""
    if wh is None or kind != "person":
        return ()
    out = []
    be = a.tokens[wh.head]
    if be.lemma == "be":
        attr = next((c for c in a.children(be.i) if c.dep in ("attr", "nsubj") and c.i != wh.i
                     and c.pos in ("NOUN", "PROPN")), None)
        if attr is not None:
            out.append(attr.lemma.lower())
    elif verb is not None and not verb.stop and wh.dep in ("nsubj", "nsubjpass"):
        out.append(verb.lemma.lower())
    return tuple(out)


def wh_preposition(a: Analysis, wh: Token | None) -> str:
    """'On what day ...', 'For how many years ...', 'In which city ...': the preposition right before the
    wh-phrase (the answer usually stands after the same preposition)."""
    if wh is None or wh.i == 0 or a.tokens[wh.i - 1].pos != "ADP":
        return ""
    return a.word(wh.i - 1).lower()


def _counted(a: Analysis, wh: Token) -> Token | None:
    """'How many service packages ...' -> packages (the noun 'many' counts)."""
    if wh.i + 1 >= len(a.tokens):
        return None
    many = a.tokens[wh.i + 1]
    target = a.tokens[many.head]
    return target if target.pos in ("NOUN", "PROPN") and target.i != many.i else None


def asked_role(a: Analysis, wh: Token) -> str:
    """'Who is the Secretary General of Xinhua News Agency?' -> 'Secretary General of Xinhua News Agency'."""
    be = a.tokens[wh.head]
    if be.lemma != "be":
        return ""
    attr = next((c for c in a.children(be.i) if c.dep in ("attr", "nsubj") and c.i != wh.i
                 and c.pos in ("NOUN", "PROPN")), None)
    if attr is None:
        return ""
    from postqa.nlp.relations import subtree

    lo, hi = subtree(a, attr.i)
    for c in a.children(attr.i):  # "the President of X at the meeting": the role ends before other phrases
        if c.dep == "prep" and c.i > attr.i and a.word(c.i).lower() != "of":
            hi = min(hi, c.i)
    while lo < hi and (a.tokens[lo].pos == "DET" or a.word(lo).lower() in ("current", "present")):
        lo += 1
    while hi > lo and a.tokens[hi - 1].pos == "PUNCT":
        hi -= 1
    words = [a.word(i) for i in range(lo, hi)]
    # "X's Head" -> "Head of X" is left to the people index; here the role must start with a capital
    return " ".join(words) if words and words[0][:1].isupper() else ""


def _bare(name: str) -> str:
    """'Zhang Yongping's' -> 'Zhang Yongping'; 'the Heilongjiang Postal Branch' -> 'Heilongjiang Postal Branch'."""
    for suffix in ("'s", "’s"):
        name = name.removesuffix(suffix)
    return name.removeprefix("the ").removeprefix("The ")
