"""The people index at scale: the full rebuild every ingest used to run (in memory, saved as one JSON file)
against the stored per-article index in the ledger (its one-off build, an ingest of changed articles, and the
query side: opening it and the lookups the answers make, in a fresh process each).

The tiers have no spaCy parse (~106 ms a chunk: hours), so the analyses are **synthetic**: ``--sample``
distinct chunks of the tier are parsed for real, and every chunk is given the analysis of one of them,
picked by a hash of its text (a changed article gets other picks). Names, roles and cross-article mentions
are therefore real spaCy output, repeated across the tier. Prints a table and one JSON line.

    nice -n 10 python benchmarks/bench_people.py --chunks $W/tier-100k/chunks.jsonl \\
        --ledger $W/tier-100k/ledger/<collection> --workdir /work/scratch/people/bench --label 123k --old

``--upgrade`` turns tables a build of format 1 left in the workdir into format 2 (timed) and runs the query side;
``--query-only`` runs the query side alone (``--chunks - --ledger -``: they are not read).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from postqa.core.types import Chunk  # noqa: E402
from postqa.index.people_rows import ArticlePeople  # noqa: E402
from postqa.nlp.analysis import Analysis  # noqa: E402


class Clock:
    """Wall and this process's CPU seconds (the box is shared: CPU is the figure to compare)."""

    def __enter__(self) -> Clock:
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0


def _records(path: Path, copies: int) -> Iterator[Chunk]:
    """The tier's chunks; ``copies`` > 1 repeats them with new ids, as the keyword-only tier's ledger does."""
    from postqa.index.store import chunk_from_record

    for k in range(copies):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                meta, cid = dict(rec["meta"]), rec["id"]
                if k:
                    art, _, n = cid.partition("#")
                    meta["article_id"], cid = f"{art}-r{k}", f"{art}-r{k}#{n}"
                yield chunk_from_record(cid, rec["text"], meta)


def _articles(path: Path, copies: int) -> Iterator[list[Chunk]]:
    """Each article's chunks together (the records list an article's chunks one after another)."""
    group: list[Chunk] = []
    for c in _records(path, copies):
        if group and c.article_id != group[0].article_id:
            yield group
            group = []
        group.append(c)
    if group:
        yield group


