"""Query benchmark: p50/p95 of retrieval alone and of the full answer, resident memory, index size on disk
and start-to-ready, at several index sizes, embedded Chroma beside a `chroma run` server that this script
starts and stops itself. Prints markdown tables and writes JSON.

    # build the tiers (see --help for how vectors are produced), then measure both modes
    nice -n 19 .venv/bin/python benchmarks/bench_query.py --workdir /tmp/postqa-bench \
        --tier 1k=/tmp/postqa-bench/reuters21578-1000/postqa-store --tier 10k=10000 --tier 50k=50000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from common import Timer, loadavg  # noqa: E402

HERE = Path(__file__).resolve()
FIXED_QUESTIONS = [
    "What did the central bank say about interest rates?",
    "Which company reported a rise in quarterly profit?",
    "How much cocoa was shipped from Bahia?",
    "What happened to oil prices after the OPEC meeting?",
    "Who was appointed chief executive?",
    "What did the finance minister say about the budget deficit?",
    "How did the dollar trade against the yen?",
    "What were the wheat export figures?",
]


# ------------------------------------------------------------------------------------- tier building


class LookupEmbedder:
    """Presents the real MiniLM embedder (same name, dimension, fingerprint and tokenizer, so postqa opens the
    store with the real model afterwards) but takes vectors from a cache of real MiniLM vectors of the same
    texts; a text with no cached vector gets a *synthetic* vector: a cached real vector chosen by the text's
    hash plus Gaussian noise (sigma per dimension), renormalised. Counts both."""

    def __init__(self, real: Any, cache_file: Path, sigma: float) -> None:
        import numpy as np

        self.real = real
        self.name, self.dim, self.max_tokens, self.normalize = real.name, real.dim, real.max_tokens, real.normalize
        self.fingerprint = real.fingerprint
        self.count_tokens = real.count_tokens
        z = np.load(cache_file)
        self.keys = {str(k): i for i, k in enumerate(z["keys"])}
        self.vecs = z["vecs"].astype(np.float32)
        self.sigma = sigma
        self.n_real = self.n_synthetic = 0

    def embed_documents(self, texts: list[str]) -> Any:
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            h = hashlib.sha1(t.encode("utf-8")).hexdigest()[:16]
            j = self.keys.get(h)
            if j is not None:
                out[i] = self.vecs[j]
                self.n_real += 1
            else:
                seed = int(h, 16)
                rng = np.random.default_rng(seed)
                v = self.vecs[seed % len(self.vecs)] + rng.normal(0.0, self.sigma, self.dim).astype(np.float32)
                out[i] = v / np.linalg.norm(v)
                self.n_synthetic += 1
        return out

    def embed_query(self, text: str) -> Any:
        return self.real.embed_query(text)


def _changed_copy(obj: dict[str, Any], k: int) -> dict[str, Any]:
    """Copy k of a real article, changed so that it is not a duplicate: new id and title, and its sentences
    rotated by k (same vocabulary, different chunks and chunk boundaries)."""
    import re

    body = str(obj.get("body") or obj.get("text") or "")
    sents = re.split(r"(?<=[.!?])\s+", body)
    r = k % max(1, len(sents))
    out = dict(obj)
    key = "doc_id" if "doc_id" in obj else "id"
    out[key] = f"{obj[key]}-c{k}"
    out["title"] = f"{obj.get('title') or ''} ({k})".strip()
    out["body" if "body" in obj else "text"] = " ".join(sents[r:] + sents[:r])
    return out


def tier_corpus(data_dir: Path, target_chunks: int, out: Path) -> dict[str, Any]:
    """A jsonl of real news articles expected to give about ``target_chunks`` chunks: Reuters, BBC and (when
    ``data_dir/../news_qa`` exists) the news QA articles in file order, then changed copies of all (see
    _changed_copy) while more are needed. Chunks per article measured on these corpora: Reuters 1.61, BBC
    3.56, news QA ~6 (an estimate: it only sizes the corpus)."""
    per = {"reuters21578.jsonl": 1.61, "bbc_news_2225.jsonl": 3.56}
    if (data_dir.parent / "news_qa" / "articles.jsonl").is_file():
        per["../news_qa/articles.jsonl"] = 6.0
    est = 0.0
    counts: dict[str, int] = {}
    with out.open("w", encoding="utf-8") as fout:
        k = 0
        while est < target_chunks:
            for name in per:
                with (data_dir / name).open(encoding="utf-8") as fin:
                    for line in fin:
                        if est >= target_chunks:
                            break
                        obj = json.loads(line)
                        if not (obj.get("body") or obj.get("text")):
                            continue
                        fout.write(json.dumps(obj if k == 0 else _changed_copy(obj, k)) + "\n")
                        est += per[name]
                        key = name + ("" if k == 0 else " (changed copies)")
                        counts[key] = counts.get(key, 0) + 1
            k += 1
    return {"articles_by_source": counts, "copies": k}


def make_vector_pool(real: Any, corpus: Path, out: Path, n: int = 600) -> None:
    """Real vectors of the first ``n`` articles' opening text (the pool synthetic vectors are drawn from)."""
    import hashlib

    import numpy as np

    texts = []
    with corpus.open(encoding="utf-8") as fin:
        for line in fin:
            obj = json.loads(line)
            texts.append(f"{obj.get('title', '')}\n{str(obj.get('body') or obj.get('text') or '')[:900]}")
            if len(texts) >= n:
                break
    vecs = real.embed_documents(texts)
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest()[:16] for t in texts]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, keys=np.array(keys), vecs=np.asarray(vecs, dtype=np.float32))


