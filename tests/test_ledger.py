"""The ledger (index.ledger): per-article replaces keep the catalogue, the BM25 segments and the kept
fingerprint sums exactly what a from-scratch ledger of the same chunks holds."""

from __future__ import annotations

from pathlib import Path

from postqa.index.ledger import Ledger, chunk_row
from postqa.index.store import StoredArticle, chunk_from_record, set_fingerprint

TEXTS = {
    "a": ["Zhang Yongping presided over the meeting in Beijing.", "Kang Ning addressed the meeting."],
    "b": ["China Post launched a parcel service for rural customers."],
    "c": ["The postal savings bank reported its annual results.", "Profits rose in the fourth quarter."],
}


def _rows(article: str, texts: list[str], version: str = "1") -> tuple[StoredArticle, list]:  # type: ignore[type-arg]
    chunks = [chunk_from_record(f"{article}#{n}", t, {"article_id": article, "n": n}) for n, t in enumerate(texts)]
    rows = [chunk_row(c, {"chunk_hash": f"{c.id}-{version}", "article_hash": version}) for c in chunks]
    return StoredArticle(article, version, "", len(rows), len(rows), "", ""), rows


def _write(ledger: Ledger, texts: dict[str, list[str]], version: str = "1") -> None:
    for aid, ts in texts.items():  # one replace per article, as an ingest writes them
        art, rows = _rows(aid, ts, version)
        ledger.replace([art], rows)


def _aggregate(ledger: Ledger) -> str:
    n, s1, s2 = ledger.db.execute("SELECT count(*), coalesce(sum(h1), 0), coalesce(sum(h2), 0) FROM chunks").fetchone()
    return set_fingerprint(int(n), int(s1), int(s2))


def test_replaces_and_removals_match_a_ledger_built_from_scratch(tmp_path: Path) -> None:
    ledger = Ledger.create(tmp_path / "inc")
    _write(ledger, TEXTS)
    edited = {"a": ["Zhang Yongping chaired the conference in Beijing.", "Kang Ning addressed it."]}
    _write(ledger, edited, version="2")
    ledger.replace([], [], removed=["b"])
    final = {"a": edited["a"], "c": TEXTS["c"]}
    fresh = Ledger.create(tmp_path / "fresh")
    _write(fresh, {"a": final["a"]}, version="2")
    _write(fresh, {"c": final["c"]})
    assert ledger.fingerprint == fresh.fingerprint == _aggregate(ledger) != ""
    assert set(ledger.stored_articles()) == {"a", "c"} and not ledger.pending()
    assert ledger.search("parcel rural", 5) == []  # the removed article's postings are gone
    assert ledger.search("presided meeting", 5) == []  # so are the old version's
    for q in ("chaired conference", "annual results quarter", "Kang Ning"):
        assert [c for c, _ in ledger.search(q, 5)] == [c for c, _ in fresh.search(q, 5)]
    assert ledger.compact(max_segments=1, delta_share=0.0) and len(ledger.segments) == 1 and not len(ledger.dead)
    for q in ("chaired conference", "annual results quarter", "Kang Ning"):
        assert [c for c, _ in ledger.search(q, 5)] == [c for c, _ in fresh.search(q, 5)]
    reopened = Ledger.open(tmp_path / "inc")
    assert reopened is not None and reopened.fingerprint == fresh.fingerprint


def test_pending_marks_stay_until_the_articles_are_replaced(tmp_path: Path) -> None:
    ledger = Ledger.create(tmp_path / "l")
    ledger.mark_pending(["a", "b"])
    assert sorted(ledger.pending()) == ["a", "b"]
    _write(ledger, {"a": TEXTS["a"]})
    assert ledger.pending() == ["b"] and ledger.catalogued(["a", "b"]) == {"a"}
