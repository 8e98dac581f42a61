"""The BM25 tokenizer (Snowball stems) and its versioning: a saved index built by another tokenizer is rebuilt."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from postqa.core.config import Settings
from postqa.index import keyword
from postqa.index.embedding import HashEmbedder
from postqa.index.indexer import keyword_path
from postqa.index.keyword import STOPWORDS, TOKENIZER, BM25Index, snowball_stem, tokenize
from postqa.index.ledger import Ledger
from postqa.service.pipeline import build_assistant, index_spec, ingest, open_store


@pytest.mark.parametrize("a,b", [
    ("presided", "preside"), ("meetings", "meeting"), ("chaired", "chairs"), ("universities", "university"),
    ("distributing", "distribution"), ("agencies", "agency"), ("announced", "announcement"),
])
def test_inflections_share_a_stem(a: str, b: str) -> None:
    assert tokenize(a) == tokenize(b) == [snowball_stem(a)]


def test_stopwords_possessives_and_numbers() -> None:
    assert tokenize("The President's speech in 2013, and the U.S. plan") == ["presid", "speech", "2013", "u.s", "plan"]
    assert all(w not in tokenize(w) for w in ("the", "and", "said"))
    assert "the" in STOPWORDS  # still importable by the answer layer
    assert tokenize("") == [] and tokenize("the of and") == []


def test_stemming_is_safe_across_threads() -> None:
    words = ["presiding", "meetings", "distributed", "agencies"] * 200
    expected = tokenize(" ".join(words))
    results: list[list[str]] = []

    def work() -> None:
        results.append(tokenize(" ".join(words)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_saved_index_records_its_tokenizer(tmp_path: Path) -> None:
    idx = BM25Index.build(["a", "b"], ["China Post presided", "Xinhua meetings"], "fp1")
    path = tmp_path / "k.npz"
    idx.save(path)
    loaded = BM25Index.load(path)
    assert loaded is not None and loaded.search("presiding", 2)[0][0] == "a"
    with np.load(path) as z:
        assert json.loads(bytes(z["header"]).decode())["tokenizer"] == TOKENIZER


def test_index_from_another_tokenizer_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "k.npz"
    BM25Index.build(["a"], ["meetings"], "fp1").save(path)
    monkeypatch.setattr(keyword, "TOKENIZER", "some-other-tokenizer")
    assert BM25Index.load(path) is None


def _rewrite_tokenizer(path: Path, value: str | None) -> None:
    """Make a saved index look as if an older tokenizer wrote it (older files had no tokenizer field)."""
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header.pop("tokenizer", None)
    if value is not None:
        header["tokenizer"] = value
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with path.open("wb") as fh:
        np.savez(fh, **arrays)


def _set_ledger_tokenizer(path: Path, value: str) -> None:
    """Make a saved ledger look as if another tokenizer wrote its keyword segments."""
    import sqlite3

    with sqlite3.connect(path / "ledger.sqlite") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'tokenizer'", (value,))


def test_store_with_an_old_tokenisation_is_rebuilt_not_mixed(hash_settings: Settings) -> None:
    ingest(hash_settings)
    emb = HashEmbedder(dim=hash_settings.embedding.dim)
    index = open_store(hash_settings).open_index(index_spec(hash_settings, emb), create=False)
    path = keyword_path(hash_settings.paths.vectorstore, index.name)
    _set_ledger_tokenizer(path, "suffix-stripper-0")
    assert Ledger.open(path) is None
    # asking rebuilds it with the current tokenizer (and saves it), without an ingest
    assert build_assistant(hash_settings).ask("Who presided over the Xinhua meeting?").hits
    rebuilt = Ledger.open(path)
    assert rebuilt is not None and rebuilt.fingerprint == index.fingerprint()
    # an ingest notices a stale one too, and rebuilds only the ledger (no chunk is embedded again)
    _set_ledger_tokenizer(path, "suffix-stripper-0")
    report = ingest(hash_settings)
    assert report.keyword_rebuilt and report.chunks_embedded == 0
    assert Ledger.open(path) is not None
