"""Ingest benchmark: postqa vs the raw encoder on the same chunk texts vs llama-index's default pipeline,
plus unchanged and 1%-changed re-ingest. Prints markdown tables and writes JSON.

    nice -n 19 .venv/bin/python benchmarks/bench_ingest.py --corpus reuters21578.jsonl:1000 \
        --corpus bbc_news_2225.jsonl:400 --workdir /tmp/postqa-bench
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import loadavg  # noqa: E402


class Timer(common.Timer):
    """Wall seconds and this process's CPU seconds (all its threads, Chroma's included)."""

    def __enter__(self) -> Timer:
        self.c0 = time.process_time()
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.cpu = time.process_time() - self.c0


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def parse_corpus_arg(spec: str) -> tuple[str, int | None]:
    name, _, lim = spec.partition(":")
    return name, (int(lim) if lim and lim != "all" else None)


def changed_copy(src: Path, dst: Path, fraction: float) -> int:
    """A copy of a jsonl corpus with every 1/fraction-th article's body edited (one sentence appended)."""
    step = max(1, round(1 / fraction))
    n = 0
    with src.open(encoding="utf-8") as fin, dst.open("w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i % step == step // 2 and line.strip():
                obj = json.loads(line)
                key = "text" if "text" in obj else "body"
                if obj.get(key):
                    obj[key] = obj[key] + "\nOfficials confirmed the revised figures on Tuesday."
                    n += 1
                line = json.dumps(obj) + "\n"
            fout.write(line)
    return n


def make_peer_embedding(model: Any) -> Any:
    """A llama-index BaseEmbedding over the same loaded sentence-transformers model (defaults kept:
    embed_batch_size = llama-index's DEFAULT_EMBED_BATCH_SIZE)."""
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class STEmbedding(BaseEmbedding):
        _model: Any = PrivateAttr()

        def __init__(self, st_model: Any, **kw: Any) -> None:
            super().__init__(model_name="all-MiniLM-L6-v2 (local)", **kw)
            self._model = st_model

        def _enc(self, texts: list[str]) -> list[list[float]]:
            out = self._model.encode(
                texts,
                batch_size=max(1, len(texts)),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return out.tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._enc([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._enc(texts)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._enc([query])[0]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return STEmbedding(model)


def run_peer(articles: list[Any], embedder: Any, workdir: Path) -> dict[str, Any]:
    """llama-index's default ingest: Documents -> SentenceSplitter() -> embed -> ChromaVectorStore."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.vector_stores.chroma import ChromaVectorStore

    path = workdir / "peer-chroma"
    shutil.rmtree(path, ignore_errors=True)
    with Timer() as t:
        docs = [
            Document(
                text=a.text,
                id_=a.id,
                metadata={"title": a.title, "published": a.published.isoformat() if a.published else ""},
            )
            for a in articles
        ]
        client = chromadb.PersistentClient(path=str(path), settings=ChromaSettings(anonymized_telemetry=False))
        col = client.get_or_create_collection(
            "peer", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        store = ChromaVectorStore(chroma_collection=col)
        ctx = StorageContext.from_defaults(vector_store=store)
        emb = make_peer_embedding(embedder.model)
        splitter = SentenceSplitter()
        VectorStoreIndex.from_documents(
            docs, storage_context=ctx, embed_model=emb, transformations=[splitter], show_progress=False
        )
    n = col.count()
    return {
        "seconds": round(t.seconds, 2),
        "cpu_s": round(t.cpu, 2),
        "chunks": n,
        "splitter": f"SentenceSplitter(chunk_size={splitter.chunk_size}, chunk_overlap={splitter.chunk_overlap})",
        "embed_batch_size": emb.embed_batch_size,
        "disk_mb": common.dir_mb(path),
    }


def tune(embedder: Any, texts: list[str], sample: int) -> list[dict[str, Any]]:
    """Batch size and length sorting on a sample of the chunk texts (sentence-transformers sorts by length
    inside each encode call; 'unsorted' calls encode once per caller-ordered mini-batch)."""
    import torch

    rows = []
    sub = texts[:sample]
    model = embedder.model
    model.encode(sub[:8], batch_size=8)
    for label, bs, sort, threads in [
        ("bs32 sorted 2thr", 32, True, 2),
        ("bs32 unsorted 2thr", 32, False, 2),
        ("bs8 sorted 2thr", 8, True, 2),
        ("bs128 sorted 2thr", 128, True, 2),
        ("bs32 sorted 1thr", 32, True, 1),
    ]:
        torch.set_num_threads(threads)
        with Timer() as t:
            if sort:
                model.encode(sub, batch_size=bs, normalize_embeddings=True, show_progress_bar=False)
            else:
                for i in range(0, len(sub), bs):
                    model.encode(sub[i : i + bs], batch_size=bs, normalize_embeddings=True, show_progress_bar=False)
        rows.append(
            {
                "config": label,
                "chunks": len(sub),
                "seconds": round(t.seconds, 2),
                "chunks_per_s": round(len(sub) / t.seconds, 1),
                "loadavg": loadavg(),
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    torch.set_num_threads(2)
    return rows


def overhead_probe(src: Path, embedder: Any, vectors: Path, work: Path) -> dict[str, Any]:
    from bench_query import LookupEmbedder, batched_indexer_class

    from postqa.index.indexer import IngestLock
    from postqa.reading.corpus import read_corpus
    from postqa.service.pipeline import index_spec, ingest, open_store

    out: dict[str, Any] = {}
    for variant in ("as_is", "batched"):
        store_dir = work / f"probe-{variant}"
        shutil.rmtree(store_dir, ignore_errors=True)
        s = common.settings_for(store_dir)
        lookup = LookupEmbedder(embedder, vectors, 0.03)
        with Timer() as t:
            if variant == "as_is":
                rep = ingest(s, paths=[src], embedder=lookup)
            else:
                store = open_store(s)
                with IngestLock(store_dir):
                    index = store.open_index(index_spec(s, lookup), create=True)
                    rep = batched_indexer_class()(lookup, index, store_dir, s.chunking).sync(read_corpus([src]))
        out[f"probe_{variant}_s"] = round(t.seconds, 2)
        out[f"probe_{variant}_cpu_s"] = round(t.cpu, 2)
        out.setdefault("probe", {})[variant] = {
            "seconds": round(t.seconds, 2),
            "chunks": rep.chunks_total,
            "real_vectors": lookup.n_real,
            "synthetic": lookup.n_synthetic,
            "loadavg": loadavg(),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA)
    ap.add_argument(
        "--corpus",
        action="append",
        default=None,
        help="FILE[:LIMIT] under --data-dir; LIMIT = first N articles or 'all' (repeatable). "
        "Default: reuters21578.jsonl:1000",
    )
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/postqa-bench"))
    ap.add_argument("--out", type=Path, default=common.DEFAULT_RESULTS / "ingest.json")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads while ingesting")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-reingest", action="store_true")
    ap.add_argument(
        "--overhead-probe",
        action="store_true",
        help="also time postqa's ingest with precomputed vectors, as is and with batched upserts",
    )
    ap.add_argument("--tune", type=int, default=0, metavar="N", help="also sweep batch/sort/threads on N chunks")
    args = ap.parse_args()
    specs = [parse_corpus_arg(s) for s in (args.corpus or ["reuters21578.jsonl:1000"])]

    import torch

    t_import = time.perf_counter()
    from postqa.index.chunking import chunk_article
    from postqa.index.embedding import SentenceTransformerEmbedder
    from postqa.reading.corpus import read_corpus
    from postqa.service.pipeline import ingest

    settings = common.settings_for(args.workdir / "unused", threads=args.threads, batch_size=args.batch_size)
    with Timer() as t_model:
        embedder = SentenceTransformerEmbedder(settings.embedding)
    torch.set_num_threads(args.threads)
    with Timer() as t_lib:  # one-off imports outside the timed phases (a long-lived app pays them once)
        import chromadb  # noqa: F401
        import llama_index.core  # noqa: F401
        import llama_index.vector_stores.chroma  # noqa: F401
    meta = {
        "lib_import_s": round(t_lib.seconds, 2),
        "machine": common.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "batch_size": args.batch_size,
        "model": common.model_path(),
        "model_load_s": round(t_model.seconds, 2),
        "import_s": round(time.perf_counter() - t_import, 2),
        "argv": sys.argv,
    }
    print(json.dumps({k: v for k, v in meta.items() if k != "machine"}), file=sys.stderr, flush=True)
    results: list[dict[str, Any]] = []
    tune_rows: list[dict[str, Any]] = []
    cache: dict[str, Any] = {}
    for name, limit in specs:
        label = f"{Path(name).stem}:{limit or 'all'}"
        work = args.workdir / label.replace(":", "-")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        src = common.subset_jsonl(args.data_dir / name, limit, work)
        src_orig = common.subset_jsonl(args.data_dir / name, limit, work / "orig")
        read = read_corpus([src])
        articles = read.articles
        max_tokens = min(settings.chunking.max_tokens, embedder.max_tokens)  # exactly as Indexer.chunk
        with Timer() as t_chunk:
            chunks = [
                c
                for a in articles
                for c in chunk_article(a, max_tokens, embedder.count_tokens, settings.chunking.overlap_sentences)
            ]
        texts = [c.context_text for c in chunks]
        ntok = embedder.count_tokens(texts)
        row: dict[str, Any] = {
            "corpus": label,
            "articles": len(articles),
            "skipped": len(read.problems),
            "chunks": len(chunks),
            "mean_tokens": round(sum(ntok) / len(ntok), 1),
            "chunk_s": round(t_chunk.seconds, 2),
        }
        print(f"[{label}] {row}", file=sys.stderr, flush=True)
        if args.tune:
            tune_rows += [{"corpus": label, **r} for r in tune(embedder, texts, args.tune)]
            torch.set_num_threads(args.threads)
        # 1. the practical limit: the same texts, one encode call (sentence-transformers sorts by length)
        la = loadavg()
        with Timer() as t_raw:
            vecs = embedder.model.encode(
                texts,
                batch_size=args.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        for t, v in zip(texts, vecs, strict=True):
            cache[text_key(t)] = v
        import numpy as np

        keys = sorted(cache)  # real vectors for bench_query.py's tiers, saved as soon as they exist
        np.savez(args.workdir / "real_vectors.npz", keys=np.array(keys), vecs=np.stack([cache[k] for k in keys]))
        row.update(
            raw_s=round(t_raw.seconds, 2),
            raw_cpu_s=round(t_raw.cpu, 2),
            raw_chunks_per_s=round(len(texts) / t_raw.seconds, 2),
            raw_loadavg=la,
        )
        print(f"[{label}] raw {t_raw.seconds:.1f}s", file=sys.stderr, flush=True)
        # 2. postqa's ingest, end to end from the jsonl (read, chunk, embed, Chroma, BM25, manifest)
        s = common.settings_for(work / "postqa-store", threads=args.threads, batch_size=args.batch_size)
        la = loadavg()
        with Timer() as t_pq:
            rep = ingest(s, paths=[src], embedder=embedder)
        assert rep.chunks_embedded == len(chunks), (rep.chunks_embedded, len(chunks))
        row.update(
            postqa_s=round(t_pq.seconds, 2),
            postqa_cpu_s=round(t_pq.cpu, 2),
            cpu_overhead=round(t_pq.cpu / t_raw.cpu, 3),
            postqa_chunks_per_s=round(len(chunks) / t_pq.seconds, 2),
            postqa_articles_per_s=round(len(articles) / t_pq.seconds, 2),
            postqa_loadavg=la,
            overhead=round(t_pq.seconds / t_raw.seconds, 3),
            postqa_disk_mb=common.dir_mb(work / "postqa-store"),
            postqa_report=rep.to_json(),
        )
        print(f"[{label}] postqa {t_pq.seconds:.1f}s overhead {row['overhead']}", file=sys.stderr, flush=True)
        # 3. re-ingest: unchanged, then 1% of articles edited
        if not args.no_reingest:
            with Timer() as t_re:
                rep2 = ingest(s, paths=[src], embedder=embedder)
            row.update(
                reingest_s=round(t_re.seconds, 2),
                reingest_embedded=rep2.chunks_embedded,
                reingest_frac=round(t_re.seconds / t_pq.seconds, 4),
            )
            changed = work / src.name  # same path and file name: the same articles, 1% edited
            tmp = work / "changed.tmp"
            n_changed = changed_copy(src, tmp, 0.01)
            if work not in src.parents:
                raise SystemExit("refusing to edit the source corpus in place; pass a LIMIT (it is copied)")
            tmp.replace(changed)
            with Timer() as t_ch:
                rep3 = ingest(s, paths=[changed], embedder=embedder)
            row.update(
                changed_articles=n_changed,
                changed_s=round(t_ch.seconds, 2),
                changed_embedded=rep3.chunks_embedded,
                changed_reused=rep3.chunks_reused,
                changed_updated=len(rep3.updated),
            )
            print(
                f"[{label}] reingest {t_re.seconds:.2f}s/{rep2.chunks_embedded}; 1%: {t_ch.seconds:.2f}s/"
                f"{rep3.chunks_embedded}",
                file=sys.stderr,
                flush=True,
            )
        # 4. the peer: llama-index's default pipeline over Chroma, same model object
        if not args.no_peer:
            la = loadavg()
            peer = run_peer(articles, embedder, work)
            row.update(
                peer_s=peer["seconds"],
                peer_cpu_s=peer["cpu_s"],
                peer_chunks=peer["chunks"],
                peer_articles_per_s=round(len(articles) / peer["seconds"], 2),
                peer_chunks_per_s=round(peer["chunks"] / peer["seconds"], 2),
                peer_loadavg=la,
                speedup_vs_peer=round(peer["seconds"] / t_pq.seconds, 3),
                peer=peer,
            )
            print(f"[{label}] peer {peer}", file=sys.stderr, flush=True)
        # 5. postqa's overhead alone: the same ingest with the encoder's vectors looked up (no encoding), as
        #    the code is (one Chroma upsert per article) and with one upsert per flush (the proposed fix)
        if args.overhead_probe:
            row.update(overhead_probe(src_orig, embedder, args.workdir / "real_vectors.npz", work))
            print(f"[{label}] overhead probe {row['probe']}", file=sys.stderr, flush=True)
        results.append(row)

    cols = [
        "corpus",
        "articles",
        "chunks",
        "mean_tokens",
        "raw_s",
        "raw_chunks_per_s",
        "postqa_s",
        "postqa_chunks_per_s",
        "postqa_articles_per_s",
        "overhead",
        "peer_s",
        "peer_chunks",
        "peer_articles_per_s",
        "speedup_vs_peer",
    ]
    cpu_cols = [
        "corpus",
        "raw_cpu_s",
        "postqa_cpu_s",
        "cpu_overhead",
        "peer_cpu_s",
        "probe_as_is_s",
        "probe_as_is_cpu_s",
        "probe_batched_s",
        "probe_batched_cpu_s",
    ]
    print(common.table(results, cols, "Ingest: raw encoder vs postqa vs llama-index default (same run)"))
    print(common.table(results, cpu_cols, "CPU seconds (load-independent) and postqa's overhead without encoding"))
    if not args.no_reingest:
        print(
            common.table(
                results,
                [
                    "corpus",
                    "postqa_s",
                    "reingest_s",
                    "reingest_embedded",
                    "reingest_frac",
                    "changed_articles",
                    "changed_s",
                    "changed_embedded",
                    "changed_reused",
                ],
                "Re-ingest",
            )
        )
    if tune_rows:
        print(
            common.table(
                tune_rows, ["corpus", "config", "chunks", "seconds", "chunks_per_s", "loadavg"], "Encoder tuning"
            )
        )
    common.write_json(args.out, {"meta": meta, "results": results, "tune": tune_rows, "loadavg_at_end": loadavg()})


if __name__ == "__main__":
    main()