def sample_analyses(path: Path, n: int, cache: Path) -> list[Analysis]:
    """``n`` real spaCy analyses of chunks spread over the tier (parsed once, cached in ``cache``)."""
    if cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        return [Analysis.from_json(d["text"], d["a"]) for d in data]
    from postqa.nlp.pipeline import shared_analyser

    with path.open(encoding="utf-8") as fh:
        step = max(1, sum(1 for _ in fh) // n)
    texts = [c.text for i, c in enumerate(_records(path, 1)) if i % step == 0][:n]
    analyses = shared_analyser().analyse_many(texts)
    cache.write_text(json.dumps([{"text": a.text, "a": a.to_json()} for a in analyses]), encoding="utf-8")
    return analyses


class Synthetic:
    """``analyse(texts)``: for each text one of the sample analyses, by hash (``shift`` moves every pick:
    a changed article)."""

    def __init__(self, sample: list[Analysis], shift: int = 0) -> None:
        self.sample, self.shift = sample, shift

    def __call__(self, texts: Sequence[str]) -> list[Analysis]:
        return [self.sample[(int(hashlib.blake2b(t.encode(), digest_size=4).hexdigest(), 16) + self.shift)
                            % len(self.sample)] for t in texts]


def old_rebuild(args: argparse.Namespace, sample: list[Analysis], out: dict[str, Any]) -> Path:
    """What every ingest that changed anything did before: the whole index from every chunk, saved."""
    from postqa.index.people import PeopleIndex

    rss0 = common.rss_mb()["rss_mb"]
    chunks = [c for group in _articles(args.chunks, args.copies) for c in group]
    with Clock() as t:
        people = PeopleIndex.from_chunks(chunks, "bench", Synthetic(sample))
    path = args.workdir / f"people-{args.label}.json"
    with Clock() as ts:
        people.save(path)
    out.update(old_build_wall_s=round(t.wall, 1), old_build_cpu_s=round(t.cpu, 1), old_save_cpu_s=round(ts.cpu, 1),
               old_people=len(people), old_mentions=len(people.mentions),
               old_rss_added_mb=round(common.rss_mb()["rss_mb"] - rss0, 1),
               old_file_mb=round(path.stat().st_size / 1e6, 1))
    return path


def _renamed(arts: list[ArticlePeople], copies: int) -> list[ArticlePeople]:
    """The keyword-only tier repeats the chunks with new article ids: each copy contributes the same rows."""
    return arts + [dataclasses.replace(a, article_id=f"{a.article_id}-r{k}") for k in range(1, copies) for a in arts]


def new_build(args: argparse.Namespace, sample: list[Analysis], root: Path, out: dict[str, Any]) -> None:
    """The one-off build of the stored tables (an older store's first ingest), pages of 200 articles. With
    ``--copies`` the first copy is extracted and every copy inserted (renamed; what extracting each would give)."""
    from postqa.index import people_store
    from postqa.index.ledger import Ledger
    from postqa.index.people import contributions

    ledger = Ledger.open(root)
    assert ledger is not None, root
    before = common.dir_mb(root)
    analyse = Synthetic(sample)
    extract = insert = 0.0
    ledger.write(people_store.create_tables)
    ledger.write(people_store.reset)
    page: list[Chunk] = []
    n_arts = 0
    with Clock() as total:
        for group in list(_articles(args.chunks, 1)) + [[]]:
            page += group
            n_arts += 1
            if group and n_arts % 200:
                continue
            with Clock() as te:
                arts = _renamed(contributions(page, analyse), args.copies)
            with Clock() as ti:
                ledger.write(lambda db, arts=arts: people_store.add_built(db, arts))  # type: ignore[misc]
            extract, insert, page = extract + te.cpu, insert + ti.cpu, []
        with Clock() as tf:
            ledger.write(people_store.finish_build)
        ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    out.update(articles=(n_arts - 1) * args.copies, new_build_wall_s=round(total.wall, 1),
               new_build_cpu_s=round(total.cpu, 1), new_extract_cpu_s=round(extract, 1),
               new_insert_cpu_s=round(insert, 1), new_finish_cpu_s=round(tf.cpu, 1),
               new_disk_added_mb=round(common.dir_mb(root) - before, 1),
               new_build_peak_rss_mb=common.rss_mb()["peak_rss_mb"])
    ledger.close()


def increment(args: argparse.Namespace, sample: list[Analysis], root: Path, out: dict[str, Any]) -> None:
    """An ingest's people step for ``--changed`` changed articles (other analyses), then as many removed."""
    from postqa.index import people_store
    from postqa.index.ledger import Ledger
    from postqa.index.people import contributions

    ledger = Ledger.open(root)
    assert ledger is not None
    ids = sorted(str(a) for (a,) in ledger.db.execute("SELECT article_id FROM people_articles"))
    chosen = set(random.Random(7).sample(ids, 2 * args.changed))
    groups = [g for g in _articles(args.chunks, args.copies) if g[0].article_id in chosen]
    changed, removed = groups[:args.changed], [g[0].article_id for g in groups[args.changed:]]
    with Clock() as t:
        arts = contributions([c for g in changed for c in g], Synthetic(sample, shift=1))
        ledger.write(lambda db: people_store.replace_articles(db, arts))
    with Clock() as td:
        ledger.write(lambda db: people_store.replace_articles(db, [], removed))
    out.update(increment_articles=len(changed), increment_chunks=sum(len(g) for g in changed),
               increment_wall_s=round(t.wall, 3), increment_cpu_s=round(t.cpu, 3), remove_articles=len(removed),
               remove_wall_s=round(td.wall, 3), remove_cpu_s=round(td.cpu, 3))
    ledger.close()


_QUERY = """
import json, statistics, sys, time
sys.path.insert(0, {bench!r})
import common
t0, c0 = time.perf_counter(), time.process_time()
rss0 = common.rss_mb()["rss_mb"]
from postqa.index.people import PeopleIndex, open_stored_people, role_answer
from pathlib import Path
people = open_stored_people(Path({db!r})) if {stored!r} else PeopleIndex.load(Path({json!r}))
open_s, open_cpu = time.perf_counter() - t0, time.process_time() - c0
rss1 = common.rss_mb()["rss_mb"]
t1 = time.perf_counter()
names = people.most_cited(30)
top_s = time.perf_counter() - t1
ms = []
cpu = []
parts = {{"person": [], "role_answer": [], "find_in": []}}
for name in names:
    t, c = time.perf_counter(), time.process_time()
    p = people.person(name, 8)  # as who_answer asks (its citations: the newest 8 articles)
    c1 = time.process_time()
    role = next((r.role for r in p.roles), "President")
    role_answer(people, f"Who is the {{role}}?", role)  # the role's holder, as the answer asks the index
    c2 = time.process_time()
    people.find_in(f"Is {{name}} the {{role}} now?")
    c3 = time.process_time()
    ms.append((time.perf_counter() - t) * 1000)
    cpu.append((c3 - c) * 1000)
    for k, v in zip(parts, (c1 - c, c2 - c1, c3 - c2)):
        parts[k].append(v * 1000)
for v in parts.values():
    v.sort()
arts = sorted({{a["id"] for n in names[:5] for a in people.person(n, 2).articles}})[:10]
t = time.perf_counter()
people.mentions_in(arts)
both_ms = (time.perf_counter() - t) * 1000
ms.sort()
cpu.sort()
print(json.dumps({{"open_s": round(open_s, 3), "open_cpu_s": round(open_cpu, 3),
                  "who_cpu_p50_ms": round(cpu[len(cpu) // 2], 1), "who_cpu_p95_ms": round(cpu[int(len(cpu) * 0.95)], 1),
                  "rss_open_mb": round(rss1 - rss0, 1), "most_cited_s": round(top_s, 2),
                  "who_p50_ms": round(ms[len(ms) // 2], 1), "who_p95_ms": round(ms[int(len(ms) * 0.95)], 1),
                  "both_ms": round(both_ms, 1), "rss_after_mb": common.rss_mb()["rss_mb"],
                  "n": len(ms), "people": len(people),
                  **{{f"{{k}}_cpu_p50_ms": round(v[len(v) // 2], 1) for k, v in parts.items()}},
                  **{{f"{{k}}_cpu_p95_ms": round(v[int(len(v) * 0.95)], 1) for k, v in parts.items()}}}}))
"""


def query(root: Path, json_file: Path | None, stored: bool) -> dict[str, Any]:
    """Open the index in a fresh process and time the answers' lookups (who, role holders, names in a text)
    for the 30 people named in the most articles."""
    code = _QUERY.format(bench=str(Path(__file__).resolve().parent), db=str(root / "ledger.sqlite"),
                         json=str(json_file or ""), stored=stored)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=3600, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def same_answers(root: Path, json_file: Path, n: int = 40) -> int:
    """Differences between the stored index and the old in-memory one over the ``n`` most named people."""
    from postqa.index.people import PeopleIndex, open_stored_people

    stored, old = open_stored_people(root / "ledger.sqlite"), PeopleIndex.load(json_file)
    assert stored is not None and old is not None
    diffs = 0
    for name in old.most_cited(n):
        a, b = stored.person(name), old.person(name)
        diffs += (a.to_json() if a else None) != (b.to_json() if b else None)
        key = old.resolve(name)
        diffs += key is not None and stored.display_of(key) != old.display_of(key)
    return diffs


def upgrade(root: Path) -> dict[str, Any]:
    """Format 1 -> 2 of the workdir's tables in place (what the next ingest of a store written before does)."""
    from postqa.index import people_store
    from postqa.index.ledger import Ledger

    ledger = Ledger.open(root)
    assert ledger is not None and people_store.needs_upgrade(ledger.db), root
    before = common.dir_mb(root)
    with Clock() as t:
        ledger.write(people_store.upgrade)
    ledger.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    rows = {n: ledger.db.execute(f"SELECT count(*) FROM {n}").fetchone()[0]
            for n in ("people_mentions", "people_role_keys")}
    ledger.close()
    return {"upgrade_wall_s": round(t.wall, 1), "upgrade_cpu_s": round(t.cpu, 1), "rows": rows,
            "upgrade_disk_added_mb": round(common.dir_mb(root) - before, 1),
            "upgrade_peak_rss_mb": common.rss_mb()["peak_rss_mb"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=Path, required=True, help="the tier's chunks.jsonl")
    ap.add_argument("--ledger", type=Path, required=True, help="the tier's ledger folder (copied, never written)")
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--label", default="tier")
    ap.add_argument("--copies", type=int, default=1, help="repeat the chunks with new ids (the keyword-only tier)")
    ap.add_argument("--sample", type=int, default=300, help="distinct chunks parsed with spaCy")
    ap.add_argument("--changed", type=int, default=100)
    ap.add_argument("--old", action="store_true", help="also time the old full rebuild (in memory)")
    ap.add_argument("--query-only", action="store_true", help="only the query side, on the workdir's tables")
    ap.add_argument("--upgrade", action="store_true",
                    help="upgrade the workdir's tables of format 1 in place (timed), then the query side")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = args.workdir / f"ledger-{args.label}"
    if args.upgrade:
        out = {"label": args.label, "load": common.loadavg(), **upgrade(root)}
        print(json.dumps({**out, "stored_query": query(root, None, True), "load_end": common.loadavg()}))
        return
    if args.query_only:
        old_file = args.workdir / f"people-{args.label}.json"
        print(json.dumps({"label": args.label, "load": common.loadavg(), "stored_query": query(root, None, True),
                          **({"old_query": query(root, old_file, False)} if old_file.is_file() else {})}))
        return
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(args.ledger, root)
    out: dict[str, Any] = {"label": args.label, "load": common.loadavg()}
    sample = sample_analyses(args.chunks, args.sample, args.workdir / f"sample-{args.sample}.json")
    old = old_rebuild(args, sample, out) if args.old else None
    new_build(args, sample, root, out)
    if old is not None:
        out["differences_in_40_people"] = same_answers(root, old)
    out["stored_query"] = query(root, None, stored=True)
    if old is not None:
        out["old_query"] = query(root, old, stored=False)
    increment(args, sample, root, out)
    out["load_end"] = common.loadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
