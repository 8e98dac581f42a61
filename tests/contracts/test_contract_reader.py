"""The reader contract, for every supported format (postqa.reading.corpus.SUPPORTED_SUFFIXES): a file gives
Articles (an id, a title, a clean non-empty body, the file as source) or a reported Problem naming the file,
never an exception; ids are unique; reading twice gives the same articles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from postqa.reading.corpus import SUPPORTED_SUFFIXES, read_corpus

BODY = ("China Post and Xinhua News Agency signed a cooperation agreement in Beijing. "
        "Zhang Yongping presided over the meeting, and Kang Ning addressed it. ") * 3
GOOD = {
    ".txt": f"Cooperation agreement signed\nDate: 2020-09-11\n\n{BODY}\n",
    ".md": f"---\ntitle: Cooperation agreement signed\ndate: 2020-09-11\n---\n\n{BODY}\n",
    ".markdown": f"# Cooperation agreement signed\n\n{BODY}\n",
    ".html": (f"<html><head><title>Cooperation agreement signed</title><script>var x = 1;</script></head>"
              f"<body><nav>Home | News</nav><article><h1>Cooperation agreement signed</h1><p>{BODY}</p>"
              f"</article><footer>Copyright</footer></body></html>"),
    ".jsonl": json.dumps({"id": "j1", "title": "Cooperation agreement signed", "date": "2020-09-11",
                          "text": BODY}) + "\n",
}
GOOD[".htm"] = GOOD[".html"]
BAD = {"empty.txt": b"", "binary.txt": bytes(range(256)) * 8, "broken.jsonl": b"{not json\n",
       "blank.md": b"   \n\n", "nobody.html": b"<html><body><script>only()</script></body></html>"}


def test_every_supported_suffix_has_a_sample() -> None:
    assert set(SUPPORTED_SUFFIXES) <= set(GOOD)


@pytest.mark.parametrize("suffix", sorted(GOOD))
def test_a_readable_file_gives_clean_articles(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"article{suffix}"
    path.write_text(GOOD[suffix], encoding="utf-8")
    result = read_corpus([tmp_path])
    assert not result.problems, result.problems
    assert len(result.articles) == 1
    art = result.articles[0]
    assert art.id and art.title.strip() and "Zhang Yongping presided over the meeting" in art.text
    assert "<" not in art.text and "var x" not in art.text
    assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in art.text)
    assert path.name in art.source
    assert read_corpus([tmp_path]).articles == result.articles


@pytest.mark.parametrize("name", sorted(BAD))
def test_an_unreadable_file_is_a_reported_problem(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(BAD[name])
    (tmp_path / "good.txt").write_text(GOOD[".txt"], encoding="utf-8")
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["good"]
    assert any(name in p.path and p.reason for p in result.problems), result.problems


def test_ids_are_unique_across_files_and_formats(tmp_path: Path) -> None:
    for suffix in (".txt", ".md", ".jsonl"):
        (tmp_path / f"same{suffix}").write_text(GOOD[suffix], encoding="utf-8")
    result = read_corpus([tmp_path, tmp_path / "missing"])
    ids = [a.id for a in result.articles]
    assert len(ids) == len(set(ids)) == 3
    assert any("missing" in p.path for p in result.problems)
