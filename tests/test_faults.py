"""Faults: kill -9 at each ingest step, two ingests at once, readers during an ingest (issue 6).

The crash runs are real processes (`python -m postqa.interfaces.cli ingest`) that SIGKILL themselves at a named point
(POSTQA_CRASH_AT, see postqa.index.indexer._crash_point); everything else checks the store they leave behind.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_people_store import snapshot

from postqa.core.config import Settings, load_settings
from postqa.core.types import Answer
from postqa.index import people_store
from postqa.index.embedding import HashEmbedder
from postqa.index.indexer import article_hash, keyword_path
from postqa.index.ledger import Ledger
from postqa.index.people import PeopleIndex, contributions
from postqa.index.people_store import LedgerPeople
from postqa.index.store import ChromaIndex
from postqa.reading.corpus import read_corpus
from postqa.service.pipeline import build_assistant, index_spec, ingest, open_analyses, open_store

DIM = 256
NAMES = ["Li Wei", "Wang Fang", "Zhang Min", "Liu Yang", "Chen Jing", "Yang Tao", "Huang Lei", "Zhao Gang",
         "Wu Xia", "Zhou Bin", "Xu Ming", "Sun Hui", "Ma Lin", "Zhu Hong", "Hu Jun", "Guo Qiang"]
CITIES = ["Harbin", "Lhasa", "Kunming", "Xiamen", "Urumqi", "Nanning", "Hefei", "Jinan", "Taiyuan", "Lanzhou",
          "Haikou", "Guiyang", "Yinchuan", "Xining", "Hohhot", "Changsha"]


# ------------------------------------------------------------------------------------------ helpers


def article_text(i: int, version: int = 1, sentences: int = 45) -> str:
    """A synthetic article of ~3 chunks; ``version`` 2 changes one sentence in the middle and adds one."""
    name, city = NAMES[i % len(NAMES)], CITIES[i % len(CITIES)]
    body = [f"{name} opened the {city} parcel sorting centre in March {2010 + i}.",
            f"{name}, Director of the {city} Postal Bureau, welcomed the first couriers.",  # the people index
            f"{NAMES[(i + 1) % len(NAMES)]} sent a letter of congratulations."]  # named in another article
    body += [f"The {city} branch handled {1000 * i + j} parcels on day {j} of the trial,"
             f" a record for unit {i}."
             for j in range(sentences)]
    if version == 2:
        body[sentences // 2] = f"Midway through the trial {name} moved the {city} team to a new depot."
        body.append(f"In the second half {name} hired {20 + i} more couriers for {city}.")
    return f"{city} postal news {i}\nDate: 2021-04-{i % 28 + 1:02d}\n\n" + " ".join(body) + "\n"


def write_corpus(folder: Path, versions: dict[int, int]) -> None:
    """Make ``folder`` hold exactly the articles ``{i: version}``."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"a{i:02d}.txt": article_text(i, v) for i, v in versions.items()}
    for f in folder.glob("*.txt"):
        if f.name not in wanted:
            f.unlink()
    for name, text in wanted.items():
        path = folder / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


V1 = {i: 1 for i in range(12)}
# updates 0-3 (one sentence changed, one added), deletes 10 and 11, adds 12-14: real work at every kill point
V2 = {**{i: 2 for i in range(4)}, **{i: 1 for i in range(4, 10)}, **{i: 1 for i in range(12, 15)}}


def settings_for(tmp: Path) -> Settings:
    return load_settings(environ={}, overrides={
        "embedding.provider": "hash", "embedding.dim": DIM, "paths.corpus": tmp / "corpus",
        "paths.vectorstore": tmp / "vs"})


def cli_env(tmp: Path, crash_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": str(DIM),
                "POSTQA_PATHS__CORPUS": str(tmp / "corpus"), "POSTQA_PATHS__VECTORSTORE": str(tmp / "vs"),
                "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
                "POSTQA_EMBEDDING__WRITE_BATCH": "4"})  # several write steps, so a kill can fall between them
    if crash_at:
        env["POSTQA_CRASH_AT"] = crash_at
    return env


