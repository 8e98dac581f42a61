"""The keyword-index contract (BM25 today; any other keyword index added to KEYWORD_INDEXES runs the same)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from postqa.index.keyword import BM25Index
from postqa.index.ledger import Ledger

DOCS = {
    "a#0": "China Post and Xinhua News Agency start strategic cooperation V2.0 in Beijing.",
    "a#1": "Zhang Yongping presided over the meeting; Kang Ning addressed it.",
    "b#0": "China Post launched a parcel service for rural customers.",
    "c#0": "The postal savings bank reported its annual results.",
}

Build = Callable[[Sequence[str], Sequence[str], str], Any]
KEYWORD_INDEXES: dict[str, tuple[Build, Callable[[Path], Any]]] = {
    "bm25": (lambda ids, texts, fp: BM25Index.build(ids, texts, fp), BM25Index.load),
    # the on-disk, per-article BM25 of the ledger (its fingerprint is its content's, not a given label)
    "ledger": (lambda ids, texts, fp: Ledger.from_texts(Path(tempfile.mkdtemp()) / "ledger", ids, texts), Ledger.open),
}


@pytest.fixture(params=sorted(KEYWORD_INDEXES))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(kind: str) -> Any:
    return KEYWORD_INDEXES[kind][0](list(DOCS), list(DOCS.values()), "fp-1")


def test_results_are_known_ids_best_first_with_positive_scores(kind: str) -> None:
    index = build(kind)
    hits = index.search("parcel service China Post", k=3)
    assert hits and hits[0][0] == "b#0"
    assert all(cid in DOCS and score > 0 for cid, score in hits)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert len({cid for cid, _ in hits}) == len(hits) <= 3


def test_words_absent_from_every_document_find_nothing(kind: str) -> None:
    index = build(kind)
    assert index.search("zebra xylophone", k=5) == [] and index.search("", k=5) == []


def test_allowed_ids_restrict_the_results(kind: str) -> None:
    index = build(kind)
    hits = index.search("China Post", k=5, allowed={"a#0", "c#0"})
    assert hits and {cid for cid, _ in hits} <= {"a#0", "c#0"}


def test_saved_and_loaded_it_answers_the_same(kind: str, tmp_path: Path) -> None:
    index = build(kind)
    path = tmp_path / "kw" / "index.bin"
    index.save(path)
    loaded = KEYWORD_INDEXES[kind][1](path)
    assert loaded is not None and loaded.fingerprint == index.fingerprint and len(loaded) == len(DOCS)
    for q in ("Kang Ning meeting", "China Post", "annual results"):
        assert loaded.search(q, k=4) == index.search(q, k=4)


def test_an_unreadable_file_loads_as_nothing_to_rebuild(kind: str, tmp_path: Path) -> None:
    bad = tmp_path / "broken.bin"
    bad.write_bytes(b"not an index")
    assert KEYWORD_INDEXES[kind][1](bad) is None
    assert KEYWORD_INDEXES[kind][1](tmp_path / "missing.bin") is None
