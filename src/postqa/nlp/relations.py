"""Relations read off an Analysis: token subtrees, people and their appositive or compound roles."""

from __future__ import annotations

from postqa.nlp.analysis import Analysis, Span

PERSON = "PERSON"
_NAME_LABELS = {"PERSON", "GPE", "NORP", "LOC", ""}  # labels the small model gives names it is unsure of


def subtree(a: Analysis, i: int) -> tuple[int, int]:
    """[first, last + 1) token range of token ``i``'s subtree (projective parses: contiguous)."""
    lo = hi = i
    stack = [i]
    kids: dict[int, list[int]] = {}
    for t in a.tokens:
        if t.head != t.i:
            kids.setdefault(t.head, []).append(t.i)
    while stack:
        j = stack.pop()
        lo, hi = min(lo, j), max(hi, j)
        stack.extend(kids.get(j, ()))
    return lo, hi + 1


def head_of(a: Analysis, span: Span) -> int:
    """The token of ``span`` whose head lies outside it."""
    for t in a.tokens[span.start:span.end]:
        if not span.start <= t.head < span.end or t.head == t.i:
            return t.i
    return span.end - 1


def entity_at(a: Analysis, i: int) -> Span | None:
    return next((e for e in a.ents if e.start <= i < e.end), None)


def capitalised(a: Analysis, i: int) -> bool:
    w = a.word(i)
    return w[:1].isupper()


def _proper_run(a: Analysis, head: int) -> Span:
    """The head token with the proper-noun compounds right before it ("Gong Xixiang")."""
    start = head
    while start - 1 >= 0 and a.tokens[start - 1].dep == "compound" and a.tokens[start - 1].pos == "PROPN" \
            and a.tokens[start - 1].head in range(start, head + 1):
        start -= 1
    return Span(start, head + 1, PERSON)


def _appositive(a: Analysis, head: int) -> int | None:
    """A capitalised appositive after the name; a comma-led 'conj' that is no entity is one the parser
    mislabelled ("Wang Fang, Vice Presidents of X")."""
    for t in a.children(head):
        if t.i <= head or not capitalised(a, t.i):
            continue
        comma = "," in a.text[a.tokens[head].end:a.tokens[t.i].start]
        if t.dep == "appos" or (t.dep == "conj" and entity_at(a, t.i) is None and comma):
            return t.i
    return None


def people_in(a: Analysis, sent: Span) -> list[Span]:
    """Names of people in a sentence: PERSON entities of two or more words, and proper-noun names that carry
    a capitalised appositive ("Gong Xixiang, Secretary General of ..."), which the small model sometimes
    labels as a place."""
    out = [e for e in a.within(a.ents, sent) if e.label == PERSON and 2 <= e.end - e.start <= 4]
    for t in a.tokens[sent.start:sent.end]:
        if t.pos != "PROPN" or t.dep == "compound" or any(s.start <= t.i < s.end for s in out):
            continue
        ent = entity_at(a, t.i)
        if ent is not None and ent.label not in _NAME_LABELS:
            continue
        run = _proper_run(a, t.i)
        if 2 <= run.end - run.start <= 3 and _appositive(a, t.i) is not None:
            out.append(run)
    return sorted(out, key=lambda s: s.start)


def _trim(a: Analysis, lo: int, hi: int, stop: set[int]) -> tuple[int, int]:
    """Cut a role before another person's name, a clause or closing punctuation."""
    for j in range(lo, hi):
        t = a.tokens[j]
        if j in stop or t.pos in ("VERB", "AUX") or (t.pos == "PUNCT" and j > lo) or \
                (t.pos == "CCONJ" and j + 1 < hi and (j + 1) in stop):
            hi = j
            break
    while hi > lo and a.tokens[hi - 1].pos in ("PUNCT", "CCONJ", "ADP", "DET"):
        hi -= 1
    return lo, hi


def role_of(a: Analysis, name: Span, taken: set[int]) -> Span | None:
    """The role a sentence gives a person: the appositive after the name ("Kang Ning, Vice President of China
    Post Group") or capitalised compounds before it ("President Xi Jinping", "Deputy General Manager of China
    Post Group Chen Hao")."""
    head = head_of(a, name)
    app = _appositive(a, head)
    if app is not None:
        lo, hi = _trim(a, *subtree(a, app), taken)
        if hi > lo:
            return Span(lo, hi)
    lo = name.start
    while lo - 1 >= 0 and (lo - 1) not in taken and _modifies(a, lo - 1, name) and \
            (capitalised(a, lo - 1) or a.tokens[lo - 1].pos in ("ADP", "DET", "PART")):
        lo -= 1
    while lo < name.start and not capitalised(a, lo):
        lo += 1
    return Span(lo, name.start) if lo < name.start else None


def shared_role(a: Analysis, name: Span, people: list[Span], taken: set[int]) -> Span | None:
    """'Li Wei and Wang Fang, Vice Presidents of X': the role after the last of coordinated names."""
    head = head_of(a, name)
    for other in people:
        oh = head_of(a, other)
        if other.start > name.start and a.tokens[oh].dep == "conj" and a.tokens[oh].head == head:
            kid = next((t.i for t in a.children(oh) if t.dep in ("appos", "conj") and t.i > oh
                        and capitalised(a, t.i) and t.i not in taken and entity_at(a, t.i) is None), None)
            if kid is not None:
                lo, hi = _trim(a, *subtree(a, kid), taken)
                return Span(lo, hi) if hi > lo else None
    return None


def _modifies(a: Analysis, i: int, name: Span) -> bool:
    """Whether token ``i`` hangs off the name through modifier arcs ("Deputy General Manager of X Chen Hao")."""
    for _ in range(8):
        t = a.tokens[i]
        if t.head == i or t.dep not in ("compound", "nmod", "pobj", "prep", "amod", "det", "poss", "case"):
            return False
        i = t.head
        if name.start <= i < name.end:
            return True
    return False


def proper_runs(a: Analysis, sent: Span) -> list[Span]:
    """Maximal runs of proper nouns in a sentence ("Kang Ning", "China Post Group")."""
    out: list[Span] = []
    i = sent.start
    while i < sent.end:
        if a.tokens[i].pos != "PROPN":
            i += 1
            continue
        j = i
        while j < sent.end and a.tokens[j].pos == "PROPN":
            j += 1
        out.append(Span(i, j))
        for k in range(i + 1, j - 1):  # a name inside a longer run ("Chairman Liu Aili")
            out.append(Span(k, j))
        i = j
    return out
