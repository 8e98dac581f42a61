"""The shared helpers: atomic writes (old or new file, never half) and following an index's fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import IO

import pytest

from postqa.core.atomic import atomic_write, atomic_write_text
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
