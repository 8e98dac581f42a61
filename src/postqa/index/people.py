"""People and their roles across articles: extracted from the text at ingest, saved beside the store."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from postqa.core.atomic import atomic_write_text
from postqa.core.types import Answer, Article, Chunk, Citation, Hit
from postqa.index.people_rows import (
    ArticlePeople,
    Mention,
    Person,
    RoleEntry,
    article_people,
    dkey,
    holder_names,
    holders_among,
    mentions_of_article,
    name_key,
    newest,
    person_of,
    role_key,
    sentence_roles,
    sentences_of,
    summarize,
    title_of,
)
from postqa.index.people_store import LedgerPeople, is_built
from postqa.index.refresh import FollowFingerprint
from postqa.nlp.analysis import Analysis
from postqa.nlp.pipeline import shared_analyser

FORMAT_VERSION = 2  # 2: people read off the spaCy parse


AnalyseFn = Callable[[Sequence[str]], list[Analysis]]


def _analyse(texts: Sequence[str], analyse: AnalyseFn | None) -> list[Analysis]:
    return (analyse or shared_analyser().analyse_many)(list(texts))


def role_mentions_in(sentence: str, analyse: AnalyseFn | None = None) -> list[tuple[str, str, int, int]]:
    """(name, role, start, end) for every 'Name, Role of Org', 'A and B, Roles', 'Role Name' in a sentence,
    read off spaCy's entities and parse (appositive and compound arcs)."""
    a = _analyse([sentence], analyse)[0]
    return [m for sent in a.sents for m in sentence_roles(a, sent)]


def extract_people(article: Article, analyse: AnalyseFn | None = None) -> list[Mention]:
    """Role mentions in an article, plus the article's other sentences that name those people."""
    sents = list(sentences_of(_analyse([article.text], analyse)[0], 0))
    return mentions_of_article(summarize(sents, article.id, article.title, article.published, article.source), {})


# ------------------------------------------------------------------------------------------ the index

class PeopleLookup(Protocol):
    """What the answers ask of a people index (the in-memory ``PeopleIndex`` and the stored
    ``people_store.LedgerPeople`` answer alike)."""

    def __len__(self) -> int: ...
    def resolve(self, name: str) -> str | None: ...
    def find_in(self, text: str) -> str | None: ...
    def candidates(self, name: str) -> list[str]: ...
    def names(self) -> list[str]: ...
    def most_cited(self, n: int) -> list[str]: ...
    def display_of(self, key: str) -> str: ...
    def person(self, name: str, max_articles: int | None = None) -> Person | None: ...
    def roles_of(self, key: str) -> list[str]: ...
    def has_title(self, role: str) -> bool: ...
    def holders(self, role: str, limit: int | None = None, name: str | None = None) -> list[Mention]: ...
    def holder_names(self, role: str) -> dict[str, date]: ...
    def role_keys(self, key: str) -> set[str]: ...
    def mentions_in(self, article_ids: Iterable[str]) -> list[Mention]: ...
    def order(self, keys: Iterable[str]) -> list[str]: ...
    def mentioned_in(self, key: str) -> set[str]: ...


class ChunkSource(Protocol):
    def all_chunks(self) -> Iterable[Chunk]: ...


