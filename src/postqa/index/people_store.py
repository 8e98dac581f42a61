"""The people index stored per article in the collection's ledger (SQLite), updated in the ledger's own
transactions: an ingest writes only the changed articles' contributions, and queries read only the rows
of the people and articles they ask about.

Tables (see ``people_rows.ArticlePeople``): ``people_articles`` one row per article (its sentences'
candidate names, compressed), ``people_names`` which articles hold a name key (by 64-bit hashes),
``people_roles`` the role mentions, ``people_keys`` every person named with a role somewhere (their name as
the newest-by-id role mention spells it, what other articles' mentions of them are called). What the
in-memory index computes over all articles at once is computed here for the few articles a question needs,
with the same functions, so the answers are the same (``tests/test_people_store.py`` checks it)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from postqa.index.people_rows import (
    ArticlePeople,
    Mention,
    Person,
    RoleEntry,
    RoleRow,
    dkey,
    mentions_of_article,
    name_key,
    person_of,
    question_grams,
    role_key,
    role_matches,
    title_of,
)

FORMAT = "2"  # meta key ``people_format``: the tables hold every article's contribution in this layout
# 2: + people_mentions (which articles mention each person), people_role_keys (articles per person and role),
#    people_role_names (articles per role and name as spelled), people_roles.rkey/published: who-lookups read
#    a bounded number of rows however often someone is named
SCHEMA = """
CREATE TABLE IF NOT EXISTS people_articles (art INTEGER PRIMARY KEY, article_id TEXT, title TEXT,
    published TEXT, source TEXT, data BLOB);
