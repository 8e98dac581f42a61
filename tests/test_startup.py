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


def test_the_web_chat_pages_the_catalogue_instead_of_reading_it_whole(tmp_path: Path, corpus_dir: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from postqa.index.catalog import row_matches
    from postqa.interfaces.web.chat import AssistantHolder, ChatService
    from postqa.interfaces.web.render import browse_html
    from postqa.service.pipeline import build_assistant, ingest

    extra = [{"id": f"x{i}", "title": title, "date": day, "text": "The park opened. It has six warehouses."}
             for i, (title, day) in enumerate([("Harbin logistics park opens", "2021-03-15"),
                                               ("ÉCOLE postale in Harbin", "2021-01-15"),
                                               ("Stamp show", "2020-06-01"), ("Undated Harbin note", "")])]
    (corpus_dir / "extra.jsonl").write_text("".join(json.dumps(e) + "\n" for e in extra), encoding="utf-8")
    settings = make_settings(tmp_path, corpus_dir)
    ingest(settings)
    assistant = build_assistant(settings)
    everything = assistant.articles()
    assert len(everything) == 6
    searches = [([], "", ""), (["harbin"], "", ""), (["école", "harbin"], "", ""), ([], "2021-01-01", ""),
                ([], "", "2020-12-31"), (["harbin"], "2021-02-01", "2021-12-31"), (["nothing"], "", "")]
    for words, start, end in searches:
        expected = [r for r in everything if row_matches(r, words, start, end)]
        for limit, offset in [(200, 0), (2, 0), (2, 1), (1, 5)]:
            assert assistant.article_page(words, start, end, limit, offset) == (
                expected[offset:offset + limit], len(expected), len(everything)), (words, start, end, limit)
    assert all(assistant.article_row(r["id"]) == r for r in everything)
    assert assistant.article_row("no-such-article") is None
    assert assistant.article_choices() == [{k: r[k] for k in ("id", "title", "date")} for r in everything]

    def no_whole_list() -> None:
        raise AssertionError("the web chat read the whole catalogue")

    service = ChatService(AssistantHolder(lambda: assistant))
    monkeypatch.setattr(assistant, "articles", no_whole_list)
    monkeypatch.setattr(assistant.index, "stored_articles", no_whole_list)
    harbin = [r for r in everything if row_matches(r, ["harbin"])]
    assert service.browse("HARBIN") == browse_html(harbin, len(everything))  # the page the whole list gave
    assert service.browse("harbin", "2021-02-01") == browse_html(harbin[:1], len(everything))
    assert "ÉCOLE" in service.browse("école") and "No article matches (of 6)" in service.browse("zzz")
    assert [i for _, i in service.articles()] == [r["id"] for r in everything]
    assert service.warnings("x3") == everything[[r["id"] for r in everything].index("x3")]["warnings"]
