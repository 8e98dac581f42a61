"""Keyword retrieval quality, old against new, on the same chunks: the in-memory BM25 matrix
(index.keyword.BM25Index, what every ingest rebuilt before) and the ledger's on-disk segments (index.ledger,
built per batch of articles as an ingest writes it, then one incremental update), BM25 only, article-level
hit@k and MRR over the external news QA dev questions (gold article + every other article as distractors).

    .venv/bin/python benchmarks/keyword_quality.py --dataset ../shared/data/news_qa --workdir /work/scratch/scale
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def chunks_of(dataset: Path) -> list[Any]:
    from postqa.index.chunking import chunk_article
    from postqa.index.embedding import HashEmbedder
    from postqa.reading.corpus import read_corpus

    emb = HashEmbedder(dim=64)
    read = read_corpus([dataset / "articles.jsonl"])
    return [c for a in read.articles for c in chunk_article(a, 256, emb.count_tokens, 1)]


def ranks(search: Any, questions: list[dict[str, Any]], depth: int = 10) -> list[int | None]:
    out: list[int | None] = []
    for q in questions:
        arts: list[str] = []
        for cid, _ in search(q["question"], 60):
            art = cid.split("#")[0]
            if art not in arts:
                arts.append(art)
        out.append(arts.index(q["source_doc_id"]) + 1 if q["source_doc_id"] in arts[:depth] else None)
    return out


def summary(rs: list[int | None]) -> dict[str, float]:
    n = max(1, len(rs))
    return {"hit@1": round(sum(1 for r in rs if r == 1) / n, 3),
            "hit@5": round(sum(1 for r in rs if r and r <= 5) / n, 3), "hit@10": round(sum(1 for r in rs if r) / n, 3),
            "mrr": round(sum(1 / r for r in rs if r) / n, 3)}


def main() -> None:
    from postqa.index.keyword import BM25Index
    from postqa.index.ledger import Ledger, chunk_row
    from postqa.index.store import StoredArticle

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    args = ap.parse_args()
    questions = [json.loads(line) for line in (args.dataset / "dev.jsonl").open(encoding="utf-8")]
    chunks = chunks_of(args.dataset)
    old = BM25Index.build([c.id for c in chunks], [c.context_text for c in chunks], "old")
    root = args.workdir / "keyword-quality-ledger"
    shutil.rmtree(root, ignore_errors=True)
    ledger = Ledger.create(root)
    by_article: dict[str, list[Any]] = {}
    for c in chunks:
        by_article.setdefault(c.article_id, []).append(c)
    items = list(by_article.items())
    for i in range(0, len(items), 300):  # written per batch of articles, as an ingest writes it
        part = items[i:i + 300]
        rows = [chunk_row(c, {"chunk_hash": c.id, "article_hash": aid}) for aid, cs in part for c in cs]
        ledger.replace([StoredArticle(aid, aid, "", len(cs), len(cs), "", "") for aid, cs in part], rows)
    segments = len(ledger.segments)
    ledger.compact()
    result = {"chunks": len(chunks), "articles": len(by_article), "questions": len(questions),
              "old_bm25_matrix": summary(ranks(old.search, questions)),
              "ledger_segments_before_compaction": segments,
              "ledger": summary(ranks(ledger.search, questions)),
              "same_top10_chunks": sum(1 for q in questions
                                       if [c for c, _ in old.search(q["question"], 10)] ==
                                       [c for c, _ in ledger.search(q["question"], 10)])}
    print(json.dumps(result))
    common.write_json(args.workdir / "keyword_quality.json", result)


if __name__ == "__main__":
    main()
