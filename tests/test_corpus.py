"""The article reader: both seed pages, every format, and bad input reported and skipped."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from conftest import AUTO, CORPUS, XINHUA

from postqa.reading.corpus import parse_date, parse_scraped_page, read_corpus
from postqa.reading.files import decode_bytes


def test_seed_pages_parse_to_title_date_and_clean_body() -> None:
    result = read_corpus([CORPUS])
    assert result.problems == []
    by_id = {a.id: a for a in result.articles}
    assert set(by_id) == {AUTO, XINHUA}
    xin = by_id[XINHUA]
    assert xin.title == "China Post and Xinhua News Agency start strategic cooperation V2.0"
    assert xin.published == date(2020, 9, 11)
    assert xin.source == f"corpus/{XINHUA}.txt"
    assert xin.text.startswith("On the morning of September 10, Xinhua News Agency")
    assert xin.text.endswith("shared their experience.")
    auto = by_id[AUTO]
    assert auto.published == date(2019, 5, 21)
    assert auto.title.startswith("China Post Group pushes forward automobile")
    for art in result.articles:
        for junk in ("Postal Savings", "8610", "Register number", "Powered by", "•", "| China Post |"):
            assert junk not in art.text, junk
        assert art.title not in art.text


def test_scraped_page_variants() -> None:
    page = "• Home\nPostal Business: 8610 11185\nTitle here\nTitle here\n|  China Post | 2021-01-02 \n\nBody one.\n" \
           "Register number: x\nPowered by CHINA POST"
    title, published, body = parse_scraped_page(page)  # type: ignore[misc]
    assert (title, published, body) == ("Title here", date(2021, 1, 2), "Body one.")
    assert parse_scraped_page("just some text") is None


def test_plain_markdown_html_and_jsonl(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Plain title\nDate: 2022-03-04\n\nPlain body sentence.", encoding="utf-8")
    (tmp_path / "b.md").write_text("---\ntitle: Md title\ndate: 2021-05-06\n---\n# Ignored heading\n"
                                   "Some **bold** and a [link](http://x).\n", encoding="utf-8")
    (tmp_path / "c.html").write_text(
        "<html><head><title>T</title><meta name='date' content='2020-01-02'><style>p{}</style></head><body>"
        "<nav>Menu Home</nav><h1>Html title</h1><script>alert(1)</script><p>Html body.</p>"
        "<footer>Copyright</footer></body></html>", encoding="utf-8")
    lines = [{"id": "j1", "title": "J one", "date": "2019-01-01", "text": "Jsonl body.", "url": "http://e/1"},
             {"doc_id": "j2", "title": "J two", "body": "Other body."}]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{bad json\n", encoding="utf-8")
    result = read_corpus([tmp_path])
    by_id = {a.id: a for a in result.articles}
    assert by_id["a"].title == "Plain title" and by_id["a"].published == date(2022, 3, 4)
    assert by_id["a"].text == "Plain body sentence."
    assert by_id["b"].title == "Md title" and "Some bold and a link." in by_id["b"].text
    assert by_id["c"].title == "Html title" and by_id["c"].text == "Html body."
    assert by_id["c"].published == date(2020, 1, 2)
    assert by_id["j1"].source == "http://e/1" and by_id["j2"].text == "Other body."
    assert [p.reason.split(" (")[0] for p in result.problems] == ["malformed JSON line"]
    assert result.problems[0].path.endswith("d.jsonl:3")


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "blank.txt").write_text("  \n\n")
    (tmp_path / "dup.jsonl").write_text('{"id": "x", "text": "a."}\n{"id": "x", "text": "b."}\n')
    (tmp_path / "good.txt").write_text("Good\nA body.")
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["x", "good"] or sorted(a.id for a in result.articles) == ["good", "x"]
    reasons = {Path(p.path.split(":")[0]).name: p.reason for p in result.problems}
    assert reasons["empty.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "unsupported file type '.docx'" in reasons["notes.docx"]
    assert "empty body" in reasons["blank.txt"]
    assert "duplicate id 'x'" in reasons["dup.jsonl"]


def test_encodings() -> None:
    assert decode_bytes("héllo".encode("utf-16")) == "héllo"
    assert decode_bytes("héllo".encode("latin-1")) == "héllo"
    assert decode_bytes("\ufeffhéllo".encode()) == "héllo"


def test_parse_date_spellings() -> None:
    assert parse_date("2019-05-21") == date(2019, 5, 21)
    assert parse_date("26-FEB-1987 15:01:01.79") == date(1987, 2, 26)
    assert parse_date("May 17, 2019") == date(2019, 5, 17)
    assert parse_date("2004-2005 (exact date not given)") is None
    assert parse_date("") is None