def cli(tmp: Path, *args: str, crash_at: str | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m postqa.interfaces.cli ARGS`, hash embedder, tmp/corpus and tmp/vs (cwd=tmp: no postqa.toml)."""
    return subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", *args], env=cli_env(tmp, crash_at), cwd=tmp,
                          capture_output=True, text=True, timeout=timeout)


def cli_popen(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "postqa.interfaces.cli", *args], env=cli_env(tmp), cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def open_index(settings: Settings) -> ChromaIndex:
    emb = HashEmbedder(dim=settings.embedding.dim)
    return open_store(settings).open_index(index_spec(settings, emb), create=False)


def expected_hashes(folder: Path) -> dict[str, str]:
    read = read_corpus([folder])
    assert not read.problems, read.problems
    return {a.id: article_hash(a) for a in read.articles}


def assert_consistent(settings: Settings) -> dict[str, str]:
    """After a completed ingest: no orphan or missing chunks, BM25 == Chroma, the manifest is true.
    Returns {article id: stored hash}."""
    index = open_index(settings)
    stored = index.stored_articles()
    for art in stored.values():
        assert art.present == art.n_chunks and art.article_hash, art
    chunks = list(index.all_chunks())
    assert all(c.id.split("#")[0] == c.article_id and c.article_id in stored for c in chunks)
    fp = index.fingerprint()
    bm25 = Ledger.open(keyword_path(settings.paths.vectorstore, index.name))
    assert bm25 is not None and bm25.fingerprint == fp
    assert sorted(bm25.ids) == sorted(c.id for c in chunks)
    assert bm25.stored_articles() == stored and not bm25.pending()  # the catalogue is what a full scan finds
    state = index.state()
    assert state["fingerprint"] == fp and state["dirty"] is False
    assert state["chunks"] == index.count() == len(chunks) and state["articles"] == len(stored)
    assert_people_rebuilt_equal(settings, bm25, index)
    return {aid: a.article_hash for aid, a in stored.items()}


def assert_people_rebuilt_equal(settings: Settings, ledger: Ledger, index: ChromaIndex) -> None:
    """The stored people index answers as one built from scratch over every stored chunk."""
    assert people_store.is_built(ledger.db)
    analyse = open_analyses(settings, index.name).get_many
    full = PeopleIndex.from_chunks(index.all_chunks(), analyse=analyse)
    assert len(full) > 5  # the articles name people with roles, and each other
    keys, ids = list(full.by_name), sorted(index.stored_articles())
    assert snapshot(LedgerPeople(ledger.db), keys, ids) == snapshot(full, keys, ids)


def assert_people_match_the_ledger(settings: Settings, ledger: Ledger, index: ChromaIndex,
                                   pending: set[str]) -> None:
    """After a crash: every article the ledger does not mark pending contributes to the stored people index
    exactly what its stored chunks give; nothing else is in it."""
    if not people_store.is_built(ledger.db):
        return
    analyse = open_analyses(settings, index.name).get_many
    listed = {str(a) for (a,) in ledger.db.execute("SELECT article_id FROM people_articles")}
    settled = set(ledger.stored_articles()) - pending
    assert settled <= listed <= settled | pending
    expected = contributions([c for c, _ in index.article_chunks(sorted(settled))], analyse)
    assert LedgerPeople(ledger.db)._articles(settled) == expected


def assert_crash_state_safe(settings: Settings, old: dict[str, str], new: dict[str, str]) -> dict[str, str]:
    """What a kill -9 may leave: a mix of old and new articles, each whole; the manifest says "dirty"
    (never a false "complete"); a keyword index that is current or detectably stale; nothing unchanged lost.
    """
    index = open_index(settings)
    stored = index.stored_articles()
    for aid, art in stored.items():
        assert art.present == art.n_chunks, f"orphan or missing chunks of {aid}: {art}"
        assert art.article_hash in (old.get(aid), new.get(aid)), f"{aid} holds a version never ingested"
    for aid, h in old.items():
        if new.get(aid) == h:  # unchanged by the crashed run: must be there, whole
            assert stored[aid].article_hash == h
    state = index.state()
    fp = index.fingerprint()
    assert state["dirty"] is True, "a crashed ingest must leave the manifest marked incomplete"
    ledger = Ledger.open(keyword_path(settings.paths.vectorstore, index.name))
    assert ledger is not None, "the ledger (catalogue and keyword index) is unreadable after the crash"
    # every article the ledger does not mark pending is exactly what Chroma holds (the next ingest reads the
    # pending ones back); with nothing pending the ledger is the store's content, fingerprint and all
    pending = set(ledger.pending())
    in_ledger = {a: s for a, s in ledger.stored_articles().items() if a not in pending}
    assert in_ledger == {a: s for a, s in stored.items() if a not in pending}
    by_article: dict[str, list[str]] = {}
    for c in index.all_chunks():
        by_article.setdefault(c.article_id, []).append(c.id)
    for aid in in_ledger:
        assert sorted(ledger.chunk_ids(aid)) == sorted(by_article.get(aid, [])), aid
    if not pending:
        assert ledger.fingerprint == fp
    assert_people_match_the_ledger(settings, ledger, index, pending)
    return {aid: a.article_hash for aid, a in stored.items()}


def last_json(out: str) -> dict[str, Any]:
    return dict(json.loads(out.strip().splitlines()[-1]))


# --------------------------------------------------------------------------------------- kill -9


@pytest.mark.parametrize("point", ["embedding", "before-keyword", "before-manifest"])
def test_kill_9_during_ingest_leaves_a_consistent_store_that_the_next_ingest_completes(
        tmp_path: Path, point: str) -> None:
    settings = settings_for(tmp_path)
    corpus = settings.paths.corpus
    write_corpus(corpus, V1)
    ingest(settings)
    old = assert_consistent(settings)
    write_corpus(corpus, V2)
    new = expected_hashes(corpus)

    crashed = cli(tmp_path, "ingest", "--json", crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr[-2000:])
    assert crashed.stdout == ""  # it never reached the summary

    left = assert_crash_state_safe(settings, old, new)
    if point == "embedding":  # mid-ingest: some changed articles written, others not yet
        written = {a for a in left if left[a] == new.get(a) != old.get(a)}
        pending = {a for a in new if left.get(a) != new[a]}
        assert written and pending, (written, pending)
    else:  # every Chroma write was done
        assert left == new
    # readers keep answering from the crashed store meanwhile
    answer = build_assistant(settings).ask("Who opened the Kunming parcel sorting centre?")
    assert answer.citations and answer.citations[0].article_id in left

    # the next ingest (no stale lock after kill -9) completes the job
    report = ingest(settings)
    if point == "embedding":
        assert report.chunks_embedded > 0 and report.updated and report.added
    else:  # nothing left to embed: only the keyword index and/or the manifest were missing
        assert report.chunks_embedded == 0 and report.added == report.updated == []
    assert not report.keyword_rebuilt  # the ledger is updated per article: nothing to rebuild from all chunks
    assert assert_consistent(settings) == new
    again = ingest(settings)
    assert again.chunks_embedded == 0 and again.unchanged == len(new) and not again.keyword_rebuilt
    final = build_assistant(settings).ask("Who hired more couriers for Harbin?")
    assert final.citations[0].article_id == "a00"


def test_kill_9_during_the_first_ingest_of_an_empty_store(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_corpus(settings.paths.corpus, V1)
    crashed = cli(tmp_path, "ingest", crash_at="embedding")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    index = open_index(settings)
    stored = index.stored_articles()
    assert 0 < len(stored) < len(V1) and all(a.present == a.n_chunks for a in stored.values())
    assert build_assistant(settings).status()["dirty"] is True  # `postqa status` warns "did not finish"
    report = ingest(settings)
    assert len(report.added) == len(V1) - len(stored) and report.unchanged == len(stored)
    assert assert_consistent(settings) == expected_hashes(settings.paths.corpus)


def _as_before_the_people_tables(settings: Settings) -> None:
    """Make the store look like one written before the people index lived in the ledger."""
    db = sqlite3.connect(keyword_path(settings.paths.vectorstore, open_index(settings).name) / "ledger.sqlite")
    with db:
        db.execute("DELETE FROM meta WHERE key = 'people_format'")
        for table in ("people_articles", "people_names", "people_roles", "people_keys"):
            db.execute(f"DROP TABLE {table}")
    db.close()


def test_kill_9_during_the_one_people_build_of_an_older_store(tmp_path: Path) -> None:
    """An older store's first ingest builds the people tables once, in pages; killed mid-way they stay
    unmarked (readers use the in-memory index meanwhile) and the next ingest builds them again."""
    settings = settings_for(tmp_path)
    write_corpus(settings.paths.corpus, V1)
    ingest(settings)
    _as_before_the_people_tables(settings)
    crashed = cli(tmp_path, "ingest", crash_at="people-build")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    ledger = Ledger.open(keyword_path(settings.paths.vectorstore, open_index(settings).name))
    assert ledger is not None and not people_store.is_built(ledger.db)
    answer = build_assistant(settings).ask("Who is Li Wei?")
    assert answer.answerable and "Director of the Harbin Postal Bureau" in answer.text
    report = ingest(settings)
    assert report.unchanged == len(V1) and report.chunks_embedded == 0
    assert assert_consistent(settings) == expected_hashes(settings.paths.corpus)
    assert build_assistant(settings).ask("Who is Li Wei?").text == answer.text


# ------------------------------------------------------------------------------------- two ingests

_HOLDER = """
import sys
from pathlib import Path
from postqa.index.indexer import IngestLock
with IngestLock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def test_second_ingest_process_stops_with_a_clear_message_or_waits(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_corpus(settings.paths.corpus, V1)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(settings.paths.vectorstore)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = cli(tmp_path, "ingest")
        assert refused.returncode == 2
        err = refused.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        assert err.startswith("postqa: error: another ingest (pid") and str(holder.pid) in err
        assert "--wait" in err
        assert not (settings.paths.vectorstore / "chroma").exists()  # it stopped before touching the store
        waiting = cli_popen(tmp_path, "ingest", "--wait", "60", "--json")
        time.sleep(1.0)
        assert waiting.poll() is None  # queued behind the holder
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err[-2000:]
    assert last_json(out)["added"] == len(V1)
    assert_consistent(settings)


def test_two_ingests_started_together_never_corrupt_the_store(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    write_corpus(settings.paths.corpus, {i: 1 for i in range(20)})
    procs = [cli_popen(tmp_path, "ingest", "--wait", "120", "--json") for _ in range(2)]
    results = [(p, *p.communicate(timeout=180)) for p in procs]
    for p, _out, err in results:
        assert p.returncode == 0, err[-2000:]
    reports = [last_json(out) for _p, out, _err in results]
    # one did all the work, the other (queued on the lock) found nothing left to do
    assert sorted(r["chunks_embedded"] for r in reports)[0] == 0
    assert sum(r["added"] for r in reports) == 20
    assert len(assert_consistent(settings)) == 20


# ---------------------------------------------------------------------------------- readers meanwhile


def test_assistant_keeps_answering_while_another_process_ingests(tmp_path: Path) -> None:
    """A reader thread asks in a loop while another process updates, adds and deletes articles: no exception,
    every reply an Answer citing articles that exist in the old or the new corpus.

    Afterwards the same reader sees the new vectors: embedded Chroma keeps its vector index in memory per
    process, so the reader reopens its client when the manifest's fingerprint changes (without that, dense
    hits were deleted chunks with empty text, or old vectors under new text).
    """
    settings = settings_for(tmp_path)
    corpus = settings.paths.corpus
    write_corpus(corpus, {i: 1 for i in range(40)})
    ingest(settings)
    known = {f"a{i:02d}" for i in range(48)}
    assistant = build_assistant(settings)
    assistant.keyword.ttl = 0.2  # notice the new keyword index quickly
    questions = [f"Who opened the {CITIES[i % 16]} parcel sorting centre?" for i in range(16)] + [
        "How many parcels did the Hefei branch handle on day 7?", "Who hired more couriers for Lhasa?"]
    stop = threading.Event()
    errors: list[BaseException] = []
    answers: list[Answer] = []

    def reader() -> None:
        n = 0
        while not stop.is_set():
            try:
                answers.append(assistant.ask(questions[n % len(questions)]))
            except BaseException as err:  # noqa: BLE001 - any failure is the finding
                errors.append(err)
            n += 1

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        # an ingest by another process: update 30 articles, delete 2, add 8
        write_corpus(corpus, {**{i: 2 for i in range(30)}, **{i: 1 for i in range(30, 38)},
                              **{i: 1 for i in range(40, 48)}})
        before = len(answers)
        run = cli(tmp_path, "ingest")
        during = len(answers) - before
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not errors, [repr(e) for e in errors[:3]]
    assert during > 20, f"only {during} questions were asked during the ingest"
    assert all(isinstance(a, Answer) for a in answers)
    assert all(c.article_id in known for a in answers for c in a.citations)
    # the same Assistant reads the new manifest and keyword index without being rebuilt
    assert assistant.status()["articles"] == 46 and not assistant.status()["dirty"]
    cited = assistant.ask("Who hired 26 more couriers for Hefei?").citations
    assert any(c.article_id == "a06" for c in cited)
    current = {f"a{i:02d}" for i in (*range(38), *range(40, 48))}
    for q in questions:
        for hit in assistant.retriever.retrieve(q, top_k=10, mode="dense"):
            assert hit.chunk.text and hit.chunk.article_id in current, hit.chunk.id
