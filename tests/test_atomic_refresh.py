"""The shared helpers: atomic writes (old or new file, never half) and following an index's fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pytest

from postqa.core.atomic import atomic_write, atomic_write_text, place_folder
from postqa.index.refresh import FollowFingerprint


def test_atomic_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "data.json"
    atomic_write_text(target, "old")
    atomic_write_text(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert [p.name for p in target.parent.iterdir()] == ["data.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "index.npz"
    atomic_write(target, lambda fh: fh.write(b"old"))

    def half(fh: IO[bytes]) -> None:
        fh.write(b"half of the new")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(target, half)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["index.npz"]


def _record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    import os

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else str(fd))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced


def test_place_folder_syncs_every_file_then_renames_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tmp = tmp_path / ".incoming"
    (tmp / "sub").mkdir(parents=True)
    (tmp / "a.txt").write_text("a", encoding="utf-8")
    (tmp / "sub" / "b.txt").write_text("b", encoding="utf-8")
    synced = _record_fsyncs(monkeypatch)
    place_folder(tmp, tmp_path / "final")
    assert not tmp.exists() and (tmp_path / "final" / "sub" / "b.txt").read_text(encoding="utf-8") == "b"
    if synced and not synced[0].isdigit():  # /proc names the files: each one was synced before the rename
        assert any(s.endswith("/.incoming/a.txt") for s in synced)
        assert any(s.endswith("/.incoming/sub/b.txt") for s in synced)
    assert len(synced) >= 5  # two files, two folders, and the parent after the rename


def test_an_upload_and_an_export_write_through_core_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from postqa.index.embedding import export
    from postqa.service.upload import stage_files, write_staged

    synced = _record_fsyncs(monkeypatch)
    staged, _ = stage_files([("note.txt", b"Li Wenbo opened the Harbin hub on Monday.")], 1 << 20)
    folder = write_staged(staged, tmp_path / "corpus", "alice")
    assert [p.name for p in folder.iterdir()] == ["note.txt"]
    assert any(s.endswith("/note.txt") for s in synced) or synced and synced[0].isdigit()
    out = tmp_path / "models"
    out.mkdir()
    export._write_meta(out, {"name": "m"})
    assert json.loads((out / "postqa_onnx.json").read_text(encoding="utf-8")) == {"name": "m"}
    assert [p.name for p in out.iterdir()] == ["postqa_onnx.json"]  # no temporary left beside it


class Clock:
    def __init__(self) -> None:
        self.fp = "a"
        self.loads: list[str] = []
        self.changes = 0

    def load(self, fp: str) -> str:
        self.loads.append(fp)
        return f"value@{fp}"

    def changed(self) -> None:
        self.changes += 1


def test_reloads_only_when_the_fingerprint_changes() -> None:
    c = Clock()
    follow = FollowFingerprint(lambda: c.fp, c.load, ttl=0.0, on_change=c.changed)
    assert follow() == "value@a" and follow() == "value@a" and c.loads == ["a"] and c.changes == 0
    c.fp = "b"
    assert follow() == "value@b" and c.loads == ["a", "b"] and c.changes == 1
    c.fp = ""  # no state recorded (e.g. between writes): keep what we have
    assert follow() == "value@b" and c.loads == ["a", "b"]


def test_ttl_bounds_how_often_the_fingerprint_is_read() -> None:
    c = Clock()
    reads = []

    def fingerprint() -> str:
        reads.append(1)
        return c.fp

    follow = FollowFingerprint(fingerprint, c.load, ttl=3600.0)
    follow()
    c.fp = "b"
    assert follow() == "value@a" and len(reads) == 1  # within the ttl: no state read, no reload


def test_nothing_to_load_is_retried() -> None:
    values: list[str | None] = [None, "built"]
    follow: FollowFingerprint[str] = FollowFingerprint(lambda: "a", lambda fp: values.pop(0), ttl=3600.0)
    assert follow() is None and follow() == "built"
