"""Articles added by upload: files checked by content, zips unpacked safely, written only under the corpus
folder, then ingested into the running index (each article whole, the keyword index switched at the end)."""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from postqa.core.atomic import place_folder
from postqa.core.config import Settings
from postqa.core.errors import PostqaError
from postqa.reading.files import decode_bytes
from postqa.reading.result import CorpusReadResult

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
UPLOADS_DIR = "uploads"
MAX_FILES = 2000  # files in one upload, zip members included
MAX_RATIO = 100  # a zip member that unpacks to more than 100x its packed size is a bomb
UNPACKED_FACTOR = 10  # all members together may unpack to 10x the upload limit


class UploadRefused(PostqaError):
    """The upload breaks a rule (size, type, unsafe archive): nothing of it was written."""


@dataclass(frozen=True)
class Staged:
    """One checked file, ready to write: its safe path inside the upload folder and its bytes."""

    name: str  # posix path relative to the upload folder
    data: bytes
    origin: str  # the file name as uploaded (a zip member as "archive.zip!member")


@dataclass
class UploadReport:
    """What an upload did: files written, articles added/updated/unchanged, what was skipped and why."""

    folder: str = ""
    files: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    warnings: dict[str, list[str]] = field(default_factory=dict)  # file -> the reader's warnings

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "files": self.files, "added": len(self.added),
                "updated": len(self.updated), "unchanged": self.unchanged,
                "skipped": [{"file": f, "reason": r} for f, r in self.skipped], "warnings": self.warnings}


def safe_name(raw: str) -> str | None:
    """A relative posix path made of safe components, or None when the name tries to leave its folder
    (absolute, drive letter, ``..``) or has nothing left."""
    name = raw.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = []
    for part in PurePosixPath(name).parts:
        if part in ("", "."):
            continue
        if part == "..":
            return None
        clean = re.sub(r"[^\w.\- ]", "_", part).strip(" .")
        if not clean:
            return None
        parts.append(clean[:120])
    return "/".join(parts) or None


def check_text(name: str, data: bytes) -> str | None:
    """Why ``data`` is not an article file of its suffix (by content, not by name), or None."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in TEXT_SUFFIXES:
        return f"unsupported file type {suffix or '(none)'!r}; upload {', '.join(TEXT_SUFFIXES)} or a .zip of them"
    if not data.strip():
        return "empty file"
    if data[:4] == b"PK\x03\x04":
        return f"the content is a zip archive, not {suffix} text; name it .zip"
    try:
        decode_bytes(data)
    except (ValueError, UnicodeDecodeError) as err:
        return str(err)
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def check_zip(origin: str, data: bytes, limit: int) -> list[zipfile.ZipInfo]:
    """The members worth reading; UploadRefused for an unsafe archive (traversal, links, bombs, too big)."""
    import io

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise UploadRefused(f"{origin}: not a readable zip archive ({err}); upload a .zip made by a zip tool") from None
    if len(members) > MAX_FILES:
        raise UploadRefused(f"{origin}: {len(members):,} entries, over the limit of {MAX_FILES:,}; split it")
    total = 0
    for info in members:
        if safe_name(info.filename) is None:
            raise UploadRefused(f"{origin}: the entry {info.filename[:200]!r} points outside its folder; "
                                "nothing was added. Re-create the zip from the folder of articles itself")
        if _is_symlink(info):
            raise UploadRefused(f"{origin}: the entry {info.filename[:200]!r} is a symbolic link; nothing was added")
        if info.flag_bits & 0x1:
            raise UploadRefused(f"{origin}: the entry {info.filename[:200]!r} is encrypted; upload an unencrypted zip")
        if info.compress_size and info.file_size / info.compress_size > MAX_RATIO and info.file_size > 1 << 20:
            raise UploadRefused(f"{origin}: the entry {info.filename[:200]!r} unpacks to {info.file_size:,} bytes "
                                f"from {info.compress_size:,} (over {MAX_RATIO}x: a zip bomb?); nothing was added")
        total += info.file_size
    if total > limit * UNPACKED_FACTOR:
        raise UploadRefused(f"{origin}: unpacks to {total:,} bytes, over the limit of {limit * UNPACKED_FACTOR:,}; "
                            "split it into smaller uploads")
    return [m for m in members if not m.is_dir()]


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, origin: str) -> bytes:
    """A member's bytes, never more than it declared (a lying header cannot unpack a bomb)."""
    with archive.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) > info.file_size:
        raise UploadRefused(f"{origin}: the entry {info.filename[:200]!r} is larger than its header says; "
                            "nothing was added")
    return data


