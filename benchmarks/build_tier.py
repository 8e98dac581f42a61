"""Build one large benchmark tier (100k-1M chunks) by bulk paths: real news texts (replicated with changes where
they run out), chunked by postqa's own chunker with the real tokenizer, **synthetic vectors** (a real MiniLM
vector of one of 600 real articles, picked by the chunk's hash, plus Gaussian noise, renormalised), written to
Chroma in large batched upserts; the chunk records are also written to ``chunks.jsonl`` so the side indexes
(catalogue, BM25) can be built and timed separately (``--side``). No spaCy parse: analysis and the people
index are measured on a sample by bench_query.py and extrapolated.

    nice -n 10 .venv/bin/python benchmarks/build_tier.py --workdir /work/scratch/scale --label 100k --chunks 100000
    nice -n 10 .venv/bin/python benchmarks/build_tier.py --workdir /work/scratch/scale --label 100k --side

Tiers beyond the real corpus (300k, 1M; issue 15 round 4) skip re-chunking: ``--from-records`` streams the chunk
records of an already built tier (its ``chunks.jsonl``) and repeats them as copies (copy k: new article and chunk
ids, the same text: exactly the records ``--side --copies K`` indexes, so the 986k keyword ledger built that way
is this tier's ledger), each chunk with its own **synthetic** vector (seeded by text and id), written through the
product's own ``ChromaIndex.upsert`` into a collection the product's ``open_index`` created (the HNSW
configuration the app uses). ``--snapshot-at 300000`` copies the store when it passes that many chunks:

    nice -n 15 timeout 6600 .venv/bin/python benchmarks/build_tier.py --workdir /work/scratch/tiers --label 1m \
        --chunks 986168 --from-records /work/scratch/scale/tier-100k/chunks.jsonl \
        --vectors /work/scratch/scale/real_vectors.npz --batch 5000 --snapshot-at 300000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from bench_query import LookupEmbedder, tier_corpus  # noqa: E402


def _articles(corpus: Path) -> Iterator[Any]:
    """The tier's articles, read one JSON line at a time by postqa's jsonl reader."""
    from postqa.reading.corpus import read_corpus

    yield from read_corpus([corpus]).articles


def build_chroma(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from postqa.index.embedding import create_embedder
    from postqa.index.indexer import Indexer, article_hash
    from postqa.index.store import article_metadata, chunk_metadata
    from postqa.service.pipeline import index_spec, open_store

    store_dir = args.workdir / f"tier-{args.label}"
    shutil.rmtree(store_dir, ignore_errors=True)
    store_dir.mkdir(parents=True)
    corpus = args.workdir / f"tier-{args.label}.jsonl"
    info = tier_corpus(args.data_dir, args.chunks, corpus)
    settings = common.settings_for(store_dir, threads=1)
    real = create_embedder(settings.embedding)
    emb = LookupEmbedder(real, args.vectors, args.sigma)
    index = open_store(settings).open_index(index_spec(settings, emb), create=True)
    chunker = Indexer(emb, index, store_dir, settings.chunking)
    t0 = time.perf_counter()
    timing = {"chunk_s": 0.0, "vectors_s": 0.0, "chroma_s": 0.0}
    pending: list[tuple[Any, dict[str, Any]]] = []
    n_chunks = n_articles = 0
    with (store_dir / "chunks.jsonl").open("w", encoding="utf-8") as records:

        def flush() -> None:
            t = time.perf_counter()
            vecs = emb.embed_documents([c.context_text for c, _ in pending])
            timing["vectors_s"] += time.perf_counter() - t
            t = time.perf_counter()
            index.upsert([c for c, _ in pending], np.asarray(vecs), [m for _, m in pending])
            timing["chroma_s"] += time.perf_counter() - t
            for c, m in pending:
                records.write(json.dumps({"id": c.id, "text": c.text, "meta": m}, ensure_ascii=False) + "\n")
            pending.clear()

        for article in _articles(corpus):
            t = time.perf_counter()
            chunks = chunker.chunk(article)
            h = article_hash(article)
            about = article_metadata(article)
            timing["chunk_s"] += time.perf_counter() - t
            for c in chunks:
                pending.append((c, chunk_metadata(c, h, str(corpus), len(chunks), about)))
            n_chunks += len(chunks)
            n_articles += 1
            if len(pending) >= args.batch:
                flush()
                print(f"[{args.label}] {n_chunks} chunks {time.perf_counter() - t0:.0f} s", file=sys.stderr,
                      flush=True)
        if pending:
            flush()
    out = {"tier": args.label, "store": str(store_dir), "chunks": n_chunks, "articles": n_articles,
           "real_vectors": emb.n_real, "synthetic_vectors": emb.n_synthetic, "sigma": args.sigma,
           "build_s": round(time.perf_counter() - t0, 1), **{k: round(v, 1) for k, v in timing.items()}, **info}
    (store_dir / "bench_tier.json").write_text(json.dumps(out))
    print(json.dumps(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--chunks", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=4000, help="chunks per Chroma upsert")
    ap.add_argument("--vectors", type=Path, default=None, help="real_vectors.npz (default WORKDIR/real_vectors.npz)")
    ap.add_argument("--sigma", type=float, default=0.03)
    ap.add_argument("--side", action="store_true", help="build the side indexes of an existing tier")
    ap.add_argument("--copies", type=int, default=1, help="--side: the chunk records repeated with new ids")
    ap.add_argument("--people-sample", type=int, default=300, help="--side: chunks the people index is built from")
    ap.add_argument("--ledger", default="", help="--side: build the ledger here (default: the tier's own)")
    ap.add_argument("--from-records", type=Path, default=None,
                    help="chunks.jsonl of a built tier: repeat its records as changed copies up to --chunks")
    ap.add_argument("--snapshot-at", type=int, action="append", default=[],
                    help="--from-records: copy the store to tier-<N/1000>k when it passes N chunks (repeatable)")
    ap.add_argument("--resume", action="store_true",
                    help="--from-records: continue a stopped build of this tier after the records it wrote")
    ap.add_argument("--adopt-ledger", type=Path, default=None,
                    help="copy this ledger (built by --side --copies K --ledger DIR from the records this tier was "
                         "built from) in as the tier's own, then the manifest and the people sample")
    ap.add_argument("--edit-first", type=int, default=100,
                    help="--from-records: store the first N articles as --side's incremental step edits them")
    args = ap.parse_args()
    args.vectors = args.vectors or args.workdir / "real_vectors.npz"
    if args.adopt_ledger:
        adopt_ledger(args)
    elif args.side:
        build_side(args)
    elif args.from_records:
        build_from_records(args)
    else:
        build_chroma(args)


def _copied_records(path: Path, total: int, edited: int) -> Iterator[tuple[Any, dict[str, Any], bool]]:
    """Up to ``total`` (Chunk, metadata, edited): the records of ``path``, then copies of them with new article
    and chunk ids (copy k >= 1; exactly ``_records``' copies, so a ledger built by ``--side --copies K`` from the
    same records holds the same chunks). ``edited`` is True for the chunks of the first ``edited`` articles: the
    ones ``build_side``'s incremental step edits in its ledger (see ``edited_record``)."""
    seen: set[str] = set()
    for n, (chunk, meta) in enumerate(_records(path, 10_000)):
        if n >= total:
            return
        if len(seen) < edited:
            seen.add(chunk.article_id)
        yield chunk, meta, chunk.article_id in seen


