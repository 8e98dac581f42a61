"""The stored people index (index.people_store): after any sequence of article adds, changes and deletes it
answers every query exactly as the in-memory index built from scratch over the same articles does."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from postqa.index import people_store
from postqa.index.ledger import Ledger
from postqa.index.people import PeopleIndex, PeopleLookup
from postqa.index.people_rows import ArticlePeople, RoleRow, name_key
from postqa.index.people_store import LedgerPeople

# spellings that share a key (display names), reversed and run-together forms, a lone surname, non-people
NAMES = ["Kang Ning", "KANG NING", "Ning Kang", "Zhang Wei", "Wei Zhang", "Zhang Yongping", "Li Na", "Lina",
         "Li Na Wang", "Gong Xixiang", "Liu Aili", "Liu", "China Post", "Beijing", "Zhang"]
ROLES = ["President of China Post Group", "Vice President of China Post Group", "Chairman",
         "the President of Post Bank", "General Manager of the Beijing branch", "President"]


def _article(rng: random.Random, aid: str) -> ArticlePeople:
    """Random contributions: role rows in some sentences, and candidate names that overlap (a later
    candidate starting inside an earlier known one is skipped) and repeat within a sentence."""
    starts = sorted(rng.sample(range(0, 2000, 40), rng.randint(1, 6)))
    sents = []
    for s in starts:
        cands = []
        for _ in range(rng.randint(0, 4)):
            t0 = rng.randint(0, 6)
            key = name_key(rng.choice(NAMES))
            lo = rng.randint(0, 30)
            cands.append((key, t0, t0 + rng.randint(1, 3), lo, lo + len(key)))
        if cands:
            sents.append((s, f"sentence at {s} of {aid}", tuple(cands)))
    roles = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        s = rng.choice(starts)
        name = rng.choice(NAMES[:11])
        roles.append(RoleRow(name, rng.choice(ROLES), f"{name}, role sentence at {s}", (0, len(name)), s))
    roles.sort(key=lambda r: r.sentence_start)
    pub = rng.choice([None, date(2019, 5, 21), date(2020, 9, 11), date(2021, 1, rng.randint(1, 28))])
    return ArticlePeople(aid, f"Title {aid}", pub, f"{aid}.txt", tuple(roles), tuple(sents))


def _probes() -> list[str]:
    words = sorted({w for n in NAMES for w in name_key(n).split()})
    return NAMES + words + ["Nobody Here", "kangning", "Yongping Zhang", ""] + [f"{a} {b}" for a in words[:6]
                                                                                for b in words[:6]]


def snapshot(people: PeopleLookup, keys: list[str], article_ids: list[str]) -> dict[str, Any]:
    """Everything the answers can ask of a people index."""
    texts = [f"Was it {a} or {b} who met {c}?" for a, b, c in zip(NAMES, NAMES[3:], NAMES[6:], strict=False)]
    return {
        "len": len(people), "names": people.names(), "order": people.order(keys + ["nobody"]),
        "display": {k: people.display_of(k) for k in keys},
        "person": {k: (p.to_json() if (p := people.person(k)) else None) for k in keys},
        "newest": {(k, n): (p.to_json(), [r.total for r in p.roles]) if (p := people.person(k, n)) else None
                   for k in keys for n in (1, 2, 3)},
        "roles": {k: people.roles_of(k) for k in keys},
        "mentioned": {k: sorted(people.mentioned_in(k)) for k in keys},
        "mentions": people.mentions_in(article_ids),
        "resolve": {x: people.resolve(x) for x in _probes()},
        "candidates": {x: people.candidates(x) for x in _probes()},
        "find_in": {t: people.find_in(t) for t in texts + _probes()},
        "titles": {r: (people.has_title(r), people.holders(r), people.holder_names(r),
                       [people.holders(r, n) for n in (1, 2, 3)],
                       {name: people.holders(r, 2, name) for name in NAMES})
                   for r in ROLES + ["Vice President", "Mayor"]},
        "role_keys": {k: sorted(people.role_keys(k)) for k in keys},
    }


def _built(tmp: Path, name: str) -> Ledger:
    ledger = Ledger.create(tmp / name)
    ledger.write(people_store.create_tables)
    ledger.write(people_store.finish_build)
    return ledger


def _reference(articles: dict[str, ArticlePeople]) -> PeopleIndex:
    return PeopleIndex.from_summaries([articles[a] for a in sorted(articles)])


@pytest.mark.parametrize("seed", range(6))
def test_incremental_updates_equal_a_build_from_scratch(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    ledger = _built(tmp_path, "incremental")
    stored = LedgerPeople(ledger.db)
    articles: dict[str, ArticlePeople] = {}
    for step in range(14):
        op = rng.choice(["add", "add", "change", "delete"]) if articles else "add"
        batch = rng.sample(sorted(articles), min(len(articles), rng.randint(1, 3))) if op != "add" else \
            [f"a{step:02d}{i}" for i in range(rng.randint(1, 3))]
        if op == "delete":
            for aid in batch:
                del articles[aid]
            ledger.write(lambda db, gone=batch: people_store.replace_articles(db, [], gone))  # type: ignore[misc]
        else:
            fresh = [_article(rng, aid) for aid in batch]
            articles.update({a.article_id: a for a in fresh})
            ledger.write(lambda db, arts=fresh: people_store.replace_articles(db, arts))  # type: ignore[misc]
        stored.forget()
        ref = _reference(articles)
        keys, ids = list(ref.by_name), sorted(articles)
        assert snapshot(stored, keys, ids) == snapshot(ref, keys, ids), f"seed {seed} step {step} ({op})"
    # and a build from nothing over the final articles gives the same tables' answers
    fresh_ledger = Ledger.create(tmp_path / "full")
    fresh_ledger.write(people_store.create_tables)
    fresh_ledger.write(lambda db: people_store.add_built(db, [articles[a] for a in sorted(articles)]))
    fresh_ledger.write(people_store.finish_build)
    ref = _reference(articles)
    keys, ids = list(ref.by_name), sorted(articles)
    assert snapshot(LedgerPeople(fresh_ledger.db), keys, ids) == snapshot(stored, keys, ids)


def test_writes_wait_until_the_tables_are_built(tmp_path: Path) -> None:
    """A ledger without the people tables marked built ignores per-article writes (the one full build,
    marked at its end, fills them): a half-built table is never read as complete."""
    ledger = Ledger.create(tmp_path / "l")
    ledger.write(people_store.create_tables)
    art = _article(random.Random(1), "x")
    ledger.write(lambda db: people_store.replace_articles(db, [art]))
    assert not people_store.is_built(ledger.db)
    assert ledger.db.execute("SELECT count(*) FROM people_articles").fetchone()[0] == 0


def test_most_cited_ranks_by_articles(tmp_path: Path) -> None:
    ledger = _built(tmp_path, "l")
    arts = [ArticlePeople(f"a{i}", "", None, "", (RoleRow("Kang Ning", "Chairman", "s", (0, 9), 0),) if i == 0
                          else (), ((0, "s", (("kang ning", 0, 2, 0, 9),)),)) for i in range(3)]
    arts.append(ArticlePeople("b", "", None, "", (RoleRow("Li Na", "President", "t", (0, 5), 0),), ()))
    ledger.write(lambda db: people_store.replace_articles(db, arts))
    stored, ref = LedgerPeople(ledger.db), PeopleIndex.from_summaries(arts)
    assert stored.most_cited(2) == ref.most_cited(2) == ["Kang Ning", "Li Na"]
    assert stored.most_cited(1) == ref.most_cited(1) == ["Kang Ning"]


# ------------------------------------------------------------------------------------------ through ingest

PEOPLE = ["Li Wei", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Tao"]
POSTS = ["Director of the Harbin Postal Bureau", "General Manager of China Post Group", "Chairman of Post Bank"]


def _news(rng: random.Random, i: int) -> str:
    """A one-chunk article: someone named with a role, others named without one (found by name only when
    another article gives them a role)."""
    a, b, c = rng.sample(PEOPLE, 3)
    body = (f"{a}, {rng.choice(POSTS)}, opened the new sorting centre on Monday. {b} attended the ceremony "
            f"with {c}. Officials said {b} would visit again in spring.")
    return f"Postal news {i}\nDate: 2021-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}\n\n{body}\n"


def test_ingests_of_random_changes_keep_the_stored_index_equal_to_a_rebuild(tmp_path: Path) -> None:
    """Articles added, rewritten and deleted between ingests (hash embedder, the spaCy parse): after each
    ingest the stored index answers as the in-memory one built from every stored chunk."""
    from postqa.core.config import load_settings
    from postqa.index.indexer import keyword_path
    from postqa.service.pipeline import build_assistant, ingest, open_analyses

    rng = random.Random(3)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    settings = load_settings(environ={}, overrides={"embedding.provider": "hash", "embedding.dim": 64,
                                                    "paths.corpus": corpus, "paths.vectorstore": tmp_path / "vs",
                                                    "ingest.max_prune_fraction": 1.0})
    live: set[int] = set()
    for step in range(4):
        for i in rng.sample(sorted(live), min(len(live), 2)) if step else []:
            (corpus / f"n{i}.txt").unlink()
            live.discard(i)
        for i in rng.sample(range(12), 4):
            (corpus / f"n{i}.txt").write_text(_news(rng, i), encoding="utf-8")
            live.add(i)
        report = ingest(settings)
        index = build_assistant(settings).index
        ledger = Ledger.open(keyword_path(settings.paths.vectorstore, report.collection))
        assert ledger is not None and people_store.is_built(ledger.db)
        full = PeopleIndex.from_chunks(index.all_chunks(), analyse=open_analyses(settings, index.name).get_many)
        assert len(full) >= 2
        keys, ids = list(full.by_name), sorted(index.stored_articles())
        assert snapshot(LedgerPeople(ledger.db), keys, ids) == snapshot(full, keys, ids), f"step {step}"
        ledger.close()


# ------------------------------------------------------------------------------------------ bounded lookups

def _as_format_1(ledger: Ledger) -> None:
    """Turn built tables back into the layout of format 1 (no mention rows, no role counts, role rows without
    their role key and date), as a ledger written before format 2 holds them."""
    def step(db: Any) -> None:
        cols = ("art, ord, article_id, key, name, role, title, sentence, lo, hi, sentence_start")
        db.execute(f"CREATE TABLE roles_v1 AS SELECT {cols} FROM people_roles")
        for name in ("people_roles", "people_mentions", "people_role_keys"):
            db.execute(f"DROP TABLE {name}")
        db.execute("ALTER TABLE roles_v1 RENAME TO people_roles")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'people_format'")
    ledger.write(step)


@pytest.mark.parametrize("seed", range(3))
def test_an_older_ledger_is_upgraded_from_its_rows(tmp_path: Path, seed: int) -> None:
    rng = random.Random(100 + seed)
    ledger = _built(tmp_path, "old")
    articles = {a.article_id: a for a in (_article(rng, f"b{i:02d}") for i in range(12))}
    ledger.write(lambda db: people_store.replace_articles(db, list(articles.values())))
    _as_format_1(ledger)
    assert not people_store.is_built(ledger.db) and people_store.needs_upgrade(ledger.db)
    ledger.write(people_store.upgrade)
    assert people_store.is_built(ledger.db) and not people_store.needs_upgrade(ledger.db)
    ref = _reference(articles)
    keys, ids = list(ref.by_name), sorted(articles)
    assert snapshot(LedgerPeople(ledger.db), keys, ids) == snapshot(ref, keys, ids)
    # and it keeps being updated exactly
    gone, fresh = sorted(articles)[:3], _article(rng, "b05")
    for aid in gone:
        del articles[aid]
    articles[fresh.article_id] = fresh
    ledger.write(lambda db: people_store.replace_articles(db, [fresh], gone))
    ref = _reference(articles)
    keys, ids = list(ref.by_name), sorted(articles)
    assert snapshot(LedgerPeople(ledger.db), keys, ids) == snapshot(ref, keys, ids)


def test_a_who_answer_names_the_newest_dates_and_counts_the_rest(tmp_path: Path) -> None:
    """Someone named in many articles: the answer lists the newest 8 dates of each role and how many more
    there are, from the stored index as from the in-memory one."""
    from postqa.index.people import who_answer

    arts = [ArticlePeople(f"k{i:02d}", f"T{i}", date(2020, 1, 1 + i), "", (
        RoleRow("Kang Ning", "Chairman of China Post", "Kang Ning, Chairman of China Post, spoke.", (0, 9), 0),),
        ((0, "Kang Ning, Chairman of China Post, spoke.", (("kang ning", 0, 2, 0, 9),)),)) for i in range(12)]
    arts.append(ArticlePeople("z", "Z", date(2019, 6, 1), "", (
        RoleRow("Kang Ning", "President", "President Kang Ning opened it.", (0, 19), 0),), ()))
    ledger = _built(tmp_path, "l")
    ledger.write(lambda db: people_store.replace_articles(db, arts))
    stored, ref = LedgerPeople(ledger.db), PeopleIndex.from_summaries(arts)
    a, b = who_answer(stored, "Who is Kang Ning?", "Kang Ning"), who_answer(ref, "Who is Kang Ning?", "Kang Ning")
    assert a is not None and b is not None and a.to_json() == b.to_json()
    assert a.text == ("Kang Ning: Chairman of China Post (as of 2020-01-12; also 2020-01-11, 2020-01-10, 2020-01-09, "
                      "2020-01-08, 2020-01-07, 2020-01-06, 2020-01-05 and 4 earlier); President (2019-06-01)")
    assert [c.article_id for c in a.citations] == [f"k{i:02d}" for i in range(11, 3, -1)]
    person = stored.person("Kang Ning", 2)
    assert person is not None and [(r.role, r.total, len(r.dates)) for r in person.roles] == [
        ("Chairman of China Post", 12, 2), ("President", 1, 1)]
