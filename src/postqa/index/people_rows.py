"""What one article contributes to the people index (its role mentions and the names its sentences hold),
and how mentions become a Person or a role's holders: shared by the in-memory and the stored index."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

from postqa.core.types import Chunk
from postqa.nlp.analysis import Analysis, Span
from postqa.nlp.relations import people_in, proper_runs, role_of, shared_role


def _norm(text: str) -> str:
    """Case, apostrophe and space insensitive key."""
    t = text.replace("’", "'").replace("‘", "'").lower()
    t = re.sub(r"[^\w' ]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def name_key(name: str) -> str:
    return _norm(name).replace("-", " ")


def role_key(role: str) -> str:
    return re.sub(r"^(?:the|a|an) ", "", _norm(role))


def title_of(role: str) -> str:
    """'the President of China Post Group' -> 'president' (what ``has_title`` and ``holders`` match on)."""
    return role_key(role).partition(" of ")[0]


@dataclass(frozen=True)
class Mention:
    """One person named in one sentence, with the role given there ('' when the sentence gives none)."""

    name: str
    role: str
    article_id: str
    title: str
    published: date | None
    sentence: str
    span: tuple[int, int]  # name (and role) inside ``sentence``
    sentence_start: int = 0  # offset of the sentence in Article.text
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        d["span"] = list(self.span)
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> Mention:
        return Mention(name=d["name"], role=d["role"], article_id=d["article_id"], title=d.get("title", ""),
                       published=date.fromisoformat(d["published"]) if d.get("published") else None,
                       sentence=d["sentence"], span=(int(d["span"][0]), int(d["span"][1])),
                       sentence_start=int(d.get("sentence_start", 0)), source=d.get("source", ""))


# ------------------------------------------------------------------------------------------ one article

_Sent = tuple[str, int, Analysis, Span]  # (text, offset in the article, analysis, sentence span)
Candidate = tuple[str, int, int, int, int]  # (name key, first token, end token, start, end in the sentence)


@dataclass(frozen=True)
class RoleRow:
    """A person named with a role in one sentence (name and role inside ``sentence`` at ``span``)."""

    name: str
    role: str
    sentence: str
    span: tuple[int, int]
    sentence_start: int


@dataclass(frozen=True)
class ArticlePeople:
    """What one article contributes, a function of its text alone: its role mentions in order, and per
    sentence the entities and proper-noun runs (by name key) that name a person once anyone anywhere is
    named with a role under that key. ``sents``: (offset, text, candidates), sentences with a candidate."""

    article_id: str
    title: str
    published: date | None
    source: str
    roles: tuple[RoleRow, ...]
    sents: tuple[tuple[int, str, tuple[Candidate, ...]], ...]

    def keys(self) -> set[str]:
        """Every name key a sentence of the article holds (the people it could mention)."""
        return {c[0] for _, _, cands in self.sents for c in cands}


def sentence_roles(a: Analysis, sent: Span) -> list[tuple[str, str, int, int]]:
    """(name, role, start, end) of the people a sentence names with a role; offsets into the sentence."""
    people = people_in(a, sent)
    taken = {i for p in people for i in range(p.start, p.end)}
    base = a.tokens[sent.start].start
    out = []
    for p in people:
        role = role_of(a, p, taken) or shared_role(a, p, people, taken)
        if role is None:
            continue
        lo, hi = a.char_span(Span(min(p.start, role.start), max(p.end, role.end)))
        if role.start > p.end:  # "A and B, Roles": the span is the name and the role
            lo = a.tokens[p.start].start
        out.append((a.span_text(p), a.span_text(role), lo - base, hi - base))
    return out


def _candidates(a: Analysis, sent: Span) -> tuple[Candidate, ...]:
    """The sentence's entities then its proper-noun runs, in order, keyed by name (tokens from the sentence)."""
    base = a.tokens[sent.start].start
    out = []
    for span in list(a.within(a.ents, sent)) + proper_runs(a, sent):
        lo, hi = a.char_span(span)
        out.append((name_key(a.span_text(span)), span.start - sent.start, span.end - sent.start, lo - base,
                    hi - base))
    return tuple(out)


def summarize(sents: Sequence[_Sent], article_id: str, title: str, published: date | None,
              source: str) -> ArticlePeople:
    roles = [RoleRow(name, role, text, (lo, hi), start) for text, start, a, sent in sents
             for name, role, lo, hi in sentence_roles(a, sent)]
    cands = [(start, text, c) for text, start, a, sent in sents if (c := _candidates(a, sent))]
    return ArticlePeople(article_id, title, published, source, tuple(roles), tuple(cands))


def sentences_of(a: Analysis, base: int) -> Iterable[_Sent]:
    for sent in a.sents:
        lo, hi = a.char_span(sent)
        text = a.text[lo:hi]
        if text.strip():
            yield text, base + lo, a, sent


def article_people(chunks: Sequence[Chunk], analyses: Sequence[Analysis]) -> list[ArticlePeople]:
    """Each article's contribution from its stored chunks (each article's chunks in order; a sentence two
    overlapping chunks share is taken from the first), articles sorted by id."""
    per: dict[str, tuple[Chunk, dict[int, _Sent]]] = {}
    for c, an in sorted(zip(chunks, analyses, strict=True), key=lambda ca: (ca[0].article_id, ca[0].n)):
        entry = per.setdefault(c.article_id, (c, {}))
        for sent in sentences_of(an, c.start):
            entry[1].setdefault(sent[1], sent)
    return [summarize([d[s] for s in sorted(d)], aid, c.title, c.published, c.source)
            for aid, (c, d) in sorted(per.items())]


