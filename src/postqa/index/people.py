"""People and their roles across articles: extracted from the text at ingest, saved beside the store."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from postqa.core.atomic import atomic_write_text
from postqa.core.types import Answer, Article, Chunk, Citation, Hit
from postqa.index.refresh import FollowFingerprint
from postqa.nlp.analysis import Analysis, Span
from postqa.nlp.pipeline import shared_analyser
from postqa.nlp.relations import people_in, proper_runs, role_of, shared_role

FORMAT_VERSION = 2  # 2: people read off the spaCy parse


def _norm(text: str) -> str:
    """Case, apostrophe and space insensitive key."""
    t = text.replace("’", "'").replace("‘", "'").lower()
    t = re.sub(r"[^\w' ]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def name_key(name: str) -> str:
    return _norm(name).replace("-", " ")


def role_key(role: str) -> str:
    return re.sub(r"^(?:the|a|an) ", "", _norm(role))


# ------------------------------------------------------------------------------------------ mentions

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


AnalyseFn = Callable[[Sequence[str]], list[Analysis]]


def _analyse(texts: Sequence[str], analyse: AnalyseFn | None) -> list[Analysis]:
    return (analyse or shared_analyser().analyse_many)(list(texts))


def _sentence_mentions(a: Analysis, sent: Span) -> list[tuple[str, str, int, int]]:
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


def role_mentions_in(sentence: str, analyse: AnalyseFn | None = None) -> list[tuple[str, str, int, int]]:
    """(name, role, start, end) for every 'Name, Role of Org', 'A and B, Roles', 'Role Name' in a sentence,
    read off spaCy's entities and parse (appositive and compound arcs)."""
    a = _analyse([sentence], analyse)[0]
    return [m for sent in a.sents for m in _sentence_mentions(a, sent)]


def _sentences(a: Analysis, base: int) -> Iterable[tuple[str, int, Analysis, Span]]:
    for sent in a.sents:
        lo, hi = a.char_span(sent)
        text = a.text[lo:hi]
        if text.strip():
            yield text, base + lo, a, sent


def extract_people(article: Article, analyse: AnalyseFn | None = None) -> list[Mention]:
    """Role mentions in an article, plus the article's other sentences that name those people."""
    sents = list(_sentences(_analyse([article.text], analyse)[0], 0))
    return _extract(sents, article.id, article.title, article.published, article.source)


_Sent = tuple[str, int, Analysis, Span]


def _extract(sents: Sequence[_Sent], article_id: str, title: str, published: date | None,
             source: str, known: Iterable[str] | dict[str, str] = ()) -> list[Mention]:
    out: list[Mention] = []
    names: dict[str, str] = dict(known) if isinstance(known, dict) else {name_key(n): n for n in known}
    with_role: set[tuple[str, int]] = set()
    for text, start, a, sent in sents:
        for name, role, lo, hi in _sentence_mentions(a, sent):
            out.append(Mention(name, role, article_id, title, published, text, (lo, hi), start, source))
            names.setdefault(name_key(name), name)
            with_role.add((name_key(name), start))
    if names:
        for text, start, a, sent in sents:
            for key, span in _known_names_in(a, sent, names):
                if (key, start) in with_role:
                    continue
                with_role.add((key, start))
                out.append(Mention(names[key], "", article_id, title, published, text, span, start, source))
    return out


def _known_names_in(a: Analysis, sent: Span, names: dict[str, str]) -> list[tuple[str, tuple[int, int]]]:
    """Known names among a sentence's entities and proper-noun runs (looked up by key: linear in the text,
    whatever the number of names)."""
    base = a.tokens[sent.start].start
    found: list[tuple[str, tuple[int, int]]] = []
    seen: set[int] = set()
    spans = list(a.within(a.ents, sent)) + proper_runs(a, sent)
    for span in spans:
        if span.start in seen:
            continue
        key = name_key(a.span_text(span))
        if key in names:
            lo, hi = a.char_span(span)
            found.append((key, (lo - base, hi - base)))
            seen.update(range(span.start, span.end))
    return found


# ------------------------------------------------------------------------------------------ the index

@dataclass(frozen=True)
class RoleEntry:
    role: str
    dates: list[date | None]
    article_ids: list[str]


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


def _dkey(d: date | None) -> date:
    return d or date.min


class ChunkSource(Protocol):
    def all_chunks(self) -> Iterable[Chunk]: ...