def edited_record(chunk: Any, meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The chunk as ``_measure_increment`` leaves it in the ledger (text edited, hashes "edited")."""
    return replace_text(chunk), {**meta, "article_hash": "edited", "chunk_hash": "edited"}


def build_from_records(args: argparse.Namespace) -> dict[str, Any]:
    """A tier of ``--chunks`` chunks from the records of a built tier (see the module doc), through the product's
    store code; snapshots on the way. Prints one JSON line and progress (rate) on stderr."""
    import numpy as np

    from postqa.index.embedding import create_embedder
    from postqa.service.pipeline import index_spec, open_store

    store_dir = args.workdir / f"tier-{args.label}"
    done = _resumable(store_dir) if args.resume else 0
    if not args.resume:
        shutil.rmtree(store_dir, ignore_errors=True)
        store_dir.mkdir(parents=True)
    settings = common.settings_for(store_dir, threads=1)
    emb = LookupEmbedder(create_embedder(settings.embedding), args.vectors, args.sigma)
    index = open_store(settings).open_index(index_spec(settings, emb), create=True)
    batch = min(args.batch, int(index.collection._client.get_max_batch_size()))
    t0 = time.perf_counter()
    timing = {"vectors_s": 0.0, "chroma_s": 0.0}
    snaps = sorted(args.snapshot_at)
    pending: list[tuple[Any, dict[str, Any], Any]] = []
    n = done
    with (store_dir / "chunks.jsonl").open("a" if args.resume else "w", encoding="utf-8") as records:
        for i, (chunk, meta, edit) in enumerate(_copied_records(args.from_records, args.chunks, args.edit_first)):
            if i < done:
                continue
            pending.append((*edited_record(chunk, meta), (chunk, meta)) if edit else (chunk, meta, (chunk, meta)))
            if len(pending) < batch:
                continue
            n += _flush(pending, emb, index, records, timing, np)
            print(f"[{args.label}] {n} chunks {time.perf_counter() - t0:.0f} s "
                  f"chroma {n / max(timing['chroma_s'], 1e-9):.0f}/s load {common.loadavg()}", file=sys.stderr,
                  flush=True)
            while snaps and n >= snaps[0]:
                records.flush()
                _snapshot(store_dir, args.workdir / f"tier-{snaps.pop(0) // 1000}k", n, args)
        n += _flush(pending, emb, index, records, timing, np)
    out = {"tier": args.label, "store": str(store_dir), "chunks": n, "from_records": str(args.from_records),
           "real_vectors": emb.n_real, "synthetic_vectors": emb.n_synthetic, "sigma": args.sigma, "batch": batch,
           "build_s": round(time.perf_counter() - t0, 1), **{k: round(v, 1) for k, v in timing.items()},
           "count": index.count(), "disk_mb": common.dir_mb(store_dir / "chroma")}
    (store_dir / "bench_tier.json").write_text(json.dumps(out))
    print(json.dumps(out))
    return out


def _resumable(store_dir: Path) -> int:
    """How many records a stopped build wrote completely (a partial last line is cut off); the build resumes
    after them (upserts are idempotent: a batch Chroma stored but whose records were cut is written again)."""
    path = store_dir / "chunks.jsonl"
    data = path.read_bytes()
    keep = data[: data.rfind(b"\n") + 1]
    path.write_bytes(keep)
    return keep.count(b"\n")


def _flush(pending: list[tuple[Any, dict[str, Any], Any]], emb: Any, index: Any, records: Any,
           timing: dict[str, float], np: Any) -> int:
    """One upsert of (chunk, metadata, unedited record): the synthetic vector is seeded by text *and* id, so the
    copies of a text get different vectors; ``chunks.jsonl`` gets the unedited records (what ``--side`` reads)."""
    if not pending:
        return 0
    t = time.perf_counter()
    vecs = emb.embed_documents([f"{c.context_text}\x00{c.id}" for c, _, _ in pending])
    timing["vectors_s"] += time.perf_counter() - t
    t = time.perf_counter()
    index.upsert([c for c, _, _ in pending], np.asarray(vecs), [m for _, m, _ in pending])
    timing["chroma_s"] += time.perf_counter() - t
    for _, _, (c, m) in pending:
        records.write(json.dumps({"id": c.id, "text": c.text, "meta": m}, ensure_ascii=False) + "\n")
    done = len(pending)
    pending.clear()
    return done


def _snapshot(store_dir: Path, dest: Path, n: int, args: argparse.Namespace) -> None:
    """A copy of the store as it is between two upserts (Chroma replays its log on open), with its records."""
    t = time.perf_counter()
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(store_dir / "chroma", dest / "chroma")
    shutil.copy(store_dir / "chunks.jsonl", dest / "chunks.jsonl")
    (dest / "bench_tier.json").write_text(json.dumps({
        "tier": dest.name.removeprefix("tier-"), "store": str(dest), "chunks": n, "snapshot_of": str(store_dir),
        "from_records": str(args.from_records), "real_vectors": 0, "synthetic_vectors": n, "sigma": args.sigma}))
    print(f"snapshot {dest} at {n} chunks in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)


def _records(path: Path, copies: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(Chunk, metadata) of the tier's chunk records; ``copies`` > 1 repeats them with new ids (a keyword-only
    tier larger than the Chroma one: same texts, new article and chunk ids)."""
    from postqa.index.store import chunk_from_record

    for k in range(copies):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                meta = dict(rec["meta"])
                cid = rec["id"]
                if k:
                    art, _, n = cid.partition("#")
                    meta["article_id"] = f"{art}-r{k}"
                    cid = f"{art}-r{k}#{n}"
                yield chunk_from_record(cid, rec["text"], meta), meta


def build_side(args: argparse.Namespace) -> None:
    """The ledger (catalogue + BM25 segments) of a tier built as an ingest builds it (one replace per batch of
    articles), then: compaction, fingerprint, open time, BM25 query latency, and an incremental ingest of 100
    changed articles; each timed, resident memory after each step. Prints one JSON line."""
    from postqa.index.indexer import keyword_path
    from postqa.index.ledger import Ledger, chunk_row
    from postqa.index.store import stored_from_records

    store_dir = args.workdir / f"tier-{args.label}"
    tier = json.loads((store_dir / "bench_tier.json").read_text())
    root = Path(args.ledger) if args.ledger else keyword_path(store_dir, _collection(store_dir))
    shutil.rmtree(root, ignore_errors=True)
    out: dict[str, Any] = {"tier": args.label, "rss_start_mb": common.rss_mb()["rss_mb"]}
    t0 = time.perf_counter()
    ledger = Ledger.create(root)
    batch: list[tuple[Any, dict[str, Any]]] = []
    tok_s = 0.0
    n = 0
    last = ""
    for chunk, meta in _records(store_dir / "chunks.jsonl", args.copies):
        if len(batch) >= 1024 and chunk.article_id != last:
            tok_s += _apply(ledger, batch, chunk_row, stored_from_records)
            batch = []
        batch.append((chunk, meta))
        last = chunk.article_id
        n += 1
    tok_s += _apply(ledger, batch, chunk_row, stored_from_records)
    out.update(chunks=n, build_s=round(time.perf_counter() - t0, 1), tokenize_s=round(tok_s, 1),
               segments_before_compact=len(ledger.segments), rss_after_build_mb=common.rss_mb()["rss_mb"])
    with common.Timer() as t:
        ledger.compact(max_segments=1, delta_share=0.0)
    out.update(compact_s=round(t.seconds, 1), rss_after_compact_mb=common.rss_mb()["rss_mb"])
    with common.Timer() as t:
        fp = ledger.fingerprint
    out.update(fingerprint_s=round(t.seconds, 2), fingerprint=fp)
    ledger.close()
    _measure_open_and_queries(root, out)
    _measure_increment(root, store_dir, out, chunk_row, stored_from_records)
    out.update(disk_mb=common.dir_mb(root), peak_rss_mb=common.rss_mb()["peak_rss_mb"], copies=args.copies,
               chroma_tier_chunks=tier.get("chunks"))
    if not args.ledger:
        _record_state(store_dir, root)
        _sample_people(store_dir, root, args.people_sample, out)
    (store_dir / f"side-{args.copies}.json").write_text(json.dumps(out))
    print(json.dumps(out))


def adopt_ledger(args: argparse.Namespace) -> None:
    """The tier's ledger is a copy of one already built from the same chunk records (the 986k keyword tier for
    the 1M Chroma tier): copied in, given the date index its next write would add, then measured (open, BM25
    queries), the manifest recorded and the people sample built, as ``--side`` does after its build."""
    import sqlite3

    store_dir = args.workdir / f"tier-{args.label}"
    root = keyword_root(store_dir)
    shutil.rmtree(root, ignore_errors=True)
    t = time.perf_counter()
    shutil.copytree(args.adopt_ledger, root)
    out: dict[str, Any] = {"tier": args.label, "adopted_from": str(args.adopt_ledger),
                           "copy_s": round(time.perf_counter() - t, 1)}
    with sqlite3.connect(root / "ledger.sqlite") as db, common.Timer() as t2:
        db.execute("CREATE INDEX IF NOT EXISTS articles_published ON articles (published)")
    out["date_index_s"] = round(t2.seconds, 1)
    _measure_open_and_queries(root, out)
    _record_state(store_dir, root)
    _sample_people(store_dir, root, args.people_sample, out)
    out.update(disk_mb=common.dir_mb(root), peak_rss_mb=common.rss_mb()["peak_rss_mb"])
    (store_dir / "side-adopted.json").write_text(json.dumps(out))
    print(json.dumps(out))


def keyword_root(store_dir: Path) -> Path:
    from postqa.index.indexer import keyword_path

    return keyword_path(store_dir, _collection(store_dir))


def _sample_people(store_dir: Path, root: Path, sample: int, out: dict[str, Any]) -> None:
    """The people index the app loads at start-up, built from the first ``sample`` chunks only (a spaCy parse
    of every chunk would take hours: see bench_query's extrapolation) and labelled with the ledger's fingerprint,
    so the app opens it instead of parsing the whole tier."""
    from postqa.index.ledger import Ledger
    from postqa.index.people import PeopleIndex, people_path
    from postqa.index.store import chunk_from_record

    ledger = Ledger.open(root)
    assert ledger is not None
    chunks = []
    with (store_dir / "chunks.jsonl").open(encoding="utf-8") as fh:
        for line, _ in zip(fh, range(sample), strict=False):
            rec = json.loads(line)
            chunks.append(chunk_from_record(rec["id"], rec["text"], rec["meta"]))
    with common.Timer() as t:
        people = PeopleIndex.from_chunks(chunks, ledger.fingerprint)
    people.save(people_path(store_dir, root.name))
    out.update(people_sample_chunks=len(chunks), people_sample_build_s=round(t.seconds, 1), people=len(people))
    ledger.close()


def _record_state(store_dir: Path, root: Path) -> None:
    """The manifest an ingest would have written (fingerprint, counts, newest date), from the ledger."""
    from postqa.index.ledger import Ledger
    from postqa.index.store import ChromaIndex
    from postqa.service.pipeline import open_store

    store = open_store(common.settings_for(store_dir))
    name, spec, _ = next((n, sp, m) for n, sp, m in store.indexes() if sp is not None)
    index = ChromaIndex(store, store.client.get_collection(name, embedding_function=None), spec)
    ledger = Ledger.open(root)
    assert ledger is not None
    arts = ledger.stored_articles()
    index.set_state({"dirty": False, "fingerprint": ledger.fingerprint, "articles": len(arts),
                     "chunks": len(ledger), "articles_with_warnings": sum(1 for a in arts.values() if a.warnings),
                     "newest": max((a.published for a in arts.values() if a.published), default=""),
                     "last_ingest": "bench build_tier.py"})
    ledger.close()


def _collection(store_dir: Path) -> str:
    from postqa.service.pipeline import open_store

    settings = common.settings_for(store_dir)
    return next(n for n, sp, _ in open_store(settings).indexes() if sp is not None)


def _apply(ledger: Any, batch: list[tuple[Any, dict[str, Any]]], chunk_row: Any, stored_from: Any) -> float:
    if not batch:
        return 0.0
    t = time.perf_counter()
    rows = [chunk_row(c, m) for c, m in batch]
    spent = time.perf_counter() - t
    ledger.replace(list(stored_from([(c.id, m) for c, m in batch]).values()), rows)
    return spent


def _measure_open_and_queries(root: Path, out: dict[str, Any]) -> None:
    from bench_query import FIXED_QUESTIONS

    from postqa.index.ledger import Ledger

    with common.Timer() as t:
        ledger = Ledger.open(root)
    assert ledger is not None
    out.update(open_s=round(t.seconds, 3), rss_after_open_mb=common.rss_mb()["rss_mb"])
    questions = FIXED_QUESTIONS * 3
    times, cpu = [], []
    for q in questions:
        c0 = time.process_time()
        with common.Timer() as t:
            ledger.search(q, 30)
        times.append(t.seconds)
        cpu.append(time.process_time() - c0)
    out.update(bm25_query=common.summary_ms(times[len(FIXED_QUESTIONS):]),
               bm25_query_cpu=common.summary_ms(cpu[len(FIXED_QUESTIONS):]),
               rss_after_queries_mb=common.rss_mb()["rss_mb"])
    ledger.close()


def _measure_increment(root: Path, store_dir: Path, out: dict[str, Any], chunk_row: Any, stored_from: Any) -> None:
    """100 articles changed (their text edited): what an ingest of them costs in the ledger."""
    from postqa.index.ledger import Ledger

    ledger = Ledger.open(root)
    assert ledger is not None
    picked: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for chunk, meta in _records(store_dir / "chunks.jsonl", 1):
        if len(picked) >= 100 and chunk.article_id not in picked:
            break
        picked.setdefault(chunk.article_id, []).append((chunk, meta))
    edited = [(replace_text(c), {**m, "article_hash": "edited", "chunk_hash": "edited"})
              for items in picked.values() for c, m in items]
    with common.Timer() as t:
        ledger.mark_pending(list(picked))
        _apply(ledger, edited, chunk_row, stored_from)
        merged = ledger.compact()
        fp = ledger.fingerprint
    out.update(increment_100_articles_s=round(t.seconds, 2), increment_chunks=len(edited),
               increment_compacted=merged, increment_fp_changed=fp != out["fingerprint"])
    ledger.close()


def replace_text(chunk: Any) -> Any:
    from dataclasses import replace

    return replace(chunk, text=chunk.text + " Edited for the incremental benchmark.")


if __name__ == "__main__":
    main()
