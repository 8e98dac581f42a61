"""Files on disk: which files a corpus folder holds, and their bytes decoded to text."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from postqa.core.errors import CorpusError
from postqa.reading.result import Problem

MAX_FILE_BYTES = 512 * 1024 * 1024
_REPLACEMENT = "\ufffd"


def safe_str(path: str | os.PathLike[str]) -> str:
    """A path as text that is always valid UTF-8: bytes of a non-UTF-8 file name become ``\\xNN`` escapes.

    ``str(path)`` keeps such bytes as lone surrogates, which cannot be encoded, hashed, printed or stored
    in Chroma; every id, source and origin made from a path goes through here."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Decoded:
    """A file's text and, when some bytes had to be replaced or guessed, what was done (else "")."""

    text: str
    warning: str = ""


def _utf16_without_bom(raw: bytes) -> str | None:
    head = raw[:8192]
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(head) >= 8 and min(even, odd) <= 1 and max(even, odd) >= 0.6 * (len(head) // 2):
        # mostly-ASCII text in UTF-16 puts a NUL in every other byte
        try:
            return raw.decode("utf-16-be" if even > odd else "utf-16-le")
        except UnicodeDecodeError:
            return None
    return None


def _mostly_utf8(raw: bytes) -> tuple[str, int] | None:
    """The UTF-8 reading of ``raw`` with invalid bytes replaced, and how many were replaced, when the file is
    UTF-8 with a few bad bytes: most of its non-ASCII bytes form valid multi-byte characters. Legacy 8-bit
    text (latin-1, cp1252) almost never forms a valid multi-byte sequence, so it is left to detection."""
    text = raw.decode("utf-8", "replace")
    bad = text.count(_REPLACEMENT) - raw.count(_REPLACEMENT.encode())
    if bad <= 0:
        return text, 0
    multi = sum(1 for ch in text if ord(ch) > 0x7F and ch != _REPLACEMENT)
    high_bytes = sum(1 for b in raw if b > 0x7F)
    if multi >= 1 and bad <= 0.5 * high_bytes:
        return text.lstrip("\ufeff"), bad
    return None


def _first_bad_offset(raw: bytes) -> int:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return -1


def _western(raw: bytes) -> str | None:
    """cp1252 text when the bytes read as mostly-ASCII Western text (a few accented letters, quotes)."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return None
    high = sum(1 for ch in text if ord(ch) > 0x7F)
    return text if high <= 0.3 * max(len(text), 1) else None


def _legacy(raw: bytes) -> tuple[str, str]:
    """Text that is not UTF-8: the encoding charset-normalizer detects. When it recognises no language
    (short texts: every 8-bit code page decodes them) mostly-ASCII text is read as cp1252, the usual legacy
    encoding of English news."""
    from charset_normalizer import from_bytes

    best = from_bytes(raw[:1_000_000]).best()
    if best is None or best.percent_coherence < 20:
        western = _western(raw)
        if western is not None:
            return western, "cp1252"
    encoding = best.encoding if best is not None else "latin-1"
    try:
        return raw.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        return raw.decode("latin-1"), "latin-1"


def decode_file(raw: bytes) -> Decoded:
    """Decode UTF-8 (with or without BOM) or UTF-16/32; UTF-8 with a few invalid bytes keeps its UTF-8 text and
    reports the replaced bytes; only text that is not mostly UTF-8 gets a detected legacy encoding.

    Raises ValueError for binary content, so the caller can report the file and skip it.
    """
    if raw.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return Decoded(raw.decode("utf-32"))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Decoded(raw.decode("utf-16"))
    utf16 = _utf16_without_bom(raw)
    if utf16 is not None:
        return Decoded(utf16)
    if b"\x00" in raw[:8192]:
        raise ValueError("binary file (NUL bytes), not text; convert it to UTF-8 text first")
    try:
        return Decoded(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    mostly = _mostly_utf8(raw)
    if mostly is not None:
        text, bad = mostly
        return Decoded(text, f"{bad} invalid UTF-8 byte{'s' if bad != 1 else ''} replaced by U+FFFD (first at "
                             f"byte {_first_bad_offset(raw):,}); the rest is read as UTF-8")
    text, encoding = _legacy(raw)
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\r\n\t\f")
    if controls > 8:
        raise ValueError("binary file (control bytes), not text; convert it to UTF-8 text first")
    return Decoded(text, f"not UTF-8: read as {encoding} (detected); save it as UTF-8 to be sure")


def decode_bytes(raw: bytes) -> str:
    """The text of ``decode_file`` without its warning."""
    return decode_file(raw).text


def special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is ("a named pipe (FIFO)", ...), or None for a regular file."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def special_problem(path: Path, kind: str) -> Problem:
    return Problem(safe_str(path), f"{kind}, not a regular file; skipped")


def file_origin(path: Path) -> str:
    """Where a file is, as recorded with its articles: its folder resolved, its own name kept (a symlinked
    file is recorded where it is found), as safe text."""
    return safe_str(os.path.join(os.path.realpath(path.parent), path.name))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@dataclass
class _Walk:
    root: Path
    real_root: str
    problems: list[Problem]
    follow_symlinks: bool
    failed: set[str]
    seen: set[tuple[int, int]]


def _entry_kind(walk: _Walk, entry: os.DirEntry[str]) -> str | None:
    """"dir", "file" or None (reported and skipped) for one folder entry."""
    path = Path(entry.path)
    try:
        st = entry.stat(follow_symlinks=True)
    except FileNotFoundError:
        if entry.is_symlink():  # dangling: report it like an unreadable file, so its article is kept
            walk.problems.append(Problem(safe_str(path), "cannot read: No such file or directory "
                                                         "(dangling symlink)"))
            walk.failed.add(file_origin(path))
            return None
        return None  # removed while we looked
    except OSError as err:
        walk.problems.append(Problem(safe_str(path), f"cannot read: {err.strerror or err}"))
        walk.failed.add(file_origin(path))
        return None
    if entry.is_symlink() and not walk.follow_symlinks:
        target = os.path.realpath(path)
        if not _inside(target, walk.real_root):
            walk.problems.append(Problem(safe_str(path), f"symlink to {safe_str(target)}, outside the corpus "
                                                         "folder; skipped (set [ingest] follow_symlinks = true "
                                                         "to read it)"))
            return None
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    kind = special_kind(st.st_mode)
    if kind is not None:
        walk.problems.append(special_problem(path, kind))
        return None
    return "file"


def _visit(walk: _Walk, folder: Path) -> Iterator[Path]:
    try:
        st = folder.stat()
    except OSError as err:
        walk.problems.append(Problem(safe_str(folder), f"cannot read folder: {err.strerror or err}"))
        walk.failed.add(safe_str(os.path.realpath(folder)))
        return
    key = (st.st_dev, st.st_ino)
    if key in walk.seen:
        walk.problems.append(Problem(safe_str(folder), "symlink loop: folder already visited, skipped"))
        return
    walk.seen.add(key)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: os.fsencode(e.name))
    except OSError as err:
        walk.problems.append(Problem(safe_str(folder), f"cannot list folder: {err.strerror or err}; its "
                                                       "indexed articles are kept"))
        walk.failed.add(safe_str(os.path.realpath(folder)))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        kind = _entry_kind(walk, entry)
        if kind == "dir":
            yield from _visit(walk, Path(entry.path))
        elif kind == "file":
            yield Path(entry.path)


def walk_files(root: Path, problems: list[Problem], follow_symlinks: bool = False,
               failed: set[str] | None = None) -> Iterator[Path]:
    """Files below ``root`` in a stable order. Symlink loops, unreadable folders, special files (FIFOs,
    sockets, devices) and symlinks leading outside ``root`` (unless ``follow_symlinks``) are reported in
    ``problems``; folders and files that could not be looked at are added to ``failed`` (their indexed
    articles must be kept)."""
    walk = _Walk(root, os.path.realpath(root), problems, follow_symlinks,
                 failed if failed is not None else set(), set())
    yield from _visit(walk, root)


def check_corpus_paths(paths: list[Path]) -> None:
    """CorpusError for a path that is missing or a folder with nothing in it (an unmounted share looks like
    that): ingesting it would otherwise remove every article it held. A folder that cannot be listed is
    not an error here: the read reports it and its articles are kept."""
    for path in paths:
        if not path.exists() and not path.is_symlink():
            raise CorpusError(f"the corpus path {safe_str(path)!r} does not exist; nothing was changed. Check "
                              "the path (or [paths] corpus in postqa.toml), or that the share is mounted.")
        if not path.is_dir():
            continue
        try:
            with os.scandir(path) as entries:
                empty = not any(not e.name.startswith(".") for e in entries)
        except OSError:
            continue
        if empty:
            raise CorpusError(f"the corpus folder {safe_str(path)!r} is empty; nothing was changed (an empty "
                              "folder is often an unmounted share). Put articles in it, or pass the folder "
                              "that holds them.")
