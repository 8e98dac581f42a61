"""Start-up costs that must not grow with the index: the article list comes from the ingest's catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from postqa.index.catalog import article_rows, catalog_path, load_catalog
from tests.conftest import make_settings


def test_articles_come_from_the_catalogue_not_a_scan(tmp_path: Path, corpus_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from postqa.service.pipeline import build_assistant, ingest

    settings = make_settings(tmp_path, corpus_dir)
    ingest(settings)
    assistant = build_assistant(settings)
    scanned = article_rows(assistant.index.stored_articles().values())  # id, title, date, source, warnings, ...
    assert len(scanned) == len(list(corpus_dir.glob("*.txt")))

    def no_scan() -> None:
        raise AssertionError("articles() scanned every chunk's metadata")

    monkeypatch.setattr(assistant.index, "stored_articles", no_scan)
    assert assistant.articles() == scanned
    # a catalogue of another index state is not used: the list falls back to the scan
    path = catalog_path(settings.paths.vectorstore, assistant.index.name)
    assert load_catalog(path, "another-fingerprint") is None
    (path / "ledger.sqlite").write_text("{", encoding="utf-8")  # an unreadable catalogue: rebuilt or scanned
    monkeypatch.undo()
    assert assistant.articles() == scanned
