"""Where the public corpora of ../shared/data are, the small readers the held-apart set
(evals/test_heldout.py) and the calibration corpus (evals/calibration_corpus.py) both use on them, and the
one place that writes such a corpus under the temp dir."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
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


def materialise(kind: str, lines: Sequence[str], salt: str = "") -> Path:
    """``<temp>/postqa-eval/<kind>-<digest>/``, whose ``corpus/`` holds the bundled corpus/ and ``<kind>.jsonl``
    of ``lines``; the digest covers ``salt`` (e.g. the model a store beside it is built with), the bundled
    files and the lines, so a changed input gets a new folder and an unchanged one is reused as it is."""
    text = "\n".join(lines) + "\n"
    bundled = sorted(p for p in (ROOT / "corpus").iterdir() if p.is_file())
    digest = hashlib.sha256(salt.encode())
    for p in bundled:
        digest.update(p.name.encode() + p.read_bytes())
    digest.update(text.encode())
    base = Path(tempfile.gettempdir()) / "postqa-eval" / f"{kind}-{digest.hexdigest()[:12]}"
    corpus = base / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for p in bundled:
        if not (corpus / p.name).is_file():
            shutil.copyfile(p, corpus / p.name)
    target = corpus / f"{kind}.jsonl"
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")
    return base
