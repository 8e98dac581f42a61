"""Atomic file writes: a temporary file in the same folder, flushed and fsynced, then renamed over the target,
so a reader (or a crash) sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Literal


@contextlib.contextmanager
def atomic_open(path: Path, mode: Literal["w", "wb"] = "w") -> Iterator[IO[Any]]:
    """Open a temporary sibling of ``path`` for writing; on a clean exit it is fsynced and renamed to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding="utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """``write(fh)`` into a binary temporary file, then rename it to ``path``."""
    with atomic_open(path, "wb") as fh:
        write(fh)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_open(path) as fh:
        fh.write(text)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable where the platform allows opening a folder (POSIX); else skip."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def place_folder(tmp: Path, final: Path) -> None:
    """Move a folder written in full beside its target (``tmp``) to ``final`` in one rename, after fsyncing
    every file and folder in it, so that after a crash ``final`` is absent or complete, never holding empty or
    half-written files. ``final`` must not exist (os.replace refuses a non-empty target folder)."""
    for sub in sorted(Path(tmp).rglob("*"), key=lambda p: -len(p.parts)):  # files before their folders
        if sub.is_file():
            with open(sub, "rb") as fh:
                os.fsync(fh.fileno())
        elif sub.is_dir():
            _fsync_dir(sub)
    _fsync_dir(Path(tmp))
    os.replace(tmp, final)
    _fsync_dir(Path(final).parent)