def stage_files(files: Sequence[tuple[str, bytes]], limit: int) -> tuple[list[Staged], list[tuple[str, str]]]:
    """Check every uploaded (name, bytes) in memory: UploadRefused for a rule broken (nothing is written
    then); files that are merely not articles come back as (name, reason) to report."""
    import io

    if sum(len(d) for _, d in files) > limit:
        big = max(files, key=lambda f: len(f[1]))
        raise UploadRefused(f"the upload is {sum(len(d) for _, d in files):,} bytes ({big[0]!r} is "
                            f"{len(big[1]):,}), over the limit of {limit:,} bytes; nothing was added. "
                            "Upload fewer or smaller files")
    staged: list[Staged] = []
    skipped: list[tuple[str, str]] = []
    for raw_name, data in files:
        name = safe_name(PurePosixPath(raw_name.replace("\\", "/")).name) or "upload"
        if name.lower().endswith(".zip"):  # by name; the content is then checked to be a zip
            members = check_zip(name, data, limit)
            archive = zipfile.ZipFile(io.BytesIO(data))
            base = PurePosixPath(name).stem
            for info in members:
                origin = f"{name}!{info.filename}"
                body = _read_member(archive, info, name)
                why = check_text(info.filename, body)
                if why:
                    skipped.append((origin, why))
                else:
                    staged.append(Staged(f"{base}/{safe_name(info.filename)}", body, origin))
        else:
            why = check_text(name, data)
            if why:
                skipped.append((name, why))
            else:
                staged.append(Staged(name, data, name))
    if len(staged) > MAX_FILES:
        raise UploadRefused(f"{len(staged):,} files, over the limit of {MAX_FILES:,}; split the upload")
    return _unique(staged), skipped


def _unique(staged: list[Staged]) -> list[Staged]:
    """Two uploads with the same name get "-2", "-3" suffixes instead of overwriting each other."""
    seen: set[str] = set()
    out = []
    for s in staged:
        name, n = s.name, 1
        while name.lower() in seen:
            n += 1
            stem, dot, suffix = s.name.rpartition(".")
            name = f"{stem}-{n}.{suffix}" if dot else f"{s.name}-{n}"
        seen.add(name.lower())
        out.append(replace(s, name=name))
    return out


def write_staged(staged: Sequence[Staged], corpus: Path, user: str) -> Path:
    """Write the checked files into a new folder ``corpus/uploads/<time>-<user>/``: first into a hidden
    temporary folder beside it (the reader skips dot-folders), then renamed into place in one step. Every
    target is checked to resolve inside the corpus folder."""
    root = corpus.resolve()
    uploads = root / UPLOADS_DIR
    uploads.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    who = safe_name(user or "anonymous") or "user"
    final = uploads / f"{stamp}-{who.replace('/', '_')}"
    n = 1
    while final.exists():
        n += 1
        final = uploads / f"{stamp}-{who}-{n}"
    tmp = Path(tempfile.mkdtemp(prefix=".incoming-", dir=uploads))
    try:
        for s in staged:
            target = (tmp / s.name).resolve()
            if not target.is_relative_to(tmp.resolve()) or not target.is_relative_to(root):
                raise UploadRefused(f"{s.origin!r} would be written outside the corpus folder; nothing was added")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as fh:
                fh.write(s.data)
        place_folder(tmp, final)  # fsynced, then one rename: a crash leaves no half-written upload
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def rebase_read(read: CorpusReadResult, folder: Path, corpus: Path) -> CorpusReadResult:
    """Give the articles read from an upload folder the ids and sources a full ingest of the corpus folder
    would give them (``uploads/<batch>/<name>``), so a later `postqa ingest` sees them unchanged."""
    prefix = folder.resolve().relative_to(corpus.resolve()).as_posix()
    out = CorpusReadResult(problems=list(read.problems), failed_origins=set(read.failed_origins),
                           roots=list(read.roots))
    for article in read.articles:
        origin = read.origins.get(article.id, "")
        if origin.lower().endswith(".jsonl"):
            new = article  # JSON Lines articles carry their own ids
        else:
            rel = Path(origin).relative_to(folder.resolve()).as_posix() if origin else article.id
            new = replace(article, id=f"{prefix}/{article.id}", source=f"{corpus.resolve().name}/{prefix}/{rel}")
        out.articles.append(new)
        out.origins[new.id] = origin
    return out