class PeopleIndex:
    """name -> mentions, built from articles' text, all in memory; saved as JSON with the index's content
    fingerprint (the reference the stored index is tested against, and the fallback for stores without it)."""

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
        self._titles = {title_of(m.role) for m in self.mentions if m.role}
        self._place = {k: i for i, k in enumerate(self.by_name)}

    def __len__(self) -> int:
        return len(self.by_name)

    # -------------------------------------------------------------------------------- build / store

    @staticmethod
    def from_articles(articles: Iterable[Article], fingerprint: str = "",
                      analyse: AnalyseFn | None = None) -> PeopleIndex:
        arts = list(articles)
        analyses = _analyse([a.text for a in arts], analyse)
        return PeopleIndex.from_summaries([summarize(list(sentences_of(an, 0)), a.id, a.title, a.published, a.source)
                                           for a, an in zip(arts, analyses, strict=True)], fingerprint)

    @staticmethod
    def from_chunks(chunks: Iterable[Chunk], fingerprint: str = "", analyse: AnalyseFn | None = None) -> PeopleIndex:
        """Sentences of every stored chunk, deduplicated by their offset in the article (chunks overlap)."""
        chunk_list = list(chunks)
        return PeopleIndex.from_summaries(article_people(chunk_list, _analyse([c.text for c in chunk_list], analyse)),
                                          fingerprint)

    @staticmethod
    def from_summaries(arts: Sequence[ArticlePeople], fp: str = "") -> PeopleIndex:
        # people named with a role in one article are found by name in every article (keyed once)
        known = {name_key(r.name): r.name for a in arts for r in a.roles}
        return PeopleIndex([m for a in arts for m in mentions_of_article(a, known)], fp)

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

    def has_title(self, role: str) -> bool:
        """Whether the news gives anyone this title ("President of China Post Group" -> "president")."""
        title = title_of(role)
        return bool(title) and title in self._titles

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

    def most_cited(self, n: int) -> list[str]:
        """The ``n`` people named in the most articles, most first (ties by name)."""
        counts = {k: len({m.article_id for m in ms}) for k, ms in self.by_name.items()}
        return [self.display[k] for k in sorted(counts, key=lambda k: (-counts[k], self.display[k]))[:n]]

    def display_of(self, key: str) -> str:
        return self.display.get(key, key)

    def find_in(self, text: str) -> str | None:
        """The longest known person's name that the text contains (as a whole-word match)."""
        q = " " + name_key(text) + " "
        best = None
        for alias, key in self._alias.items():
            if " " in alias and f" {alias} " in q and (best is None or len(alias) > len(best[0])):
                best = (alias, key)
        return best[1] if best else None

    def person(self, name: str, max_articles: int | None = None) -> Person | None:
        """Everything known of a person; with ``max_articles`` only their newest that many articles, and per
        role its newest that many (``people_rows.newest``)."""
        key = self.resolve(name)
        if key is None:
            return None
        person = person_of(self.display[key], self.by_name[key])
        return person if max_articles is None else newest(person, max_articles)

    def roles_of(self, key: str) -> list[str]:
        return [m.role for m in self.by_name.get(key, []) if m.role]

    def holders(self, role: str, limit: int | None = None, name: str | None = None) -> list[Mention]:
        """Role mentions answering ``role``, newest first (only ``name``'s as spelled; the newest ``limit``)."""
        found = [m for m in holders_among(self.mentions, role) if name is None or m.name == name]
        return found[:limit]

    def holder_names(self, role: str) -> dict[str, date]:
        return holder_names(holders_among(self.mentions, role))

    def role_keys(self, key: str) -> set[str]:
        return {role_key(m.role) for m in self.by_name.get(key, []) if m.role}

    def mentions_in(self, article_ids: Iterable[str]) -> list[Mention]:
        arts = set(article_ids)
        return [m for m in self.mentions if m.article_id in arts]

    def order(self, keys: Iterable[str]) -> list[str]:
        return sorted((k for k in set(keys) if k in self._place), key=self._place.__getitem__)

    def mentioned_in(self, key: str) -> set[str]:
        return {m.article_id for m in self.by_name.get(key, [])}


def contributions(chunks: Sequence[Chunk], analyse: AnalyseFn | None = None) -> list[ArticlePeople]:
    """What the articles of these chunks (all of each article's chunks) contribute to the people index."""
    return article_people(chunks, _analyse([c.text for c in chunks], analyse))


def people_path(store_dir: Path, collection: str) -> Path:
    return store_dir / "people" / f"{collection}.json"


def ledger_file(store_dir: Path, collection: str) -> Path:
    """The collection's ledger database (see index.ledger), where the stored people index lives."""
    return store_dir / "ledger" / collection / "ledger.sqlite"


