"""Where the public corpora of ../shared/data are, and the small readers the held-apart set
(evals/test_heldout.py) and the calibration corpus (evals/calibration_corpus.py) both use on them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# ../shared/data beside the repository (or beside the worktree folder, for /work/wt/<name> checkouts)
SHARED = Path(
    os.environ.get("POSTQA_SHARED")
    or next((p for p in (ROOT.parent / "shared" / "data", ROOT.parents[1] / "shared" / "data") if p.is_dir()),
            ROOT.parent / "shared" / "data")
)
BBC = SHARED / "corpora" / "bbc_news_2225.jsonl"
REUTERS = SHARED / "corpora" / "reuters21578.jsonl"


def doc_number(doc_id: str) -> int:
    """The number at the end of a corpus id ('bbc_business_031' -> 31; 0 when there is none)."""
    tail = doc_id.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def case_articles(rows: Iterable[dict[str, Any]]) -> set[str]:
    """Every article a case names: its gold articles and the article an unanswerable one is near."""
    return {a for r in rows for a in [*r.get("gold_articles", []), r.get("near_article") or ""] if a}
