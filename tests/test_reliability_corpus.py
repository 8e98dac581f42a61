"""Issue 14: nothing lost when the corpus misbehaves. Pruning only removes articles whose files are known to be
gone; odd file names, encodings, symlinks and special files are read or reported, never fatal.
docs/reliability.md lists every case with its test."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import make_settings

from postqa.core.config import Settings
from postqa.core.errors import CorpusError, PruneRefusedError
from postqa.core.types import Article
from postqa.index.embedding import HashEmbedder
from postqa.index.indexer import article_hash
from postqa.reading.corpus import read_corpus
from postqa.reading.files import decode_file, safe_str
from postqa.service.pipeline import index_spec, ingest, open_store

CITIES = ["Harbin", "Lhasa", "Kunming", "Xiamen", "Urumqi", "Nanning", "Hefei", "Jinan", "Taiyuan", "Lanzhou"]


def article(i: int) -> str:
    city = CITIES[i % len(CITIES)]
    return (f"{city} post office news {i}\nDate: 2021-05-{i % 28 + 1:02d}\n\n"
            f"The {city} post office opened a parcel centre with {10 + i} counters. "
            f"Staff in {city} sorted {1000 + i} parcels on the first day.\n")


def make_corpus(folder: Path, n: int = 10, sub: str | None = None) -> list[str]:
    """n articles a00..; with ``sub`` the last three live in that sub-folder. Returns their ids."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(n):
        where = folder / sub if sub and i >= n - 3 else folder
        where.mkdir(exist_ok=True)
        (where / f"a{i:02d}.txt").write_text(article(i), encoding="utf-8")
        ids.append(f"{sub}/a{i:02d}" if sub and i >= n - 3 else f"a{i:02d}")
    return ids


def stored_ids(settings: Settings) -> set[str]:
    index = open_store(settings).open_index(index_spec(settings, HashEmbedder(dim=256)), create=False)
    return set(index.stored_articles())


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return tmp_path / "corpus"


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return make_settings(tmp_path, corpus)


def _fail_scandir(monkeypatch: pytest.MonkeyPatch, name: str, code: int) -> None:
    """Make listing the folder ``name`` fail as it does for a normal user (root can list mode-000 folders)."""
    original = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(str(path)).name == name:
            raise OSError(code, os.strerror(code), str(path))
        return original(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)


# ----------------------------------------------------------------------------------- pruning


@pytest.mark.parametrize("code", [errno.EACCES, errno.EIO, errno.ESTALE],
                         ids=["permission-denied", "io-error", "stale-mount"])
