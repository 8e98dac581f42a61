"""Files on disk: which files a corpus folder holds, and their bytes decoded to text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from postqa.reading.result import Problem

MAX_FILE_BYTES = 512 * 1024 * 1024


def decode_bytes(raw: bytes) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16/32; fall back to cp1252 for legacy files.

    Raises ValueError for binary content, so the caller can report the file and skip it.
    """
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return raw.decode("utf-32")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    head = raw[:8192]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) >= 8 and min(even, odd) <= 1 and max(even, odd) >= 0.6 * (len(head) // 2):
        # UTF-16 without a byte-order mark: mostly-ASCII text puts a NUL in every other byte
        try:
            return raw.decode("utf-16-be" if even > odd else "utf-16-le")
        except UnicodeDecodeError:
            pass
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (NUL bytes), not text; convert it to UTF-8 text first")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > 8:
        raise ValueError("binary file (control bytes), not text; convert it to UTF-8 text first")
    return text


def walk_files(root: Path, problems: list[Problem]) -> Iterator[Path]:
    """Files below ``root`` in a stable order; symlink loops and unreadable folders are reported."""
    seen: set[tuple[int, int]] = set()

    def visit(folder: Path) -> Iterator[Path]:
        try:
            st = folder.stat()
        except OSError as err:
            problems.append(Problem(str(folder), f"cannot read folder: {err.strerror or err}"))
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:
            problems.append(Problem(str(folder), "symlink loop: folder already visited, skipped"))
            return
        seen.add(key)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as err:
            problems.append(Problem(str(folder), f"cannot list folder: {err.strerror or err}"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as err:
                problems.append(Problem(str(path), f"cannot read: {err.strerror or err}"))
                continue
            if is_dir:
                yield from visit(path)
            else:
                yield path

    yield from visit(root)
