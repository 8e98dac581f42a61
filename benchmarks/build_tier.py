"""Build one large benchmark tier (100k-1M chunks) by bulk paths: real news texts (replicated with changes where
they run out), chunked by postqa's own chunker with the real tokenizer, **synthetic vectors** (a real MiniLM
vector of one of 600 real articles, picked by the chunk's hash, plus Gaussian noise, renormalised), written to
Chroma in large batched upserts; the chunk records are also written to ``chunks.jsonl`` so the side indexes
(catalogue, BM25) can be built and timed separately (``--side``). No spaCy parse: analysis and the people
index are measured on a sample by bench_query.py and extrapolated.

    nice -n 10 .venv/bin/python benchmarks/build_tier.py --workdir /work/scratch/scale --label 100k --chunks 100000
    nice -n 10 .venv/bin/python benchmarks/build_tier.py --workdir /work/scratch/scale --label 100k --side
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
    args = ap.parse_args()
    args.vectors = args.vectors or args.workdir / "real_vectors.npz"
    if args.side:
        build_side(args)
    else:
        build_chroma(args)


def build_side(args: argparse.Namespace) -> None:
    raise SystemExit("side-index build: see below")


if __name__ == "__main__":
    main()