def test_unreadable_subfolder_keeps_its_articles(settings: Settings, corpus: Path, code: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_corpus(corpus, sub="region")
    ingest(settings)
    _fail_scandir(monkeypatch, "region", code)
    report = ingest(settings)
    assert report.removed == [] and sorted(report.kept) == sorted(ids[-3:])
    assert any("cannot list folder" in p.reason and "kept" in p.reason for p in report.skipped)
    assert stored_ids(settings) == set(ids)


def test_unreadable_corpus_root_keeps_everything(settings: Settings, corpus: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    _fail_scandir(monkeypatch, "corpus", errno.EACCES)
    report = ingest(settings)
    assert report.removed == [] and stored_ids(settings) == set(ids)


def test_file_replaced_by_a_dangling_symlink_keeps_its_article(settings: Settings, corpus: Path) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    target = corpus / "a03.txt"
    target.unlink()
    target.symlink_to(corpus.parent / "gone-away.txt")
    report = ingest(settings)
    assert report.removed == [] and "a03" in report.kept
    assert any(p.path.endswith("a03.txt") and "dangling symlink" in p.reason for p in report.skipped)
    assert stored_ids(settings) == set(ids)


def test_empty_corpus_folder_is_an_error_not_a_wipe(settings: Settings, corpus: Path) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    for f in corpus.iterdir():
        f.unlink()
    with pytest.raises(CorpusError, match="is empty; nothing was changed"):
        ingest(settings)
    assert stored_ids(settings) == set(ids)


def test_folder_with_only_hidden_files_counts_as_empty(settings: Settings, corpus: Path) -> None:
    corpus.mkdir()
    (corpus / ".DS_Store").write_bytes(b"x")
    with pytest.raises(CorpusError, match="is empty"):
        ingest(settings)


def test_missing_corpus_path_is_an_error(settings: Settings, corpus: Path) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    moved = corpus.parent / "elsewhere"
    corpus.rename(moved)
    with pytest.raises(CorpusError, match="does not exist; nothing was changed"):
        ingest(settings)
    moved.rename(corpus)
    assert stored_ids(settings) == set(ids)


def test_removing_more_than_the_prune_fraction_stops_and_asks(settings: Settings, corpus: Path) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    for i in (1, 2, 3):
        (corpus / f"a{i:02d}.txt").unlink()
    with pytest.raises(PruneRefusedError) as err:
        ingest(settings)
    msg = str(err.value)
    assert "3 of 10" in msg and "max_prune_fraction = 0.2" in msg and "--prune-all" in msg and "--no-prune" in msg
    assert stored_ids(settings) == set(ids)  # nothing was changed
    report = ingest(settings, prune_all=True)
    assert sorted(report.removed) == ["a01", "a02", "a03"]


def test_removing_a_share_within_the_limit_needs_no_confirmation(settings: Settings, corpus: Path) -> None:
    make_corpus(corpus)
    ingest(settings)
    (corpus / "a01.txt").unlink()
    (corpus / "a02.txt").unlink()  # 2 of 10 = 20%: at the limit, allowed
    assert sorted(ingest(settings).removed) == ["a01", "a02"]


def test_a_single_removal_never_needs_confirmation(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    settings = make_settings(tmp_path, corpus)
    ingest(settings)
    (corpus / "a01.txt").unlink()  # 50% of a two-article index, but one article
    assert ingest(settings).removed == ["a01"]


def test_prune_fraction_is_configurable(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus)
    settings = make_settings(tmp_path, corpus, **{"ingest.max_prune_fraction": 0.5})
    ingest(settings)
    for i in range(5):
        (corpus / f"a{i:02d}.txt").unlink()
    assert len(ingest(settings).removed) == 5


def test_no_prune_keeps_deleted_articles(settings: Settings, corpus: Path) -> None:
    ids = make_corpus(corpus)
    ingest(settings)
    for i in range(5):
        (corpus / f"a{i:02d}.txt").unlink()
    assert ingest(settings, prune=False).removed == [] and stored_ids(settings) == set(ids)


def test_renamed_file_replaces_its_article(settings: Settings, corpus: Path) -> None:
    make_corpus(corpus)
    ingest(settings)
    (corpus / "a04.txt").rename(corpus / "b04.txt")
    report = ingest(settings)
    assert report.removed == ["a04"] and report.added == ["b04"]


def test_cli_refused_prune_exits_2_with_the_way_forward(settings: Settings, corpus: Path, tmp_path: Path) -> None:
    make_corpus(corpus)
    ingest(settings)
    for i in (1, 2, 3):
        (corpus / f"a{i:02d}.txt").unlink()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_EMBEDDING__DIM": "256",
                "POSTQA_PATHS__CORPUS": str(corpus), "POSTQA_PATHS__VECTORSTORE": str(settings.paths.vectorstore)})
    cmd = [sys.executable, "-m", "postqa.interfaces.cli", "ingest"]
    proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("postqa: error: this ingest would remove 3 of 10")
    assert "Traceback" not in proc.stderr
    proc = subprocess.run([*cmd, "--yes"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "3 removed" in proc.stdout, proc.stderr


def test_cli_empty_corpus_exits_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTQA_")}
    env.update({"POSTQA_EMBEDDING__PROVIDER": "hash", "POSTQA_PATHS__VECTORSTORE": str(tmp_path / "vs")})
    proc = subprocess.run([sys.executable, "-m", "postqa.interfaces.cli", "ingest", str(tmp_path / "empty")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "is empty; nothing was changed" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------ JSONL sources


def _jsonl(path: Path, ids: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": i, "title": f"Story {i}", "date": "2021-01-02",
                                        "text": f"Story {i} says the depot in {i} opened."}) + "\n"
                            for i in ids), encoding="utf-8")


def test_deleting_one_jsonl_line_updates_nothing_else(settings: Settings, corpus: Path) -> None:
    corpus.mkdir()
    _jsonl(corpus / "news.jsonl", ["s1", "s2", "s3", "s4", "s5", "s6"])
    ingest(settings)
    _jsonl(corpus / "news.jsonl", ["s1", "s3", "s4", "s5", "s6"])  # the second line goes
    report = ingest(settings)
    assert report.removed == ["s2"] and report.updated == [] and report.unchanged == 5


def test_jsonl_source_names_the_article_not_the_line(tmp_path: Path) -> None:
    _jsonl(tmp_path / "news.jsonl", ["s1", "s2"])
    sources = [a.source for a in read_corpus([tmp_path / "news.jsonl"]).articles]
    assert sources == [f"{tmp_path / 'news.jsonl'}#s1", f"{tmp_path / 'news.jsonl'}#s2"]


def test_jsonl_with_lone_surrogate_escapes_is_indexed(settings: Settings, corpus: Path) -> None:
    corpus.mkdir()
    (corpus / "odd.jsonl").write_text('{"id": "x\\ud800y", "title": "T\\udcff", "text": "Body \\udfff text."}\n',
                                      encoding="utf-8")
    report = ingest(settings)
    assert report.added == ["xy"] and not report.skipped


# ------------------------------------------------------------------------------- file names


def test_non_utf8_file_name_does_not_abort_the_ingest(settings: Settings, corpus: Path) -> None:
    make_corpus(corpus, n=3)
    ingest(settings)
    bad = os.path.join(os.fsencode(corpus), b"caf\xe9-\xff.txt")
    with open(bad, "wb") as f:
        f.write(article(7).encode())
    (corpus / "new.txt").write_text(article(8), encoding="utf-8")
    report = ingest(settings)
    assert sorted(report.added) == ["caf\\xe9-\\xff", "new"] and not report.skipped
    again = ingest(settings)  # idempotent: the escaped name maps to the same id and origin every time
    assert (again.added, again.updated, again.removed, again.chunks_embedded) == ([], [], [], 0)
    os.unlink(bad)
    assert ingest(settings).removed == ["caf\\xe9-\\xff"]


def test_non_utf8_folder_name(tmp_path: Path) -> None:
    folder = os.path.join(os.fsencode(tmp_path), b"dir\xfe")
    os.mkdir(folder)
    with open(os.path.join(folder, b"a.txt"), "wb") as f:
        f.write(article(1).encode())
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["dir\\xfe/a"] and not result.problems
    assert all(s.encode("utf-8") for s in (result.articles[0].source, *result.origins.values()))


def test_article_hash_takes_any_text() -> None:
    art = Article(id="a\udcff", title="t\ud800", published=None, source="s\udcfe", text="x")
    assert len(article_hash(art)) == 16


def test_safe_str_is_plain_for_utf8_names() -> None:
    assert safe_str("corpus/café.txt") == "corpus/café.txt"
    assert safe_str(os.fsdecode(b"caf\xe9")) == "caf\\xe9"


# ------------------------------------------------------------------------------- encodings


def test_utf8_with_one_stray_byte_stays_utf8_and_is_reported(tmp_path: Path) -> None:
    text = "Quotes\n\nStaff said “well done” to the café team in Zürich."
    raw = text.encode("utf-8")
    cut = raw.index(b" to the")
    (tmp_path / "stray.txt").write_bytes(raw[:cut] + b"\xff" + raw[cut:])
    result = read_corpus([tmp_path])
    body = result.articles[0].text
    assert "“well done”" in body and "café" in body and "â\x80" not in body
    assert [w.reason.split(" (")[0] for w in result.warnings] == ["1 invalid UTF-8 byte replaced by U+FFFD"]
    assert not result.problems


def test_a_stray_byte_inside_a_character_keeps_the_rest_utf8() -> None:
    raw = "Quotes\n\nStaff said “well done” to the café team in Zürich.".encode()
    cut = raw.index("“".encode()) + 1
    decoded = decode_file(raw[:cut] + b"\xff" + raw[cut:])
    assert "café" in decoded.text and "Zürich" in decoded.text and "invalid UTF-8" in decoded.warning


def test_latin1_file_is_read_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "l1.txt").write_bytes("Café news\n\nThe café in Zürich sold 5 stamps.".encode("latin-1"))
    result = read_corpus([tmp_path])
    assert "Zürich" in result.articles[0].text
    assert result.warnings and "not UTF-8" in result.warnings[0].reason


@pytest.mark.parametrize("text,encoding", [
    ("Новости почты: отделение в Москве открыло новый склад для посылок.", "cp1251"),
    ("中国邮政今天开通了新的包裹分拣中心，每天处理十万件包裹。", "gb18030"),
    ("Ελληνικά νέα: το ταχυδρομείο άνοιξε νέο κέντρο διαλογής δεμάτων σήμερα.", "cp1253"),
], ids=["cp1251", "gb18030", "cp1253"])
def test_legacy_encodings_are_detected(text: str, encoding: str) -> None:
    decoded = decode_file(f"Title\n\n{text}".encode(encoding))
    assert text in decoded.text and "not UTF-8" in decoded.warning


def test_valid_utf8_gets_no_warning() -> None:
    assert decode_file("Title\n\nA “quoted” café.".encode()).warning == ""


def test_utf8_warning_reaches_the_ingest_report_and_cli(settings: Settings, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    (corpus / "stray.txt").write_bytes("Stray\n\nA “quoted” word.".encode() + b"\xfe")
    report = ingest(settings)
    assert "stray" in report.added and [w.path for w in report.warnings] == ["corpus/stray.txt"]
    assert report.to_json()["warnings"][0]["reason"].startswith("1 invalid UTF-8 byte")


# --------------------------------------------------------------------- symlinks, special files


def test_symlink_outside_the_corpus_is_skipped(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nThe vault code is 1234.", encoding="utf-8")
    (corpus / "leak.txt").symlink_to(secret)
    result = read_corpus([corpus])
    assert "leak" not in {a.id for a in result.articles}
    assert any("outside the corpus folder" in p.reason and "follow_symlinks" in p.reason for p in result.problems)
    assert "leak" in {a.id for a in read_corpus([corpus], follow_symlinks=True).articles}


def test_symlink_to_a_system_file_is_not_indexed(settings: Settings, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    (corpus / "passwd.txt").symlink_to("/etc/passwd")
    report = ingest(settings)
    assert "passwd" not in report.added and any("outside the corpus" in p.reason for p in report.skipped)


def test_symlinked_folder_outside_the_corpus_is_skipped(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    other = tmp_path / "other"
    make_corpus(other, n=1)
    (corpus / "linked").symlink_to(other, target_is_directory=True)
    assert {a.id for a in read_corpus([corpus]).articles} == {"a00", "a01"}
    assert "linked/a00" in {a.id for a in read_corpus([corpus], follow_symlinks=True).articles}


def test_follow_symlinks_setting_reaches_the_ingest(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    outside = tmp_path / "outside.txt"
    outside.write_text(article(5), encoding="utf-8")
    (corpus / "link.txt").symlink_to(outside)
    settings = make_settings(tmp_path, corpus, **{"ingest.follow_symlinks": True})
    assert "link" in ingest(settings).added


def test_symlink_inside_the_corpus_is_read(tmp_path: Path, corpus: Path) -> None:
    make_corpus(corpus, n=2)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "alias.txt").symlink_to(corpus / "a00.txt")
    result = read_corpus([corpus])
    assert {a.id for a in result.articles} == {"a00", "a01"}  # the same file once, under its first name


def test_fifo_is_reported_as_a_fifo_and_never_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    (tmp_path / "good.txt").write_text(article(1), encoding="utf-8")
    box: dict[str, object] = {}
    t = threading.Thread(target=lambda: box.update(r=read_corpus([tmp_path])), daemon=True)
    t.start()
    t.join(30)  # opening a FIFO for reading would block until a writer comes: it must not be opened
    assert not t.is_alive(), "read_corpus blocked on a FIFO"
    result = box["r"]
    assert [a.id for a in result.articles] == ["good"]  # type: ignore[attr-defined]
    assert [p.reason for p in result.problems] == ["a named pipe (FIFO), not a regular file; skipped"]  # type: ignore[attr-defined]


def test_fifo_given_directly_is_reported(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    result = read_corpus([tmp_path / "pipe.txt"])
    assert [p.reason for p in result.problems] == ["a named pipe (FIFO), not a regular file; skipped"]


def test_socket_file_is_reported_as_a_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))
        result = read_corpus([tmp_path])
    assert [p.reason for p in result.problems] == ["a socket, not a regular file; skipped"]


def test_device_reached_through_a_followed_symlink_is_reported(tmp_path: Path) -> None:
    (tmp_path / "null.txt").symlink_to("/dev/null")
    result = read_corpus([tmp_path], follow_symlinks=True)
    assert [p.reason for p in result.problems] == ["a character device, not a regular file; skipped"]


def test_symlink_to_itself_is_reported(tmp_path: Path) -> None:
    (tmp_path / "self.txt").symlink_to(tmp_path / "self.txt")
    (tmp_path / "good.txt").write_text(article(1), encoding="utf-8")
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["good"] and "cannot read" in result.problems[0].reason


def test_a_parser_crash_is_that_files_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import postqa.reading.corpus as corpus_mod

    original = corpus_mod.read_text_page

    def boom(text: str, *args: object) -> object:
        if "bomb" in text:
            raise RecursionError("maximum recursion depth exceeded")
        return original(text, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(corpus_mod, "read_text_page", boom)
    (tmp_path / "bomb.txt").write_text("bomb\n\nbomb body", encoding="utf-8")
    (tmp_path / "good.txt").write_text(article(1), encoding="utf-8")
    result = read_corpus([tmp_path])
    assert [a.id for a in result.articles] == ["good"]
    assert "RecursionError" in result.problems[0].reason and "Traceback" not in result.problems[0].reason
    assert str((tmp_path / "bomb.txt").resolve()) in result.failed_origins
