"""The corpus of evals/calibration_news*.jsonl, built from ../shared/data/corpora (never copied into the repo).

Articles the held-apart set (evals/heldout/) does NOT use: BBC articles numbered 031-100 and 341-380 of each
category (the held-apart corpus uses 001-030 and 101-160) and Reuters TRAIN-split articles (it uses TEST-split
ones). The corpus is the bundled corpus/, the articles of the calibration cases and of the never-fitted refusal
pair files (evals/refusal_pairs_test*.jsonl: their articles must be there to ask them; their questions are
never fitted on), and distractors: every BBC article numbered 031-060 of each category and the first 45
TRAIN-split Reuters articles with a body.

    python evals/calibration_corpus.py            # prints the corpus folder (under the temp dir)
    postqa calibrate --fit ... --corpus "$(python evals/calibration_corpus.py)"   # the full command: docs/evals.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared_corpora import BBC, REUTERS, SHARED, case_articles, doc_number, materialise

ROOT = Path(__file__).resolve().parents[1]
CASE_FILES = sorted((ROOT / "evals").glob("calibration_news*.jsonl")) + sorted(
    (ROOT / "evals").glob("refusal_pairs_test*.jsonl"))
# numbers the calibration cases may use; the held-apart set uses 001-030, 101-160 (the span work's dev set 300-340)
BBC_RANGES = ((31, 100), (341, 380))
BBC_DISTRACTORS = (31, 60)
REUTERS_DISTRACTORS = 45


def wanted_articles() -> set[str]:
    rows = [json.loads(line) for path in CASE_FILES for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return case_articles(rows)


def select_lines(wanted: set[str]) -> list[str]:
    """The JSON lines of the calibration corpus; fails loudly if a case names an article of the held-apart
    ranges."""
    chosen: list[str] = []
    for line in BBC.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        n = doc_number(obj["doc_id"])
        if obj["doc_id"] in wanted:
            if not any(lo <= n <= hi for lo, hi in BBC_RANGES):
                raise SystemExit(f"{obj['doc_id']} is outside BBC 031-100 and 341-380 (the calibration ranges)")
            chosen.append(line)
        elif BBC_DISTRACTORS[0] <= n <= BBC_DISTRACTORS[1]:
            chosen.append(line)
    extra = 0
    for line in REUTERS.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        train = obj.get("lewissplit") == "TRAIN"
        if obj["doc_id"] in wanted:
            if not train:
                raise SystemExit(f"{obj['doc_id']} is not a TRAIN-split article")
            chosen.append(line)
        elif train and extra < REUTERS_DISTRACTORS and obj.get("body", "").strip():
            chosen.append(line)
            extra += 1
    return chosen


def build() -> Path:
    """The corpus folder under the temp dir (bundled corpus/ plus calibration.jsonl), keyed by content."""
    return materialise("calibration", select_lines(wanted_articles())) / "corpus"


if __name__ == "__main__":
    if not BBC.is_file() or not REUTERS.is_file():
        sys.exit(f"no corpora under {SHARED / 'corpora'}: set POSTQA_SHARED to a copy of shared/data")
    print(build())