def mentions_of_article(art: ArticlePeople, known: Mapping[str, str]) -> list[Mention]:
    """The article's mentions, given ``known`` (name key -> name) of people named with a role anywhere: its
    role mentions, then each sentence's known names that the sentence does not already give a role."""
    aid, title, pub, src = art.article_id, art.title, art.published, art.source
    out = [Mention(r.name, r.role, aid, title, pub, r.sentence, r.span, r.sentence_start, src) for r in art.roles]
    names = dict(known)
    with_role: set[tuple[str, int]] = set()
    for r in art.roles:
        names.setdefault(name_key(r.name), r.name)
        with_role.add((name_key(r.name), r.sentence_start))
    if not names:
        return out
    for start, text, cands in art.sents:
        seen: set[int] = set()
        found: list[tuple[str, tuple[int, int]]] = []
        for key, t0, t1, lo, hi in cands:
            if t0 in seen or key not in names:
                continue
            found.append((key, (lo, hi)))
            seen.update(range(t0, t1))
        for key, span in found:
            if (key, start) in with_role:
                continue
            with_role.add((key, start))
            out.append(Mention(names[key], "", aid, title, pub, text, span, start, src))
    return out


# ------------------------------------------------------------------------------------------ queries

@dataclass(frozen=True)
class RoleEntry:
    """One role of a person: as the newest article spells it, the articles giving it (newest first) and their
    dates; ``total`` counts all of them (more than listed when the person was asked with ``max_articles``)."""

    role: str
    dates: list[date | None]
    article_ids: list[str]
    total: int = 0


@dataclass
class Person:
    """Everything the index knows of one person, newest first."""

    name: str
    roles: list[RoleEntry] = field(default_factory=list)
    articles: list[dict[str, Any]] = field(default_factory=list)  # {id,title,date,role,sentence,span}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "roles": [{"role": r.role, "dates": [d.isoformat() if d else None for d in r.dates],
                       "articles": r.article_ids} for r in self.roles],
            "articles": [{**a, "date": a["date"].isoformat() if a["date"] else None} for a in self.articles],
        }


def dkey(d: date | None) -> date:
    return d or date.min


def _role_entries(ms: Sequence[Mention]) -> list[RoleEntry]:
    roles: dict[str, list[Mention]] = {}
    for m in ms:
        if m.role:
            roles.setdefault(role_key(m.role), []).append(m)
    entries = []
    for group in roles.values():
        group.sort(key=lambda m: (dkey(m.published), m.article_id), reverse=True)
        dates: list[date | None] = []
        arts: list[str] = []
        for m in group:
            if m.article_id not in arts:
                arts.append(m.article_id)
                dates.append(m.published)
        entries.append(RoleEntry(group[0].role, dates, arts, len(arts)))
    entries.sort(key=lambda r: (dkey(r.dates[0]), len(r.dates)), reverse=True)
    return entries


def person_of(display: str, ms: Sequence[Mention]) -> Person:
    """A Person from all of one name's mentions (in index order)."""
    articles: dict[str, Mention] = {}
    for m in sorted(ms, key=lambda m: (dkey(m.published), bool(m.role)), reverse=True):
        best = articles.get(m.article_id)
        if best is None or (m.role and not best.role):
            articles[m.article_id] = m
    ordered = sorted(articles.values(), key=lambda m: (dkey(m.published), m.article_id), reverse=True)
    return Person(display, _role_entries(ms), [
        {"id": m.article_id, "title": m.title, "date": m.published, "role": m.role,
         "sentence": m.sentence, "span": list(m.span), "source": m.source,
         "sentence_start": m.sentence_start} for m in ordered])


def newest(person: Person, n: int) -> Person:
    """The person with only their newest ``n`` articles, and per role its newest ``n`` (``total`` keeps the
    count): what a who-answer cites and says, bounded however often someone is named."""
    roles = [replace(r, dates=r.dates[:n], article_ids=r.article_ids[:n]) for r in person.roles]
    return Person(person.name, roles, person.articles[:n])


def role_matches(rkey: str, role: str) -> bool:
    """Whether a role mention of role key ``rkey`` answers ``role``: the same title words, and the organisation's
    words agree (one contains the other; no organisation asked: any)."""
    title_q, _, org_q = role_key(role).partition(" of ")
    title_m, _, org_m = rkey.partition(" of ")
    if title_m != title_q:
        return False
    org_words = set(org_q.split()) - {"the"}
    mw = set(org_m.split()) - {"the"}
    return not org_words or org_words <= mw or bool(mw) and mw <= org_words


def holders_among(mentions: Iterable[Mention], role: str) -> list[Mention]:
    """Role mentions whose role matches ``role`` (``role_matches``), newest first."""
    out = [m for m in mentions if m.role and role_matches(role_key(m.role), role)]
    return sorted(out, key=lambda m: (dkey(m.published), m.article_id), reverse=True)


def holder_names(found: Iterable[Mention]) -> dict[str, date]:
    """Each name (as spelled) among these role mentions, with its oldest date (``date.min``: undated)."""
    out: dict[str, date] = {}
    for m in found:
        out[m.name] = min(out.get(m.name, date.max), dkey(m.published))
    return out


def question_grams(text: str) -> list[str]:
    """Every run of two or more words of ``text``'s name key (the aliases a question can contain)."""
    words = name_key(text).split()
    return [" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 2, len(words) + 1)]