ProgressFn = Callable[[int, int], None]


def ingest_upload(settings: Settings, staged: Sequence[Staged], skipped: Sequence[tuple[str, str]], user: str,
                  embedder: Any = None, progress: ProgressFn | None = None, wait: float = 30.0) -> UploadReport:
    """Write the staged files under the corpus folder and ingest just that folder into the configured index
    (other articles untouched); the report names each file's problems and the reader's warnings."""
    from postqa.reading.corpus import read_corpus
    from postqa.service.pipeline import ingest

    corpus = settings.paths.corpus
    report = UploadReport(skipped=list(skipped))
    if not staged:
        return report
    folder = write_staged(staged, corpus, user)
    report.folder = folder.relative_to(corpus.resolve()).as_posix()
    report.files = [s.name for s in staged]
    read = rebase_read(read_corpus([folder]), folder, corpus)
    serving = settings.with_overrides(**{"embedding.threads": max(1, settings.embedding.threads)})
    result = ingest(serving, read=read, progress=progress, wait=wait, embedder=embedder, prune=False)
    report.added, report.updated, report.unchanged = result.added, result.updated, result.unchanged
    report.skipped += [(_shown(p.path, folder), p.reason) for p in result.skipped]
    for article in read.articles:
        warns = list(article.report.warnings) if article.report is not None else []
        if warns:
            report.warnings[_shown(read.origins.get(article.id, article.id), folder)] = [str(w) for w in warns]
    return report


def _shown(path: str, folder: Path) -> str:
    try:
        return Path(path).resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return Path(path).name


@dataclass
class UploadJob:
    """One upload being ingested in the background: progress to poll, then the report or the error."""

    user: str
    files: int
    done: threading.Event = field(default_factory=threading.Event)
    progress: tuple[int, int] = (0, 0)
    stage: str = "queued"
    report: UploadReport | None = None
    error: str = ""


class Uploads:
    """Runs uploads one at a time in a background thread, so the chat keeps answering meanwhile."""

    def __init__(self, settings: Settings, embedder: Callable[[], Any] | None = None,
                 on_done: Callable[[], None] | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or (lambda: None)
        self.on_done = on_done
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return int(self.settings.server.upload_max_mb) * 1024 * 1024

    def start(self, files: Sequence[tuple[str, bytes]], user: str) -> UploadJob:
        """Check the files now (UploadRefused at once, nothing written), ingest them in the background."""
        staged, skipped = stage_files(files, self.limit)
        job = UploadJob(user=user, files=len(staged))
        if not staged:
            job.report = UploadReport(skipped=skipped)
            job.stage = "finished"
            job.done.set()
            return job
        threading.Thread(target=self._run, args=(job, staged, skipped), name="postqa-upload",
                         daemon=True).start()
        return job

    def _run(self, job: UploadJob, staged: list[Staged], skipped: list[tuple[str, str]]) -> None:
        def progress(done: int, total: int) -> None:
            job.progress = (done, total)

        try:
            with self._lock:  # one upload ingests at a time; the next waits here
                job.stage = "indexing"
                job.report = ingest_upload(self.settings, staged, skipped, job.user, self.embedder(), progress)
            if self.on_done:
                self.on_done()
            job.stage = "finished"
        except PostqaError as err:
            job.error, job.stage = str(err), "failed"
        except Exception as err:  # noqa: BLE001 - a background job reports, it never takes the app down
            job.error, job.stage = f"the upload failed ({type(err).__name__}: {err})", "failed"
        finally:
            job.done.set()