def build_tier(label: str, target: int, args: argparse.Namespace) -> dict[str, Any]:
    """A tier of about ``target`` chunks built by benchmarks/build_tier.py (bulk Chroma writes with synthetic
    vectors, then the ledger as an ingest writes it)."""
    if not args.vectors.is_file():
        from postqa.index.embedding import create_embedder

        real = create_embedder(common.settings_for(args.workdir / "_pool", threads=args.threads).embedding)
        corpus = args.workdir / f"tier-{label}.jsonl"
        tier_corpus(args.data_dir, min(target, 2000), corpus)
        make_vector_pool(real, corpus, args.vectors)
    builder = [sys.executable, str(HERE.parent / "build_tier.py"), "--data-dir", str(args.data_dir),
               "--workdir", str(args.workdir), "--label", label, "--vectors", str(args.vectors)]
    subprocess.run([*builder, "--chunks", str(target)], check=True, timeout=4 * 3600)
    subprocess.run([*builder, "--side"], check=True, timeout=4 * 3600)
    store = args.workdir / f"tier-{label}"
    out = dict(json.loads((store / "bench_tier.json").read_text()))
    print(f"[build {label}] {out}", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------- worker


def worker(args: argparse.Namespace) -> None:
    """One app process: start, load, warm up, then time questions. Prints one JSON line."""
    marks: dict[str, float] = {}
    t_spawn = args.t_spawn
    from postqa.service.pipeline import build_assistant

    marks["imported"] = time.time() - t_spawn
    from postqa.index.embedding import create_embedder

    settings = common.settings_for(args.store, threads=0, mode=args.mode, port=args.port)
    embedder = create_embedder(settings.embedding)  # provider "auto": the ONNX export when it exists
    marks["model_loaded"] = time.time() - t_spawn
    assistant = build_assistant(settings, embedder=embedder)  # sets torch threads to 1 for serving
    marks["assistant_built"] = time.time() - t_spawn
    assistant.keyword()  # BM25 from disk (rebuilt from Chroma if its fingerprint does not match)
    marks["bm25_loaded"] = time.time() - t_spawn
    questions = json.loads(Path(args.questions_file).read_text())
    errors: list[str] = []

    def ask(q: str) -> Any:
        try:
            return assistant.ask(q)
        except Exception as err:  # noqa: BLE001 - a crash in answer code is reported, not timed around
            errors.append(f"{q!r}: {type(err).__name__}: {err}")
            return None

    for q in questions[:2]:
        ask(q)
    marks["ready"] = time.time() - t_spawn
    cpu_ready = time.process_time()  # CPU seconds from start to ready (load-independent start-up cost)
    mem_ready = common.rss_mb()
    embed_t, retr_t, ask_t = [], [], []
    n_answerable = 0
    emb = assistant.retriever.embed_query
    cpu_retr, cpu_ask = [], []  # CPU seconds of this process: ~ the latency on a free core (1 torch thread)
    for q in questions[2:]:
        with Timer() as t:
            emb(q)
        embed_t.append(t.seconds)
        c0 = time.process_time()
        with Timer() as t:
            assistant.retriever.retrieve(q)
        cpu_retr.append(time.process_time() - c0)
        retr_t.append(t.seconds)
        c0 = time.process_time()
        with Timer() as t:
            ans = ask(q)
        if ans is None:
            continue
        cpu_ask.append(time.process_time() - c0)
        ask_t.append(t.seconds)
        n_answerable += bool(ans.answerable)
    as_of_t, cpu_as_of = _asked_on_a_date(assistant, questions[2:], ask)
    print(
        json.dumps(
            {
                "marks": {k: round(v, 2) for k, v in marks.items()},
                "mem_ready": mem_ready,
                "mem_end": common.rss_mb(),
                "provider": str(getattr(embedder, "provider", "")),
                "chunks": assistant.index.count(),
                "embed_query": common.summary_ms(embed_t),
                "retrieve": common.summary_ms(retr_t),
                "answer": common.summary_ms(ask_t),
                "cpu_retrieve": common.summary_ms(cpu_retr),
                "cpu_answer": common.summary_ms(cpu_ask),
                "answer_as_of": common.summary_ms(as_of_t),
                "cpu_answer_as_of": common.summary_ms(cpu_as_of),
                "cpu_ready_s": round(cpu_ready, 2),
                "answerable": n_answerable,
                "errors": errors,
                "questions": len(questions) - 2,
            }
        )
    )


def _asked_on_a_date(assistant: Any, questions: list[str], ask: Any) -> tuple[list[float], list[float]]:
    """The same questions asked as the web chat asks them: on a date (the newest article's), so every one
    carries a date preference (a second, date-filtered dense query). Wall and CPU seconds of each."""
    day = assistant.newest_date()
    wall: list[float] = []
    cpu: list[float] = []
    for q in questions:
        c0 = time.process_time()
        with Timer() as t:
            ans = assistant.ask(q, as_of=day) if day else ask(q)
        if ans is not None:
            cpu.append(time.process_time() - c0)
            wall.append(t.seconds)
    return wall, cpu


def side_worker(args: argparse.Namespace) -> None:
    """What an ingest pays on the side of Chroma, in one fresh process (so the peak RSS is its own): opening
    the ledger, the catalogue and fingerprint it starts from, and — on a sample, extrapolated per chunk — the
    spaCy analysis and the people index. With --legacy-scan also the full metadata scan the ingest made before
    the ledger existed. Prints one JSON line."""
    from postqa.index.indexer import keyword_path
    from postqa.index.ledger import Ledger
    from postqa.index.people import PeopleIndex
    from postqa.index.store import ChromaIndex
    from postqa.nlp.pipeline import Analyser
    from postqa.service.pipeline import open_store

    settings = common.settings_for(args.store, threads=1)
    store = open_store(settings)
    name, spec, _ = next((n, sp, m) for n, sp, m in store.indexes() if sp is not None)
    index = ChromaIndex(store, store.client.get_collection(name, embedding_function=None), spec)
    out: dict[str, Any] = {"rss_start_mb": common.rss_mb()["rss_mb"]}
    with Timer() as t:
        ledger = Ledger.open(keyword_path(args.store, name))
    assert ledger is not None, "no ledger: run benchmarks/build_tier.py --side first"
    out.update(ledger_open_s=round(t.seconds, 3), chunks=len(ledger))
    with Timer() as t:
        articles = ledger.stored_articles()
    out.update(catalogue_s=round(t.seconds, 2), articles=len(articles))
    with Timer() as t:
        out["fingerprint"] = ledger.fingerprint
    out.update(fingerprint_s=round(t.seconds, 2), rss_after_catalogue_mb=common.rss_mb()["rss_mb"])
    sample = list(index.get_chunks(ledger.chunk_ids()[: args.sample]).values())
    analyser = Analyser(settings.nlp.model, settings.nlp.batch_size)
    analyser.analyse_many([sample[0].text])  # load the pipeline outside the timing
    with Timer() as t:
        analyses = analyser.analyse_many([c.text for c in sample])
    per_chunk = t.seconds / max(1, len(sample))
    by_text = {c.text: a for c, a in zip(sample, analyses, strict=True)}
    with Timer() as t:
        people = PeopleIndex.from_chunks(sample, "sample", lambda texts: [by_text[x] for x in texts])
    out.update(sample=len(sample), analysis_ms_per_chunk=round(per_chunk * 1000, 1),
               analysis_all_s_extrapolated=round(per_chunk * len(ledger)), people_sample_s=round(t.seconds, 2),
               people=len(people), people_all_s_extrapolated=round(t.seconds / max(1, len(sample)) * len(ledger)))
    if args.legacy_scan:
        with Timer() as t:
            index.scan()
        out.update(legacy_scan_s=round(t.seconds, 1), rss_after_legacy_scan_mb=common.rss_mb()["rss_mb"])
    out["peak_rss_mb"] = common.rss_mb()["peak_rss_mb"]
    print(json.dumps(out))


def run_side(store: Path, legacy: bool = False) -> dict[str, Any]:
    extra = ["--legacy-scan"] if legacy else []
    proc = subprocess.run([sys.executable, str(HERE), "--side", "--store", str(store), *extra], capture_output=True,
                          text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=7200)
    if proc.returncode != 0:
        raise RuntimeError(f"side-index worker failed: {proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(path: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    chroma = Path(sys.executable).parent / "chroma"
    log = open(path.parent / f"chroma-{port}.log", "wb")  # noqa: SIM115
    t0 = time.time()
    proc = subprocess.Popen(
        ["nice", "-n", "19", str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    import urllib.request

    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            return proc, time.time() - t0
        except Exception:  # noqa: BLE001
            if proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {proc.returncode}; see {log.name}") from None
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("chroma run did not answer its heartbeat within 120 s")


def run_worker(store: Path, mode: str, port: int, qfile: Path) -> dict[str, Any]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    t_spawn = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE),
            "--worker",
            "--store",
            str(store),
            "--mode",
            mode,
            "--port",
            str(port),
            "--questions-file",
            str(qfile),
            "--t-spawn",
            repr(t_spawn),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def questions_for(store: Path, n: int) -> list[str]:
    """Fixed questions plus questions made from titles of articles in the store (deterministic)."""
    import random

    from postqa.index.embedding import HashEmbedder  # noqa: F401  (cheap import path check)

    titles: list[str] = []
    import chromadb
    from chromadb.config import Settings as CS

    client = chromadb.PersistentClient(path=str(store / "chroma"), settings=CS(anonymized_telemetry=False))
    col = client.list_collections()[0]
    col = client.get_collection(col.name if hasattr(col, "name") else col, embedding_function=None)
    page = col.get(include=["metadatas"], limit=3000)
    titles = sorted({str((m or {}).get("title", "")) for m in page["metadatas"] if m and m.get("title")})
    rnd = random.Random(7)
    picked = rnd.sample(titles, min(len(titles), max(0, n - len(FIXED_QUESTIONS))))
    made = [f"What is the news about {t.lower().rstrip('.')}?" for t in picked]
    qs = FIXED_QUESTIONS + made
    rnd.shuffle(qs)
    return qs[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/postqa-bench"))
    ap.add_argument(
        "--tier",
        action="append",
        default=None,
        help="LABEL=PATH (an existing postqa store folder) or LABEL=N (build a store of about N "
        "chunks of real news text; vectors from --vectors, synthetic where missing). Repeatable.",
    )
    ap.add_argument(
        "--vectors",
        type=Path,
        default=None,
        help="real_vectors.npz written by bench_ingest.py (default WORKDIR/real_vectors.npz)",
    )
    ap.add_argument("--sigma", type=float, default=0.03, help="noise per dimension of synthetic vectors")
    ap.add_argument("--questions", type=int, default=42, help="questions per run (2 are warm-up)")
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--threads", type=int, default=2, help="torch threads while building tiers")
    ap.add_argument("--out", type=Path, default=common.DEFAULT_RESULTS / "query.json")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--side", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-side", action="store_true", help="skip the ingest-side measurement")
    ap.add_argument("--legacy-scan", action="store_true", help="also time the full metadata scan of the old ingest")
    ap.add_argument("--sample", type=int, default=200, help="chunks analysed to extrapolate analysis and people")
    ap.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="embedded", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=8000, help=argparse.SUPPRESS)
    ap.add_argument("--questions-file", help=argparse.SUPPRESS)
    ap.add_argument("--t-spawn", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if args.side:
        side_worker(args)
        return
    args.vectors = args.vectors or args.workdir / "real_vectors.npz"
    tiers = args.tier or ["1k=1000"]
    meta = {"machine": common.machine(), "argv": sys.argv, "sigma": args.sigma, "git": common.git_state()}
    builds, rows = [], []
    for spec in tiers:
        label, _, val = spec.partition("=")
        if val.isdigit():
            b = build_tier(label, int(val), args)
            builds.append(b)
            store = Path(b["store"])
        else:
            store = Path(val)
            made = store / "bench_tier.json"
            builds.append(
                {**json.loads(made.read_text()), "tier": label}
                if made.is_file()
                else {"tier": label, "store": str(store), "real_vectors": "existing store (not built here)"}
            )
        if not args.no_side:
            side = run_side(store, args.legacy_scan)
            builds[-1].update(side)
            print(f"[side {label}] {side}", file=sys.stderr, flush=True)
        qfile = args.workdir / f"questions-{label}.json"
        qfile.write_text(json.dumps(questions_for(store, args.questions)))
        disk = common.dir_mb(store)
        for mode in args.modes.split(","):
            la = loadavg()
            server: dict[str, Any] = {}
            if mode == "server":
                port = free_port()
                proc, up = start_chroma(store / "chroma", port)
                try:
                    r = run_worker(store, mode, port, qfile)
                    server = {"server_start_s": round(up, 2), "server_rss_mb": common.rss_mb(proc.pid)["rss_mb"]}
                finally:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            else:
                r = run_worker(store, mode, 8000, qfile)
            row = {
                "tier": label,
                "mode": mode,
                "chunks": r["chunks"],
                "retrieve_p50": r["retrieve"]["p50_ms"],
                "retrieve_p95": r["retrieve"]["p95_ms"],
                "answer_p50": r["answer"]["p50_ms"],
                "answer_p95": r["answer"]["p95_ms"],
                "embed_p50": r["embed_query"]["p50_ms"],
                "ready_s": r["marks"]["ready"],
                "cpu_retrieve_p95": r.get("cpu_retrieve", {}).get("p95_ms"),
                "cpu_answer_p95": r.get("cpu_answer", {}).get("p95_ms"),
                "as_of_answer_p50": r.get("answer_as_of", {}).get("p50_ms"),
                "as_of_answer_p95": r.get("answer_as_of", {}).get("p95_ms"),
                "cpu_as_of_answer_p95": r.get("cpu_answer_as_of", {}).get("p95_ms"),
                "cpu_ready_s": r.get("cpu_ready_s"),
                "rss_end_mb": r["mem_end"]["rss_mb"],
                "rss_mb": r["mem_ready"]["rss_mb"],
                "disk_mb": disk,
                "provider": r.get("provider", ""),
                "errors": len(r.get("errors", [])),
                "loadavg": la,
                **server,
                "raw": r,
            }
            rows.append(row)
            print(
                f"[{label} {mode}] " + json.dumps({k: v for k, v in row.items() if k != "raw"}),
                file=sys.stderr,
                flush=True,
            )
    print(
        common.table(
            builds,
            ["tier", "chunks", "articles", "real_vectors", "synthetic_vectors", "build_s"],
            "Index tiers (how each was built)",
        )
    )
    print()
    print(
        common.table(
            builds,
            ["tier", "chunks", "articles", "ledger_open_s", "catalogue_s", "fingerprint_s", "analysis_ms_per_chunk",
             "analysis_all_s_extrapolated", "people_all_s_extrapolated", "legacy_scan_s", "peak_rss_mb"],
            "Ingest side: the ledger an ingest starts from; analysis and people on a sample, extrapolated (s, MB)",
        )
    )
    print()
    print(
        common.table(
            rows,
            [
                "tier",
                "mode",
                "chunks",
                "retrieve_p50",
                "retrieve_p95",
                "answer_p50",
                "answer_p95",
                "embed_p50",
                "cpu_retrieve_p95",
                "cpu_answer_p95",
                "as_of_answer_p95",
                "cpu_as_of_answer_p95",
                "ready_s",
                "cpu_ready_s",
                "rss_mb",
                "rss_end_mb",
                "disk_mb",
                "server_rss_mb",
                "provider",
                "errors",
                "loadavg",
            ],
            "Query latency (ms), memory (MB), start-to-ready (s)",
        )
    )
    common.write_json(args.out, {"meta": meta, "tiers": builds, "results": rows, "loadavg_at_end": loadavg()})


if __name__ == "__main__":
    main()