def load_people_index(index: ChunkSource, path: Path, expected: str,
                      analyse: AnalyseFn | None = None) -> PeopleIndex:
    """The in-memory people index that matches what the store holds: the saved one if its fingerprint
    agrees, else rebuilt from the stored chunks (and saved when possible). For stores whose ledger has no
    people tables yet (the next ingest writes them)."""
    saved = PeopleIndex.load(path)
    if saved is not None and saved.fingerprint == expected:
        return saved
    people = PeopleIndex.from_chunks(index.all_chunks(), expected, analyse)
    try:
        people.save(path)
    except OSError:
        pass  # a read-only store still answers; rebuilt in memory next time
    return people


def open_stored_people(db_file: Path) -> LedgerPeople | None:
    """The stored people index of a ledger, read-only, or None when the ledger has none (yet)."""
    if not db_file.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, check_same_thread=False, timeout=30)
        if is_built(conn):
            return LedgerPeople(conn)
        conn.close()
    except sqlite3.Error:
        pass
    return None


class _Stateful(ChunkSource, Protocol):
    def state(self) -> dict[str, Any]: ...


class PeopleSource:
    """Keeps the people index in step with the collection (reopened when an ingest changed its fingerprint):
    the ledger's stored people index when it has one, else the in-memory one."""

    def __init__(self, index: _Stateful, path: Path, ttl: float = 2.0, analyse: AnalyseFn | None = None,
                 ledger: Path | None = None) -> None:
        self.index = index
        self.analyse = analyse
        self.path = path
        self.ledger = ledger or ledger_file(path.parent.parent, path.stem)
        self._stored: tuple[int, LedgerPeople] | None = None  # (the file's inode, its reader)
        self._follow = FollowFingerprint(lambda: str(index.state().get("fingerprint") or ""), self._load, ttl=ttl)

    def _load(self, fp: str) -> PeopleLookup:
        try:
            inode = self.ledger.stat().st_ino
        except OSError:
            inode = -1
        if self._stored is not None and self._stored[0] == inode and is_built(self._stored[1].db):
            self._stored[1].forget()  # the same database, newer rows: only the cached articles go
            return self._stored[1]
        stored = open_stored_people(self.ledger)
        if stored is not None:
            self._stored = (inode, stored)
            return stored
        return load_people_index(self.index, self.path, fp, self.analyse)

    def __call__(self) -> PeopleLookup:
        people = self._follow()
        assert people is not None  # _load always returns an index (empty when nothing is indexed)
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


def _role_part(r: RoleEntry, first: bool) -> str:
    """'Vice President (as of 2020-09-11; also 2019-05-21)'; a role listed with fewer articles than give it
    (the newest ``max_citations``) says how many more: '... and 312 earlier'."""
    dates = [d.isoformat() for d in r.dates if d]
    more = r.total - len(r.article_ids)
    earlier = f"{more} earlier" if more > 0 else ""
    if not dates:
        return r.role
    if first:
        also = ", ".join(dates[1:]) + (" and " if len(dates) > 1 and earlier else "") + earlier
        return f"{r.role} (as of {dates[0]}{'; also ' + also if also else ''})"
    return f"{r.role} ({', '.join(dates)}{' and ' + earlier if earlier else ''})"


def who_answer(people: PeopleLookup, question: str, name: str, max_citations: int = 8) -> Answer | None:
    """'Kang Ning: Vice President of China Post Group (as of 2020-09-11; also 2019-05-21)', one citation per
    article, newest first. None: the index has no role for that name."""
    person = people.person(name, max_citations)
    if person is None or not person.roles:
        return None
    parts = [_role_part(r, first=i == 0) for i, r in enumerate(person.roles)]
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


