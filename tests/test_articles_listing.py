"""What the reader made of each file travels with the index: `postqa articles`, ingest's warning count,
the service's counts for the web status line; the title header every chunk carries is capped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import make_settings

from postqa.core.types import HEADER_TITLE_CHARS, Article
from postqa.index.chunking import chunk_article
from postqa.interfaces.cli import main
from postqa.service.pipeline import build_assistant, ingest, list_articles

PAGES = Path(__file__).parent / "fixtures" / "pages"


@pytest.fixture
def pages_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    corpus = tmp_path / "pages"
    shutil.copytree(PAGES, corpus)
    return make_settings(tmp_path, corpus)


def test_articles_lists_every_indexed_article_with_its_warnings(pages_settings) -> None:  # type: ignore[no-untyped-def]
    report = ingest(pages_settings)
    assert [(p.path, p.reason) for p in report.reader_warnings] == [
        ("pages/undated/post_box.txt", "no publication date found near the title; indexed undated")]
    rows = {r["id"]: r for r in list_articles(pages_settings)}
    assert len(rows) == 11
    undated = rows["undated/post_box"]
    assert undated["date"] == "" and undated["warnings"] == [report.reader_warnings[0].reason]
    assert undated["source"] == "pages/undated/post_box.txt" and undated["chunks"] >= 1
    assert rows["daily/dump_ferry"]["layout"] == "text-one-line" and rows["daily/dump_ferry"]["warnings"] == []
    assert rows["chinapost/cp_glued"]["title"] == "Cherry-themed Post Office opens in Wuhan"
    assistant = build_assistant(pages_settings)
    assert assistant.status()["articles_with_warnings"] == 1
    assert [r["id"] for r in assistant.articles()] == [r["id"] for r in list_articles(pages_settings)]


def test_cli_ingest_counts_warnings_and_articles_prints_them(pages_settings, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(pages_settings.paths.vectorstore.parent)
    for key, value in {"EMBEDDING__PROVIDER": "hash", "EMBEDDING__DIM": "256",
                       "PATHS__CORPUS": str(pages_settings.paths.corpus),
                       "PATHS__VECTORSTORE": str(pages_settings.paths.vectorstore)}.items():
        monkeypatch.setenv(f"POSTQA_{key}", value)
    assert main(["ingest"]) == 0
    out = capsys.readouterr()
    assert "reader warnings: 1 on 1 of the articles read (--verbose lists them" in out.out
    assert main(["ingest", "--verbose"]) == 0
    assert "warning pages/undated/post_box.txt: no publication date found" in capsys.readouterr().err
    assert main(["articles", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 11 and {r["id"] for r in rows if r["warnings"]} == {"undated/post_box"}
    assert next(r for r in rows if r["id"] == "undated/post_box")["date"] is None
    assert main(["articles", "--warnings"]) == 0
    text = capsys.readouterr().out
    assert "undated/post_box" in text and "warning: no publication date" in text and "dump_ferry" not in text


def test_the_title_header_of_every_chunk_is_capped() -> None:
    title = " ".join(["Headline"] * 60)  # 539 characters
    body = " ".join(f"Sentence number {i} says a little more." for i in range(40))
    article = Article(id="long", title=title, published=None, source="x", text=body)

    def count(texts: object) -> list[int]:
        return [len(t.split()) for t in texts]  # type: ignore[attr-defined]

    chunks = chunk_article(article, max_tokens=64, count=count)
    head = chunks[0].context_text.split("\n")[0]
    assert len(head) <= HEADER_TITLE_CHARS and head.endswith("…")
    assert all(len(c.text.split()) >= 64 // 2 for c in chunks[:-1])  # most of each chunk is body text