CREATE TABLE IF NOT EXISTS people_names (key_h INTEGER, art INTEGER, PRIMARY KEY (key_h, art)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS people_roles (art INTEGER, ord INTEGER, article_id TEXT, key TEXT, name TEXT,
    role TEXT, title TEXT, sentence TEXT, lo INTEGER, hi INTEGER, sentence_start INTEGER, rkey TEXT,
    published TEXT, PRIMARY KEY (art, ord));
CREATE INDEX IF NOT EXISTS people_roles_key ON people_roles (key, article_id, ord);
CREATE TABLE IF NOT EXISTS people_keys (key TEXT PRIMARY KEY, key_h INTEGER, name TEXT, first_word TEXT,
    joined TEXT, n_words INTEGER);
CREATE INDEX IF NOT EXISTS people_keys_first ON people_keys (first_word);
CREATE INDEX IF NOT EXISTS people_keys_joined ON people_keys (joined);
CREATE INDEX IF NOT EXISTS people_keys_words ON people_keys (n_words);
"""
SCHEMA_2 = """
DROP INDEX IF EXISTS people_roles_title;
CREATE INDEX IF NOT EXISTS people_roles_title_newest ON people_roles (title, published, article_id, ord);
CREATE INDEX IF NOT EXISTS people_roles_name_oldest ON people_roles (rkey, name, published);
CREATE INDEX IF NOT EXISTS people_roles_newest ON people_roles (key, rkey, published, article_id, ord);
CREATE INDEX IF NOT EXISTS people_roles_first ON people_roles (key, rkey, article_id, ord);
CREATE TABLE IF NOT EXISTS people_mentions (key TEXT, art INTEGER, article_id TEXT, published TEXT,
    PRIMARY KEY (key, art)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS people_mentions_newest ON people_mentions (key, published, article_id);
CREATE INDEX IF NOT EXISTS people_mentions_first ON people_mentions (key, article_id);
CREATE TABLE IF NOT EXISTS people_role_keys (key TEXT, rkey TEXT, n INTEGER, PRIMARY KEY (key, rkey)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS people_role_names (rkey TEXT, name TEXT, title TEXT, n INTEGER,
    PRIMARY KEY (rkey, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS people_role_names_title ON people_role_names (title);
"""
TABLES = ("people_articles", "people_names", "people_roles", "people_keys", "people_mentions", "people_role_keys",
          "people_role_names")


def h64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                          "big", signed=True)


def _parts(items: Sequence[Any], size: int = 500) -> Iterable[list[Any]]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


# ------------------------------------------------------------------------------------------ writes

def _format(db: sqlite3.Connection) -> str | None:
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'people_format'").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row is not None else None


def is_built(db: sqlite3.Connection) -> bool:
    """Whether the ledger holds the people tables of every article (written by a finished build)."""
    return _format(db) == FORMAT


def create_tables(db: sqlite3.Connection) -> None:
    db.executescript(SCHEMA)
    have = {str(r[1]) for r in db.execute("PRAGMA table_info(people_roles)")}
    for column in ("rkey", "published"):  # a format-1 table (upgrade fills them)
        if column not in have:
            db.execute(f"ALTER TABLE people_roles ADD COLUMN {column} TEXT")
    db.executescript(SCHEMA_2)


def reset(db: sqlite3.Connection) -> None:
    """Empty tables, not marked built (inside the caller's transaction): a build fills them, then marks."""
    db.execute("DELETE FROM meta WHERE key = 'people_format'")
    for table in TABLES:
        db.execute(f"DELETE FROM {table}")


def mark_built(db: sqlite3.Connection) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('people_format', ?)", (FORMAT,))


def _encode(art: ArticlePeople) -> bytes:
    return zlib.compress(json.dumps([[s, t, [list(c) for c in cands]] for s, t, cands in art.sents],
                                    ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def _decode(blob: bytes) -> tuple[tuple[int, str, tuple[tuple[str, int, int, int, int], ...]], ...]:
    data = json.loads(zlib.decompress(blob).decode("utf-8", "surrogatepass"))
    return tuple((int(s), str(t), tuple((str(c[0]), int(c[1]), int(c[2]), int(c[3]), int(c[4])) for c in cands))
                 for s, t, cands in data)


def load_articles(db: sqlite3.Connection, arts: Sequence[int]) -> dict[int, ArticlePeople]:
    """The stored contributions of these articles (by their ``h64`` ids)."""
    out: dict[int, ArticlePeople] = {}
    for part in _parts(arts):
        roles: dict[int, list[RoleRow]] = {}
        for art, name, role, sentence, lo, hi, start in db.execute(
                f"SELECT art, name, role, sentence, lo, hi, sentence_start FROM people_roles "
                f"WHERE art IN ({_marks(len(part))}) ORDER BY art, ord", part):
            roles.setdefault(int(art), []).append(RoleRow(name, role, sentence, (int(lo), int(hi)), int(start)))
        for art, aid, title, pub, src, data in db.execute(
                f"SELECT art, article_id, title, published, source, data FROM people_articles "
                f"WHERE art IN ({_marks(len(part))})", part):
            out[int(art)] = ArticlePeople(aid, title, date.fromisoformat(pub) if pub else None, src,
                                          tuple(roles.get(int(art), [])), _decode(data))
    return out


def _all_keys(a: ArticlePeople) -> set[str]:
    return a.keys() | {name_key(r.name) for r in a.roles}


def _old_role_keys(db: sqlite3.Connection, arts: Sequence[int]) -> set[str]:
    out: set[str] = set()
    for part in _parts(arts):
        out.update(str(k) for (k,) in db.execute(f"SELECT key FROM people_roles WHERE art IN ({_marks(len(part))})",
                                                 part))
    return out


def _people(db: sqlite3.Connection, keys: Iterable[str]) -> dict[str, str]:
    """name key -> name, for those of ``keys`` someone is named with a role under (``people_keys``)."""
    out: dict[str, str] = {}
    for part in _parts(sorted(set(keys))):
        out.update((str(k), str(n)) for k, n in
                   db.execute(f"SELECT key, name FROM people_keys WHERE key IN ({_marks(len(part))})", part))
    return out


def _drop_mentions(db: sqlite3.Connection, arts: Sequence[ArticlePeople]) -> None:
    db.executemany("DELETE FROM people_mentions WHERE key = ? AND art = ?",
                   [(k, h64(a.article_id)) for a in arts for k in _all_keys(a)])


def _add_mentions(db: sqlite3.Connection, arts: Sequence[ArticlePeople]) -> None:
    """The (person, article) rows of these articles, given who is a person now (``people_keys``): exactly the
    people ``mentions_of_article`` finds in each."""
    known = _people(db, {k for a in arts for k in _all_keys(a)})
    rows = []
    for a in arts:
        pub = a.published.isoformat() if a.published else ""
        for key in sorted({name_key(m.name) for m in mentions_of_article(a, known)}):
            rows.append((key, h64(a.article_id), a.article_id, pub))
    db.executemany("INSERT OR IGNORE INTO people_mentions VALUES (?, ?, ?, ?)", rows)


def _drop(db: sqlite3.Connection, arts: Sequence[int]) -> None:
    old = load_articles(db, arts)
    _drop_mentions(db, list(old.values()))
    for art, a in old.items():
        db.executemany("DELETE FROM people_names WHERE key_h = ? AND art = ?", [(h64(k), art) for k in a.keys()])
        db.executemany("UPDATE people_role_keys SET n = n - 1 WHERE key = ? AND rkey = ?",
                       sorted({(name_key(r.name), role_key(r.role)) for r in a.roles}))
        db.executemany("UPDATE people_role_names SET n = n - 1 WHERE rkey = ? AND name = ?",
                       sorted({(role_key(r.role), r.name) for r in a.roles}))
        db.execute("DELETE FROM people_roles WHERE art = ?", (art,))
        db.execute("DELETE FROM people_articles WHERE art = ?", (art,))
    db.execute("DELETE FROM people_role_keys WHERE n <= 0")
    db.execute("DELETE FROM people_role_names WHERE n <= 0")


def _insert(db: sqlite3.Connection, a: ArticlePeople) -> None:
    art = h64(a.article_id)
    pub = a.published.isoformat() if a.published else ""
    db.execute("INSERT OR REPLACE INTO people_articles VALUES (?, ?, ?, ?, ?, ?)",
               (art, a.article_id, a.title, pub, a.source, _encode(a)))
    db.executemany("INSERT OR IGNORE INTO people_names (key_h, art) VALUES (?, ?)",
                   [(h64(k), art) for k in a.keys()])
    db.executemany("INSERT INTO people_roles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [(art, i, a.article_id, name_key(r.name), r.name, r.role, title_of(r.role), r.sentence,
                     r.span[0], r.span[1], r.sentence_start, role_key(r.role), pub) for i, r in enumerate(a.roles)])
    db.executemany("INSERT INTO people_role_keys VALUES (?, ?, 1) ON CONFLICT (key, rkey) DO UPDATE SET n = n + 1",
                   sorted({(name_key(r.name), role_key(r.role)) for r in a.roles}))
    db.executemany("INSERT INTO people_role_names VALUES (?, ?, ?, 1) ON CONFLICT (rkey, name) DO UPDATE SET n = n + 1",
                   sorted({(role_key(r.role), r.name, title_of(r.role)) for r in a.roles}))


def _refresh_keys(db: sqlite3.Connection, keys: Iterable[str]) -> None:
    """Bring ``people_keys`` in line with ``people_roles`` for these keys (their newest-by-id spelling)."""
    for key in keys:
        row = db.execute("SELECT name FROM people_roles WHERE key = ? ORDER BY article_id DESC, ord DESC LIMIT 1",
                         (key,)).fetchone()
        if row is None:
            db.execute("DELETE FROM people_keys WHERE key = ?", (key,))
            continue
        words = key.split()
        db.execute("INSERT OR REPLACE INTO people_keys VALUES (?, ?, ?, ?, ?, ?)",
                   (key, h64(key), row[0], words[0] if words else "", "".join(words), len(words)))


def _holding(db: sqlite3.Connection, keys: Iterable[str]) -> set[int]:
    """Articles whose sentences hold one of these name keys."""
    return {int(a) for k in keys for (a,) in db.execute("SELECT art FROM people_names WHERE key_h = ?", (h64(k),))}


def replace_articles(db: sqlite3.Connection, articles: Sequence[ArticlePeople], removed: Sequence[str] = ()) -> None:
    """``articles`` now contribute exactly this, ``removed`` nothing (inside the caller's transaction; a no-op
    until the tables are built). Whether an article mentions a person can depend on who else is a person (a
    known name covers the words of a shorter one): when a name becomes or stops being a person's, the
    mentions of every article holding it are computed again (proportional to those articles)."""
    if not is_built(db):
        return
    arts = [h64(a.article_id) for a in articles] + [h64(a) for a in removed]
    touched = _old_role_keys(db, arts) | {name_key(r.name) for a in articles for r in a.roles}
    before = set(_people(db, touched))
    _drop(db, arts)
    for a in articles:
        _insert(db, a)
    _refresh_keys(db, sorted(touched))
    flipped = before ^ set(_people(db, touched))
    again = sorted(_holding(db, flipped) - set(arts))
    for part in _parts(again):
        redo = list(load_articles(db, part).values())
        _drop_mentions(db, redo)
        _add_mentions(db, redo)
    _add_mentions(db, articles)


def add_built(db: sqlite3.Connection, articles: Sequence[ArticlePeople]) -> None:
    """A page of a full build (inside the caller's transaction): rows only, ``finish_build`` keys them."""
    for a in articles:
        _insert(db, a)


def _all_mentions(db: sqlite3.Connection, page: int = 500) -> None:
    """``people_mentions`` for every article, once the people are known (a build, an upgrade)."""
    db.execute("DELETE FROM people_mentions")
    arts = [int(a) for (a,) in db.execute("SELECT art FROM people_articles ORDER BY art LIMIT ?", (page,))]
    while arts:  # pages by a range of the primary key (each page an index seek, not a scan from the start)
        _add_mentions(db, list(load_articles(db, arts).values()))
        arts = [int(a) for (a,) in db.execute("SELECT art FROM people_articles WHERE art > ? ORDER BY art LIMIT ?",
                                              (arts[-1], page))]


def finish_build(db: sqlite3.Connection) -> None:
    keys = [str(k) for (k,) in db.execute("SELECT DISTINCT key FROM people_roles")]
    _refresh_keys(db, keys)
    _all_mentions(db)
    mark_built(db)


def needs_upgrade(db: sqlite3.Connection) -> bool:
    """Whether the ledger holds complete people tables of format 1 (``upgrade`` derives format 2 from them)."""
    return _format(db) == "1"


def upgrade(db: sqlite3.Connection) -> None:
    """Format 1 -> 2 from the stored rows alone (no parse; inside the caller's transaction): the role rows get
    their role key and date, then the counts per person and role and the mention rows are derived."""
    if not needs_upgrade(db):
        return
    create_tables(db)
    db.create_function("postqa_role_key", 1, role_key, deterministic=True)
    db.execute("UPDATE people_roles SET rkey = postqa_role_key(role), published = "
               "(SELECT a.published FROM people_articles a WHERE a.art = people_roles.art)")
    db.execute("DELETE FROM people_role_keys")
    db.execute("INSERT INTO people_role_keys SELECT key, rkey, count(DISTINCT art) FROM people_roles "
               "GROUP BY key, rkey")
    db.execute("DELETE FROM people_role_names")
    db.execute("INSERT INTO people_role_names SELECT rkey, name, min(title), count(DISTINCT art) FROM people_roles "
               "GROUP BY rkey, name")
    _all_mentions(db)
    mark_built(db)


# ------------------------------------------------------------------------------------------ queries

_ROLE_SELECT = ("SELECT r.name, r.role, r.article_id, a.title, a.published, r.sentence, r.lo, r.hi, r.sentence_start, "
                "a.source FROM people_roles r JOIN people_articles a ON a.art = r.art")


def _role_mention(row: Sequence[Any]) -> Mention:
    n, r, aid, t, p, s, lo, hi, st, src = row
    return Mention(n, r, aid, t, date.fromisoformat(p) if p else None, s, (int(lo), int(hi)), int(st), src)


class LedgerPeople:
    """The people index read from the ledger's tables: the same queries as ``people.PeopleIndex``, each
    reading the rows of the names and articles it needs (nothing is loaded at start-up)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock | threading.Lock | None = None,
                 cache: int = 256) -> None:
        self.db = db
        self._lock = lock or threading.RLock()
        self._arts: OrderedDict[str, ArticlePeople | None] = OrderedDict()
        self._cache = cache
        self._cited: dict[int, list[str]] = {}

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return list(self.db.execute(sql, list(args)).fetchall())

    def __len__(self) -> int:
        return int(self._rows("SELECT count(*) FROM people_keys")[0][0])

    def forget(self) -> None:
        """Drop the cached articles and rankings (an ingest changed the tables)."""
        with self._lock:
            self._arts.clear()
            self._cited.clear()

    # -------------------------------------------------------------------------------- articles

    def _articles(self, article_ids: Iterable[str]) -> list[ArticlePeople]:
        """These articles' contributions (cached), sorted by id."""
        with self._lock:
            return self._articles_locked(sorted(set(article_ids)))

    def _articles_locked(self, want: list[str]) -> list[ArticlePeople]:
        missing = [a for a in want if a not in self._arts]
        for part in _parts(missing):
            found = {a.article_id: a for a in load_articles(self.db, [h64(a) for a in part]).values()}
            for a in part:
                self._arts[a] = found.get(a)
        out = []
        for a in want:
            self._arts.move_to_end(a)
            got = self._arts[a]
            if got is not None:
                out.append(got)
        while len(self._arts) > self._cache:
            self._arts.popitem(last=False)
        return out

    def _known(self, keys: Iterable[str]) -> dict[str, str]:
        """name key -> name, for those of ``keys`` that someone is named with a role under."""
        out: dict[str, str] = {}
        for part in _parts(sorted(set(keys))):
            out.update((str(k), str(n)) for k, n in
                       self._rows(f"SELECT key, name FROM people_keys WHERE key IN ({_marks(len(part))})", part))
        return out

    def mentions_in(self, article_ids: Iterable[str]) -> list[Mention]:
        """Every mention in these articles, in index order (articles by id, then as each lists them)."""
        arts = self._articles(article_ids)
        known = self._known({k for a in arts for k in a.keys()} | {name_key(r.name) for a in arts for r in a.roles})
        return [m for a in arts for m in mentions_of_article(a, known)]

    def _articles_of(self, key: str) -> list[str]:
        """Articles that mention ``key`` (sorted by id)."""
        return [str(a) for (a,) in self._rows("SELECT article_id FROM people_mentions WHERE key = ? ORDER BY "
                                               "article_id", (key,))]

    def mentions_of(self, key: str) -> list[Mention]:
        return [m for m in self.mentions_in(self._articles_of(key)) if name_key(m.name) == key]

    def _first(self, key: str) -> tuple[str, int, str] | None:
        """(article id, place in that article's mentions, name) of the first mention of ``key`` in index
        order: what the in-memory index calls the person (its ``display``) and where it lists them. One
        indexed row and one article, however many articles name them."""
        row = self._rows("SELECT article_id FROM people_mentions WHERE key = ? ORDER BY article_id LIMIT 1", (key,))
        if not row:
            return None
        aid = str(row[0][0])
        for i, m in enumerate(self.mentions_in([aid])):
            if name_key(m.name) == key:
                return aid, i, m.name
        return None

    def order(self, keys: Iterable[str]) -> list[str]:
        """Keys in index order (by their first mention); keys no one is named with a role under are left out."""
        firsts = {k: f for k in set(keys) if (f := self._first(k)) is not None}
        return sorted(firsts, key=lambda k: firsts[k][:2])

    # -------------------------------------------------------------------------------- names

    def is_key(self, key: str) -> bool:
        return bool(self._rows("SELECT 1 FROM people_keys WHERE key = ?", (key,)))

    def display_of(self, key: str) -> str:
        first = self._first(key)
        return first[2] if first else key

    def resolve(self, name: str) -> str | None:
        """The key for a name as asked: exact, given-name-first, run together, or an unambiguous surname."""
        key = name_key(name)
        if not key:
            return None
        if self.is_key(key):
            return key
        rev = " ".join(reversed(key.split()))
        if self.is_key(rev):
            return rev
        joined = [str(k) for (k,) in self._rows("SELECT key FROM people_keys WHERE joined = ?", (key,))]
        if joined:
            return self.order(joined)[0]
        if " " in key:
            return None
        same = self._rows("SELECT key FROM people_keys WHERE first_word = ? LIMIT 2", (key,))
        return str(same[0][0]) if len(same) == 1 else None

    def find_in(self, text: str) -> str | None:
        """The longest known person's name (or given-name-first form) that ``text`` contains as whole words."""
        longest = self._rows("SELECT max(n_words) FROM people_keys")[0][0] or 0
        grams = [g for g in question_grams(text) if len(g.split()) <= longest]
        forms = set(grams) | {" ".join(reversed(g.split())) for g in grams}
        keys = set(self._known(forms))
        if not keys:
            return None
        first = {k: f[:2] for k in keys if (f := self._first(k)) is not None}
        best: tuple[int, tuple[tuple[str, int], int], str] | None = None
        for g in dict.fromkeys(grams):
            rev = " ".join(reversed(g.split()))
            slots = ([(first[g], 0)] if g in first else []) + ([(first[rev], 1)] if rev in first else [])
            if not slots:
                continue
            place = min(slots)
            cand = (len(g), place, g if g in first else rev)
            if best is None or cand[0] > best[0] or (cand[0] == best[0] and cand[1] < best[1]):
                best = cand
        return best[2] if best else None

    def candidates(self, name: str) -> list[str]:
        """People whose name contains every word asked ("Zhang" -> Zhang Jinliang, Zhang Yongping)."""
        words = set(name_key(name).split())
        if not words:
            return []
        like = " AND ".join("(' ' || key || ' ') LIKE ?" for _ in words)
        keys = [str(k) for (k,) in self._rows(f"SELECT key FROM people_keys WHERE {like}",
                                              [f"% {w} %" for w in sorted(words)])]
        return sorted(self.display_of(k) for k in keys if words <= set(k.split()))

    def names(self) -> list[str]:
        """Everyone's name (one query per person: for listings, not for the question path)."""
        return sorted(self.display_of(str(k)) for (k,) in self._rows("SELECT key FROM people_keys"))

    def most_cited(self, n: int) -> list[str]:
        """About the ``n`` people named in the most articles, most first (ties by key): ranked by the articles
        that name them with a role (one aggregate over the role rows, kept until the next ingest; the in-memory
        index counts every article that mentions them: example questions only)."""
        with self._lock:
            if n not in self._cited:  # once per ingest (``forget``): the web chat asks on every page load
                top = [str(k) for (k,) in self._rows(
                    "SELECT key FROM people_roles GROUP BY key ORDER BY count(DISTINCT art) DESC, key LIMIT ?", (n,))]
                self._cited[n] = [self.display_of(k) for k in top]
            return list(self._cited[n])

    # -------------------------------------------------------------------------------- people and roles

    def person_by_key(self, key: str, max_articles: int | None = None) -> Person:
        """The person under ``key``; with ``max_articles``, only their newest that many articles and, per role,
        the newest that many dates with the count of all (``people_rows.newest``): a bounded read — the newest
        rows of the person's mention and role indexes — however many articles name them."""
        if max_articles is None:
            return person_of(self.display_of(key), self.mentions_of(key))
        newest = [str(a) for (a,) in self._rows(
            "SELECT article_id FROM people_mentions WHERE key = ? ORDER BY published DESC, article_id DESC LIMIT ?",
            (key, max_articles))]
        person = person_of(self.display_of(key), [m for m in self.mentions_in(newest) if name_key(m.name) == key])
        person.roles = self._roles(key, max_articles)
        person.articles = person.articles[:max_articles]
        return person

    def _roles(self, key: str, n: int) -> list[RoleEntry]:
        """The person's roles as ``people_rows.role_entries`` gives them, each with its newest ``n`` articles."""
        entries = []
        for rkey, total in self._rows("SELECT rkey, n FROM people_role_keys WHERE key = ?", (key,)):
            first = self._rows("SELECT article_id, ord FROM people_roles WHERE key = ? AND rkey = ? "
                               "ORDER BY article_id, ord LIMIT 1", (key, rkey))
            arts: list[str] = []
            dates: list[date | None] = []
            role = ""
            with self._lock:  # newest first; within an article the role as its first row spells it
                for r, aid, pub in self.db.execute(
                        "SELECT role, article_id, published FROM people_roles WHERE key = ? AND rkey = ? "
                        "ORDER BY published DESC, article_id DESC, ord DESC", (key, rkey)):
                    if aid not in arts:
                        if len(arts) >= n:
                            break
                        arts.append(str(aid))
                        dates.append(date.fromisoformat(pub) if pub else None)
                    if len(arts) == 1:
                        role = str(r)
            entries.append((tuple(first[0]), RoleEntry(role, dates, arts, int(total))))
        entries.sort(key=lambda e: e[0])  # first named in this role first (index order), then as role_entries
        return sorted((e for _, e in entries), key=lambda r: (dkey(r.dates[0]), r.total), reverse=True)

    def person(self, name: str, max_articles: int | None = None) -> Person | None:
        key = self.resolve(name)
        return self.person_by_key(key, max_articles) if key is not None else None

    def roles_of(self, key: str) -> list[str]:
        return [str(r) for (r,) in self._rows("SELECT role FROM people_roles WHERE key = ? ORDER BY article_id, ord",
                                              (key,))]

    def role_keys(self, key: str) -> set[str]:
        return {str(r) for (r,) in self._rows("SELECT rkey FROM people_role_keys WHERE key = ?", (key,))}

    def has_title(self, role: str) -> bool:
        title = title_of(role)
        return bool(title) and bool(self._rows("SELECT 1 FROM people_roles WHERE title = ? LIMIT 1", (title,)))

    def _answering(self, role: str) -> list[tuple[str, str]]:
        """(role key, name) of every role and name spelling that answers ``role`` (one row per pair)."""
        return [(str(k), str(n)) for k, n in self._rows(
            "SELECT rkey, name FROM people_role_names WHERE title = ?", (title_of(role),)) if role_matches(k, role)]

    def holders(self, role: str, limit: int | None = None, name: str | None = None) -> list[Mention]:
        """As ``people_rows.holders_among`` over every role mention, newest first, read newest first from the
        title's index until ``limit`` (whole articles: within one, the rows in their order)."""
        pairs = [p for p in self._answering(role) if name is None or p[1] == name]
        rkeys = sorted({k for k, _ in pairs})
        if not rkeys:
            return []
        where = f"r.title = ? AND r.rkey IN ({_marks(len(rkeys))})" + (" AND r.name = ?" if name is not None else "")
        args = [title_of(role), *rkeys, *([name] if name is not None else [])]
        out: list[Mention] = []
        group: list[Mention] = []
        with self._lock:
            for row in self.db.execute(f"{_ROLE_SELECT} WHERE {where} ORDER BY r.published DESC, r.article_id DESC, "
                                       "r.ord DESC", args):
                m = _role_mention(row)
                if group and m.article_id != group[0].article_id:
                    out += reversed(group)
                    group = []
                    if limit is not None and len(out) >= limit:
                        break
                group.append(m)
        out += reversed(group)
        return out[:limit]

    def holder_names(self, role: str) -> dict[str, date]:
        """Each name answering ``role`` with its oldest date: one indexed row per role key and name."""
        out: dict[str, date] = {}
        for rkey, name in self._answering(role):
            (pub,) = self._rows("SELECT published FROM people_roles WHERE rkey = ? AND name = ? ORDER BY published "
                                "LIMIT 1", (rkey, name))[0]
            out[name] = min(out.get(name, date.max), date.fromisoformat(pub) if pub else date.min)
        return out

    def mentioned_in(self, key: str) -> set[str]:
        return {m.article_id for m in self.mentions_of(key)}