def role_answer(people: PeopleLookup, question: str, role: str, max_citations: int = 3) -> Answer | None:
    """'Who is the President of China Post Group?' -> 'Zhang Jinliang (as of 2019-05-21)' from the newest
    article that names the holder of exactly that role."""
    found = people.holders(role, 1)
    if not found:
        return None
    top = found[0]
    text = f"{top.name} (as of {top.published.isoformat()})" if top.published else top.name
    cites: list[Citation] = []
    seen: set[str] = set()
    for m in people.holders(role, 4 * max_citations, top.name):  # the holder's newest articles
        if m.article_id in seen:
            continue
        seen.add(m.article_id)
        art = {"id": m.article_id, "title": m.title, "date": m.published, "source": m.source,
               "sentence": m.sentence, "sentence_start": m.sentence_start}
        at = m.sentence.find(m.name, m.span[0])  # the answer is the name: cite the name's own span
        cites.append(_citation(len(cites) + 1, art, (at, at + len(m.name)) if at >= 0 else m.span))
        if len(cites) >= max_citations:
            break
    newest = dkey(top.published)
    others = sorted(n for n, oldest in people.holder_names(role).items() if n != top.name and oldest < newest)
    note = f"Earlier holders in the news: {', '.join(others)}" if others else ""
    return Answer(question=question, text=text, answerable=True, citations=cites, confidence=1.0, note=note)


def person_question(people: PeopleLookup, question: str) -> tuple[str, str] | None:
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


def contradicts_role(people: PeopleLookup, answer_text: str, role: str) -> bool:
    """True when the answer names a person the index knows only under other roles ("Kang Ning" for "the
    President of Xinhua News Agency" when the news calls him Vice President of China Post Group)."""
    key = people.find_in(answer_text)
    if key is None:
        return False
    known = people.role_keys(key)
    if not known:
        return False
    if people.display_of(key) in people.holder_names(role):
        return False
    # "Chairman Liu Aili" (no organisation named) does not contradict "the Chairman of China Post Group"
    title = role_key(role).partition(" of ")[0]
    return not any(r.partition(" of ") == (title, "", "") for r in known)


_BOTH = re.compile(r"\bboth\b|\bin (?:each|all) of\b|\bevery one of\b", re.IGNORECASE)
_WHICH_PERSON = re.compile(r"^\s*(?:who|which\b[^?]{0,40}?\b(?:executive|official|person|leader|people|"
                           r"man|woman|speaker)s?)\b", re.IGNORECASE)


def is_both_question(question: str) -> bool:
    """'Which executive attended both X and Y?' — a person common to two or more articles."""
    return bool(_BOTH.search(question) and _WHICH_PERSON.match(question))


def both_answer(people: PeopleLookup, question: str, hits: Sequence[Hit]) -> Answer | None:
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
    per: dict[str, list[Mention]] = {}
    for m in people.mentions_in(arts):  # index order, as the in-memory index lists each person's mentions
        per.setdefault(name_key(m.name), []).append(m)
    best: tuple[float, str] | None = None
    for key in people.order(per):
        if f" {key} " in qkey:
            continue  # the question names them already
        inside = {m.article_id for m in per[key]}
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
    for aid in sorted({m.article_id for m in per[key]}, key=arts.index):
        ms = [m for m in per[key] if m.article_id == aid]
        # the sentence that shares most words with the question ("attended", "addressed", "meeting")
        m = max(ms, key=lambda m: (len(qwords & set(re.findall(r"[a-z]+", m.sentence.lower()))),
                                   bool(m.role)))
        art = {"id": m.article_id, "title": m.title, "date": m.published, "source": m.source,
               "sentence": m.sentence, "sentence_start": m.sentence_start}
        name_end = m.span[0] + len(m.name)
        cites.append(_citation(len(cites) + 1, art, (m.span[0], name_end)))
    return Answer(question=question, text=people.display_of(key), answerable=True, citations=cites,
                  hits=list(hits), confidence=0.8)


__all__ = ["Mention", "PeopleIndex", "PeopleLookup", "Person", "RoleEntry", "extract_people", "load_people_index",
           "PeopleSource", "people_path", "who_answer", "role_answer", "both_answer", "person_question",
           "is_present_person_question", "with_as_of", "contradicts_role", "is_both_question"]