class PeopleIndex:
    """name -> mentions, built from articles' text; saved as JSON with the index's content fingerprint."""

    def __init__(self, mentions: Sequence[Mention], fingerprint: str = "") -> None:
        self.mentions = list(mentions)
        self.fingerprint = fingerprint
        self.by_name: dict[str, list[Mention]] = {}
        self.display: dict[str, str] = {}
        for m in self.mentions:
            key = name_key(m.name)
            self.by_name.setdefault(key, []).append(m)
            self.display.setdefault(key, m.name)
        self._alias: dict[str, str] = {}
        surnames: dict[str, set[str]] = {}
        for key in self.by_name:
            self._alias[key] = key
            words = key.split()
            self._alias.setdefault(" ".join(reversed(words)), key)  # "Jinliang Zhang" (given name first)
            self._alias.setdefault("".join(words), key)  # "Kangning"
            surnames.setdefault(words[0], set()).add(key)
        self._surname = {s: next(iter(k)) for s, k in surnames.items() if len(k) == 1}
        self._titles = {role_key(m.role).partition(" of ")[0] for m in self.mentions if m.role}

    def __len__(self) -> int:
        return len(self.by_name)

    # -------------------------------------------------------------------------------- build / store

    @staticmethod
    def from_articles(articles: Iterable[Article], fingerprint: str = "",
                      analyse: AnalyseFn | None = None) -> PeopleIndex:
        arts = list(articles)
        analyses = _analyse([a.text for a in arts], analyse)
        return PeopleIndex._build([(a.id, a.title, a.published, a.source, list(_sentences(an, 0)))
                                   for a, an in zip(arts, analyses, strict=True)], fingerprint)

    @staticmethod
    def from_chunks(chunks: Iterable[Chunk], fingerprint: str = "", analyse: AnalyseFn | None = None) -> PeopleIndex:
        """Sentences of every stored chunk, deduplicated by their offset in the article (chunks overlap)."""
        chunk_list = list(chunks)
        analyses = _analyse([c.text for c in chunk_list], analyse)
        per: dict[str, tuple[Chunk, dict[int, _Sent]]] = {}
        for c, an in zip(chunk_list, analyses, strict=True):
            entry = per.setdefault(c.article_id, (c, {}))
            for sent in _sentences(an, c.start):
                entry[1].setdefault(sent[1], sent)
        arts = [(aid, c.title, c.published, c.source, [d[s] for s in sorted(d)])
                for aid, (c, d) in sorted(per.items())]
        return PeopleIndex._build(arts, fingerprint)

    @staticmethod
    def _build(arts: list[tuple[str, str, date | None, str, list[_Sent]]], fp: str) -> PeopleIndex:
        first = [m for aid, title, pub, src, sents in arts for m in _extract(sents, aid, title, pub, src)]
        known = {name_key(m.name): m.name for m in first if m.role}  # keyed once, not once per article
        # second pass: people named with a role in one article are found by name in every article
        mentions = [m for aid, title, pub, src, sents in arts
                    for m in _extract(sents, aid, title, pub, src, known)]
        return PeopleIndex(mentions, fp)

    def has_title(self, role: str) -> bool:
        """Whether the news gives anyone this title ("President of China Post Group" -> "president")."""
        title = role_key(role).partition(" of ")[0]
        return bool(title) and title in self._titles

    def save(self, path: Path) -> None:
        data = {"version": FORMAT_VERSION, "fingerprint": self.fingerprint,
                "mentions": [m.to_json() for m in self.mentions]}
        atomic_write_text(path, json.dumps(data, ensure_ascii=False))

    @staticmethod
    def load(path: Path) -> PeopleIndex | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") != FORMAT_VERSION:
                return None
            mentions = [Mention.from_json(m) for m in data["mentions"]]
            return PeopleIndex(mentions, str(data.get("fingerprint", "")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    # -------------------------------------------------------------------------------- queries

    def resolve(self, name: str) -> str | None:
        """The index key for a name as asked: exact, given-name-first, or an unambiguous surname."""
        key = name_key(name)
        if key in self._alias:
            return self._alias[key]
        return self._surname.get(key) if " " not in key else None

    def candidates(self, name: str) -> list[str]:
        """People whose name contains every word asked ("Zhang" -> Zhang Jinliang, Zhang Yongping)."""
        words = set(name_key(name).split())
        return sorted(self.display[k] for k in self.by_name if words and words <= set(k.split()))

    def names(self) -> list[str]:
        return sorted(self.display.values())

    def find_in(self, question: str) -> str | None:
        """The longest known person's name that the question contains (as a whole-word match)."""
        q = " " + name_key(question) + " "
        best = None
        for alias, key in self._alias.items():
            if " " in alias and f" {alias} " in q and (best is None or len(alias) > len(best[0])):
                best = (alias, key)
        return best[1] if best else None

    def person(self, name: str) -> Person | None:
        key = self.resolve(name)
        if key is None:
            return None
        ms = self.by_name[key]
        roles: dict[str, list[Mention]] = {}
        for m in ms:
            if m.role:
                roles.setdefault(role_key(m.role), []).append(m)
        entries = []
        for group in roles.values():
            group.sort(key=lambda m: (_dkey(m.published), m.article_id), reverse=True)
            dates: list[date | None] = []
            arts: list[str] = []
            for m in group:
                if m.article_id not in arts:
                    arts.append(m.article_id)
                    dates.append(m.published)
            entries.append(RoleEntry(group[0].role, dates, arts))
        entries.sort(key=lambda r: (_dkey(r.dates[0]), len(r.dates)), reverse=True)
        articles: dict[str, Mention] = {}
        for m in sorted(ms, key=lambda m: (_dkey(m.published), bool(m.role)), reverse=True):
            best = articles.get(m.article_id)
            if best is None or (m.role and not best.role):
                articles[m.article_id] = m
        ordered = sorted(articles.values(), key=lambda m: (_dkey(m.published), m.article_id), reverse=True)
        return Person(self.display[key], entries, [
            {"id": m.article_id, "title": m.title, "date": m.published, "role": m.role,
             "sentence": m.sentence, "span": list(m.span), "source": m.source,
             "sentence_start": m.sentence_start} for m in ordered])

    def holders(self, role: str) -> list[Mention]:
        """Role mentions whose role matches ``role`` (same title words; the organisation's words agree),
        newest first."""
        title_q, _, org_q = role_key(role).partition(" of ")
        org_words = set(org_q.split()) - {"the"}
        out = []
        for m in self.mentions:
            if not m.role:
                continue
            title_m, _, org_m = role_key(m.role).partition(" of ")
            if title_m != title_q:
                continue
            mw = set(org_m.split()) - {"the"}
            if org_words and not (org_words <= mw or mw and mw <= org_words):
                continue
            out.append(m)
        return sorted(out, key=lambda m: (_dkey(m.published), m.article_id), reverse=True)

    def mentioned_in(self, key: str) -> set[str]:
        return {m.article_id for m in self.by_name.get(key, [])}


def people_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "people" / f"{collection}.json"


def load_people_index(index: ChunkSource, path: Path, expected: str,
                      analyse: AnalyseFn | None = None) -> PeopleIndex:
    """The people index that matches what the store holds: the saved one if its fingerprint agrees, else
    rebuilt from the stored chunks (and saved when possible)."""
    saved = PeopleIndex.load(path)
    if saved is not None and saved.fingerprint == expected:
        return saved
    people = PeopleIndex.from_chunks(index.all_chunks(), expected, analyse)
    try:
        people.save(path)
    except OSError:
        pass  # a read-only store still answers; rebuilt in memory next time
    return people


def refresh_people_index(index: ChunkSource, path: Path, fingerprint: str, analyse: AnalyseFn | None = None) -> bool:
    """Called at the end of an ingest: rebuild the saved index when it is missing or stale. True: rebuilt."""
    saved = PeopleIndex.load(path)
    if saved is not None and saved.fingerprint == fingerprint:
        return False
    load_people_index(index, path, fingerprint, analyse)
    return True


class _Stateful(ChunkSource, Protocol):
    def state(self) -> dict[str, Any]: ...


class PeopleSource:
    """Keeps the people index in step with the collection (reloads when an ingest changed its fingerprint)."""

    def __init__(self, index: _Stateful, path: Path, ttl: float = 2.0, analyse: AnalyseFn | None = None) -> None:
        self.index = index
        self.analyse = analyse
        self.path = path
        self._follow = FollowFingerprint(lambda: str(index.state().get("fingerprint") or ""),
                                         lambda fp: load_people_index(index, path, fp, analyse), ttl=ttl)

    def __call__(self) -> PeopleIndex:
        people = self._follow()
        assert people is not None  # load_people_index always returns an index (empty when nothing is indexed)
        return people


# ------------------------------------------------------------------------------------------ answers

_WHO_IS = re.compile(r"^\s*(?:and\s+)?(?:who|what)(?:'s|’s|\s+is|\s+are)\s+(?P<x>.+?)\s*\??\s*$",
                     re.IGNORECASE)
_ROLE_OF = re.compile(r"^\s*what\s+(?:is|are)\s+(?P<x>.+?)(?:'s|’s)\s+(?:role|position|title|job|post)"
                      r"(?:\s+(?:at|in|with)\s+.+?)?\s*\??\s*$"
                      r"|^\s*what\s+(?:role|position|title|job|post)\s+does\s+(?P<y>.+?)\s+(?:hold|have)\b",
                      re.IGNORECASE)
_PRESENT = re.compile(r"^\s*(?:and\s+)?(?:who|what)(?:'s|’s|\s+is|\s+are)\b"
                      r"|^\s*what\s+(?:role|position|title|job)\s+does\b|\b(?:currently|now|current)\b",
                      re.IGNORECASE)


def is_present_person_question(question: str) -> bool:
    """'Who is ...', 'Who are ...', 'What is X's role' — facts that change, answered 'as of' a date."""
    return bool(_PRESENT.search(question)) and bool(
        re.match(r"^\s*(?:and\s+)?who\b", question, re.IGNORECASE) or _ROLE_OF.match(question))


def with_as_of(answer: Answer) -> Answer:
    """'Zhang Jinliang' -> 'Zhang Jinliang (as of 2019-05-21)', the date of the cited article [1]."""
    if not answer.answerable or not answer.citations or "(as of " in answer.text:
        return answer
    first = answer.citations[0].published
    if first is None:
        return answer
    from dataclasses import replace

    return replace(answer, text=f"{answer.text} (as of {first.isoformat()})")


def _citation(n: int, art: dict[str, Any], span: tuple[int, int] | None) -> Citation:
    return Citation(n=n, article_id=art["id"], title=art["title"], published=art["date"],
                    source=art["source"],
                    passage=art["sentence"], span=span, score=1.0, chunk_id="",
                    passage_start=int(art.get("sentence_start", 0)))


def who_answer(people: PeopleIndex, question: str, name: str, max_citations: int = 8) -> Answer | None:
    """'Kang Ning: Vice President of China Post Group (as of 2020-09-11; also 2019-05-21)', one citation per
    article, newest first. None: the index has no role for that name."""
    person = people.person(name)
    if person is None or not person.roles:
        return None
    parts = []
    for i, r in enumerate(person.roles):
        dates = [d.isoformat() for d in r.dates if d]
        if not dates:
            parts.append(r.role)
        elif i == 0:
            also = f"; also {', '.join(dates[1:])}" if len(dates) > 1 else ""
            parts.append(f"{r.role} (as of {dates[0]}{also})")
        else:
            parts.append(f"{r.role} ({', '.join(dates)})")
    cites = [_citation(n, art, (art["span"][0], art["span"][1]))
             for n, art in enumerate(person.articles[:max_citations], start=1)]
    first = cites[0].passage[cites[0].span[0]:cites[0].span[1]] if cites and cites[0].span else ""
    if first and not first.startswith(person.name) and person.name in first and parts:
        # the role stands before the name ("Chairman Liu Aili"): say it the way the cited text does
        parts[0] = first + parts[0][len(person.roles[0].role):]
        text = "; ".join(parts)
    else:
        text = f"{person.name}: " + "; ".join(parts)
    return Answer(question=question, text=text, answerable=True, citations=cites, confidence=1.0)


def role_answer(people: PeopleIndex, question: str, role: str, max_citations: int = 3) -> Answer | None:
    """'Who is the President of China Post Group?' -> 'Zhang Jinliang (as of 2019-05-21)' from the newest
    article that names the holder of exactly that role."""
    found = people.holders(role)
    if not found:
        return None
    top = found[0]
    text = f"{top.name} (as of {top.published.isoformat()})" if top.published else top.name
    cites: list[Citation] = []
    seen: set[str] = set()
    for m in found:
        if m.name != top.name or m.article_id in seen:
            continue
        seen.add(m.article_id)
        art = {"id": m.article_id, "title": m.title, "date": m.published, "source": m.source,
               "sentence": m.sentence, "sentence_start": m.sentence_start}
        at = m.sentence.find(m.name, m.span[0])  # the answer is the name: cite the name's own span
        cites.append(_citation(len(cites) + 1, art, (at, at + len(m.name)) if at >= 0 else m.span))
        if len(cites) >= max_citations:
            break
    newest = _dkey(top.published)
    others = sorted({m.name for m in found if m.name != top.name and _dkey(m.published) < newest})
    note = f"Earlier holders in the news: {', '.join(others)}" if others else ""
    return Answer(question=question, text=text, answerable=True, citations=cites, confidence=1.0, note=note)


def person_question(people: PeopleIndex, question: str) -> tuple[str, str] | None:
    """('name', key) for 'Who is Kang Ning?' / "What is Kang Ning's role?"; ('role', text) for 'Who is the
    President of China Post Group?'; None otherwise."""
    m = _ROLE_OF.match(question)
    if m:
        key = people.resolve(m.group("x") or m.group("y") or "")
        return ("name", key) if key else None
    m = _WHO_IS.match(question)
    if not m or not re.match(r"^\s*(?:and\s+)?who", question, re.IGNORECASE):
        return None
    x = re.sub(r"^(?:currently|now)\s+|\s+(?:now|currently|today)$", "", m.group("x").strip(),
               flags=re.IGNORECASE)
    key = people.resolve(x)
    if key:
        return "name", key
    role = re.sub(r"^(?:the|a|an)\s+(?:current\s+|present\s+)?", "", x, flags=re.IGNORECASE)
    owner = re.match(r"^(?P<org>.+?)(?:'s|’s)\s+(?P<role>.+)$", role)
    if owner and not people.has_title(role):  # "X's Head" -> "Head of X"
        role = f"{owner.group('role')} of {owner.group('org')}"
    if role and people.has_title(role) and len(role.split()) <= 12:
        return "role", role
    return None


def contradicts_role(people: PeopleIndex, answer_text: str, role: str) -> bool:
    """True when the answer names a person the index knows only under other roles ("Kang Ning" for "the
    President of Xinhua News Agency" when the news calls him Vice President of China Post Group)."""
    key = people.find_in(answer_text)
    if key is None:
        return False
    known = [m.role for m in people.by_name[key] if m.role]
    if not known:
        return False
    wanted = {m.name for m in people.holders(role)}
    if people.display[key] in wanted:
        return False
    # "Chairman Liu Aili" (no organisation named) does not contradict "the Chairman of China Post Group"
    title = role_key(role).partition(" of ")[0]
    return not any(role_key(r).partition(" of ") == (title, "", "") for r in known)


_BOTH = re.compile(r"\bboth\b|\bin (?:each|all) of\b|\bevery one of\b", re.IGNORECASE)
_WHICH_PERSON = re.compile(r"^\s*(?:who|which\b[^?]{0,40}?\b(?:executive|official|person|leader|people|"
                           r"man|woman|speaker)s?)\b", re.IGNORECASE)


def is_both_question(question: str) -> bool:
    """'Which executive attended both X and Y?' — a person common to two or more articles."""
    return bool(_BOTH.search(question) and _WHICH_PERSON.match(question))


def both_answer(people: PeopleIndex, question: str, hits: Sequence[Hit]) -> Answer | None:
    """'Which executive attended both X and Y?': the person named in the most of the retrieved articles
    (at least two), cited once in each. None when no one is named in two of them."""
    if not is_both_question(question):
        return None
    arts: list[str] = []
    weight: dict[str, float] = {}
    for h in hits:
        if h.chunk.article_id not in arts:
            arts.append(h.chunk.article_id)
        weight[h.chunk.article_id] = max(weight.get(h.chunk.article_id, 0.0), h.score)
    if len(arts) < 2:
        return None
    qkey = " " + name_key(question) + " "
    best: tuple[float, str] | None = None
    for key in people.by_name:
        if f" {key} " in qkey:
            continue  # the question names them already
        inside = people.mentioned_in(key) & set(arts)
        if len(inside) < 2:
            continue
        score = len(inside) + sum(weight[a] for a in inside)
        if best is None or score > best[0]:
            best = (score, key)
    if best is None:
        return None
    key = best[1]
    qwords = {w for w in re.findall(r"[a-z]+", question.lower()) if len(w) > 3}
    cites: list[Citation] = []
    ordered = sorted(people.mentioned_in(key) & set(arts), key=lambda a: arts.index(a))
    for aid in ordered:
        ms = [m for m in people.by_name[key] if m.article_id == aid]
        # the sentence that shares most words with the question ("attended", "addressed", "meeting")
        m = max(ms, key=lambda m: (len(qwords & set(re.findall(r"[a-z]+", m.sentence.lower()))),
                                   bool(m.role)))
        art = {"id": m.article_id, "title": m.title, "date": m.published, "source": m.source,
               "sentence": m.sentence, "sentence_start": m.sentence_start}
        name_end = m.span[0] + len(m.name)
        cites.append(_citation(len(cites) + 1, art, (m.span[0], name_end)))
    return Answer(question=question, text=people.display[key], answerable=True, citations=cites,
                  hits=list(hits), confidence=0.8)


__all__ = ["Mention", "PeopleIndex", "Person", "extract_people", "load_people_index", "refresh_people_index",
           "PeopleSource", "people_path", "who_answer", "role_answer", "both_answer", "person_question",
           "is_present_person_question", "with_as_of", "contradicts_role", "is_both_question"]
