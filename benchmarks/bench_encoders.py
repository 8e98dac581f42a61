"""Ingest-side encoder throughput: sentence-transformers (the raw encoder postqa ingests with by default before
the ONNX path) vs the ONNX export (fp32, and int8 when exported), on exactly postqa's chunk texts of real
news, alternated in one run. Decides which provider `auto` should ingest with.

    nice -n 10 .venv/bin/python benchmarks/bench_encoders.py --articles 150 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_DATA, DEFAULT_RESULTS, loadavg, machine, table, write_json  # noqa: E402


def chunk_texts(data: Path, n_articles: int, count_tokens: Any) -> list[str]:
    from datetime import date

    from postqa.core.types import Article
    from postqa.index.chunking import chunk_article

    texts: list[str] = []
    with (data / "reuters21578.jsonl").open(encoding="utf-8") as fin:
        for line in fin:
            obj = json.loads(line)
            body = str(obj.get("body") or obj.get("text") or "")
            if not body:
                continue
            art = Article(id=str(obj["doc_id"]), title=str(obj.get("title") or ""), published=date(2020, 1, 1),
                          source="bench", text=body)
            texts += [c.context_text for c in chunk_article(art, 200, count_tokens, 1)]
            n_articles -= 1
            if n_articles <= 0:
                break
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--articles", type=int, default=150)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores, as an ingest uses")
    ap.add_argument("--out", type=Path, default=DEFAULT_RESULTS / "bench_encoders.json")
    args = ap.parse_args()

    from postqa.core.config import EmbeddingSettings
    from postqa.index.embedding import SentenceTransformerEmbedder, create_embedder, set_threads
    from postqa.index.embedding.onnx_runtime import find_export

    base = EmbeddingSettings(threads=args.threads)
    encoders: dict[str, Any] = {"sentence-transformers": SentenceTransformerEmbedder(base),
                                "onnx fp32": create_embedder(base.model_copy(update={"provider": "onnx"}))}
    int8 = base.model_copy(update={"provider": "onnx", "quantize": "int8"})
    if find_export(int8) is not None:
        encoders["onnx int8"] = create_embedder(int8)
    for enc in encoders.values():
        set_threads(enc, args.threads)
        enc.embed_documents(["warm up"])
    texts = chunk_texts(args.data_dir, args.articles, encoders["onnx fp32"].count_tokens)
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in encoders}
    for _ in range(args.repeats):
        for name, enc in encoders.items():
            c0, t0 = time.process_time(), time.perf_counter()
            enc.embed_documents(texts)
            results[name].append((time.perf_counter() - t0, time.process_time() - c0))
    ref_wall = min(w for w, _ in results["sentence-transformers"])
    ref_cpu = min(c for _, c in results["sentence-transformers"])
    rows = []
    for name, runs in results.items():
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        rows.append({"encoder": name, "chunks": len(texts), "best wall s": round(wall, 1),
                     "chunks/s (wall)": round(len(texts) / wall, 1), "CPU s": round(cpu, 1),
                     "chunks per CPU s": round(len(texts) / cpu, 1), "vs ST (wall)": round(ref_wall / wall, 2),
                     "vs ST (CPU)": round(ref_cpu / cpu, 2)})
    info = machine()
    print(f"machine: {info['cpu']}, {info['nproc']} cores, load {info['loadavg_at_start']} -> {loadavg()}\n")
    print(table(rows, list(rows[0]), "Encoder throughput on postqa's chunk texts (best of the repeats)"))
    write_json(args.out, {"machine": info, "rows": rows, "runs": results, "loadavg_end": loadavg()})


if __name__ == "__main__":
    main()
