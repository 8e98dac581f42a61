"""Incremental, idempotent, crash-safe ingest: sync articles into a ChromaIndex and its BM25 twin."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from postqa.core.config import ChunkingSettings
from postqa.core.errors import IngestLockedError, PruneRefusedError
from postqa.core.types import Article, Chunk
from postqa.index import people_store
from postqa.index.chunking import chunk_article
from postqa.index.embedding import Embedder
from postqa.index.ledger import Ledger, chunk_row, install, new_root_beside
from postqa.index.people import AnalyseFn, contributions, people_path
from postqa.index.store import ChromaIndex, StoredArticle, article_metadata, chunk_metadata, stored_from_records
from postqa.index.wordvectors import WordVectors, backfill, vocabulary
from postqa.nlp.pipeline import DEFAULT_MODEL
from postqa.nlp.sentences import SentenceSplitter, shared_splitter
from postqa.nlp.store import AnalysisStore
from postqa.reading.result import CorpusReadResult, Problem

ProgressFn = Callable[[int, int], None]  # (articles done, articles to index)
SPLIT_PAGE = 32  # articles whose sentences are split in one spaCy batch


@dataclass
class IngestReport:
    """What one ingest did, for the CLI's summary and for tests."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not seen, but not known to be gone: kept
    chunks_embedded: int = 0
    chunks_reused: int = 0
    chunks_analysed: int = 0
    words_embedded: int = 0  # vocabulary words new to the word-vector table (postqa.index.wordvectors)
    articles_total: int = 0
    chunks_total: int = 0
    keyword_rebuilt: bool = False
    seconds: float = 0.0
    collection: str = ""
    reader_warnings: list[Problem] = field(default_factory=list)  # (article source, what the reader doubts)

    def to_json(self) -> dict[str, object]:
        return {
            "added": len(self.added), "updated": len(self.updated), "removed": len(self.removed),
            "unchanged": self.unchanged, "skipped": [{"path": p.path, "reason": p.reason} for p in self.skipped],
            "warnings": [{"path": p.path, "reason": p.reason} for p in self.warnings], "kept": len(self.kept),
            "chunks_embedded": self.chunks_embedded, "chunks_reused": self.chunks_reused,
            "chunks_analysed": self.chunks_analysed, "words_embedded": self.words_embedded,
            "articles_total": self.articles_total, "chunks_total": self.chunks_total,
            "keyword_rebuilt": self.keyword_rebuilt, "seconds": round(self.seconds, 3),
            "collection": self.collection,
            "reader_warnings": [{"path": p.path, "reason": p.reason} for p in self.reader_warnings],
        }


def _crash_point(name: str) -> None:
    """Test seam for the fault tests (tests/test_faults.py): when POSTQA_CRASH_AT equals ``name`` the process
    kills itself with SIGKILL right here, as a power cut or ``kill -9`` would. Points: "embedding"
    (mid-ingest, after an embed call and that step's Chroma write), "before-keyword" (Chroma written, BM25
    not saved), "before-manifest" (BM25 saved, manifest not written). Unset in normal use: one dict lookup."""
    if os.environ.get("POSTQA_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def article_hash(article: Article) -> str:
    """A content hash of everything stored about an article (its text and what its chunks carry: title, date,
    source, how it was read), so a better read of the same text refreshes the metadata (the vectors are reused);
    any text (even lone surrogates) hashes."""
    report = article.report
    read = [report.layout, *report.warnings] if report else []
    raw = "\x1f".join([article.id, article.title, article.published.isoformat() if article.published else "",
                       article.source, article.text, article.url, *read])
    return hashlib.sha1(raw.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def keyword_path(store_dir: Path, collection: str) -> Path:
    """The collection's ledger folder: its article catalogue and BM25 segments (see index.ledger)."""
    return store_dir / "ledger" / collection


class IngestLock:
    """An exclusive file lock on the store folder: a second ingest stops with a clear message."""

    def __init__(self, store_dir: Path, wait: float = 0.0) -> None:
        from filelock import FileLock

        store_dir.mkdir(parents=True, exist_ok=True)
        self.path = store_dir / ".ingest.lock"
        self.owner = store_dir / ".ingest.owner"
        self.wait = wait
        self._lock = FileLock(str(self.path))

    def __enter__(self) -> IngestLock:
        from filelock import Timeout

        try:
            self._lock.acquire(timeout=self.wait)
        except Timeout:
            who = self.owner.read_text().strip() if self.owner.exists() else "another process"
            raise IngestLockedError(
                f"another ingest ({who}) is writing to {self.path.parent}; wait for it to finish, or pass "
                "--wait SECONDS to queue behind it") from None
        self.owner.write_text(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.owner.unlink(missing_ok=True)
        self._lock.release()


def _under(origin: str, roots: Iterable[str]) -> bool:
    return any(origin == r or origin.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def _known_gone(origin: str, read: CorpusReadResult) -> bool:
    """True only when the file an article came from is known to be gone: it lies under a scanned folder, no
    folder or file on its way failed to read, the scan did not find it, and the file system says it does not
    exist. Anything less certain (an unreadable folder, a stale mount, a dangling symlink) keeps the article."""
    if not origin or not _under(origin, read.roots) or _under(origin, read.failed_origins):
        return False
    if origin in read.scanned:
        return origin not in read.failed_origins and origin in set(read.origins.values())
    try:
        os.lstat(origin)
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False
    return False


def check_prune(to_remove: Sequence[str], stored: int, max_fraction: float | None) -> None:
    """Refuse (before anything is changed) a run that would remove more than ``max_fraction`` of the index;
    removing a single article never needs confirmation."""
    if max_fraction is None or len(to_remove) <= max(1, max_fraction * stored):
        return
    share = len(to_remove) / max(stored, 1)
    names = ", ".join(to_remove[:5]) + (", ..." if len(to_remove) > 5 else "")
    raise PruneRefusedError(
        f"this ingest would remove {len(to_remove)} of {stored} indexed articles ({share:.0%}: {names}), more "
        f"than [ingest] max_prune_fraction = {max_fraction:g}; nothing was changed. If their files were deleted "
        "on purpose, run again with --prune-all (or --yes); to keep them, pass --no-prune.")


def rebuild_ledger(index: ChromaIndex, root: Path, install_it: bool = True) -> Ledger:
    """A ledger built from every chunk in Chroma: the one full read, for a store written before the ledger
    existed or whose ledger was lost or written by another tokenizer. Built beside ``root`` and moved there
    (``install_it``); otherwise (another process is ingesting) kept in a folder of its own."""
    built = new_root_beside(root)
    ledger = Ledger.create(built)
    metas: list[tuple[str, dict[str, object]]] = []
    page: list[object] = []
    for chunk in index.all_chunks_with_meta():
        c, m = chunk
        page.append(chunk_row(c, m))
        metas.append((c.id, {k: m.get(k, "") for k in _ARTICLE_KEYS}))
        if len(page) >= 5000:
            ledger.add_chunks(page)  # type: ignore[arg-type]
            page = []
    ledger.add_chunks(page)  # type: ignore[arg-type]
    ledger.put_articles(list(stored_from_records(metas).values()))
    ledger.compact(max_segments=1, delta_share=0.0)
    ledger.close()
    if install_it:
        root.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(root, ignore_errors=True)
        install(built, root)
    opened = Ledger.open(root if install_it else built)
    if opened is None:
        raise OSError(f"the ledger rebuilt in {built} cannot be opened")
    return opened


_ARTICLE_KEYS = ("article_id", "article_hash", "origin", "n_chunks", "title", "published", "source", "layout",
                 "warnings", "url")


def load_keyword_index(index: ChromaIndex, path: Path, expected: str | None = None) -> Ledger:
    """The collection's ledger (catalogue and BM25), opened from disk; rebuilt from Chroma when it is missing
    or unusable. A reader rebuilds it on disk only when no ingest is running (else in a folder of its own).
    ``expected`` (the manifest's fingerprint) is not needed: every article the ledger does not mark pending
    matches Chroma, and the next ingest settles the pending ones."""
    del expected
    ledger = Ledger.open(path)
    if ledger is not None:
        return ledger
    try:
        with IngestLock(path.parent.parent):
            return Ledger.open(path) or rebuild_ledger(index, path)
    except (IngestLockedError, OSError):
        return rebuild_ledger(index, path, install_it=False)


def build_people(index: ChromaIndex, ledger: Ledger, analyse: AnalyseFn | None, page: int = 200) -> bool:
    """The people tables from every stored article, once (a ledger written before they existed, or rebuilt):
    pages of articles, each page's chunks read by id, marked built at the end (a kill mid-way leaves them
    unmarked and the next ingest starts again); tables of an older format are upgraded from their own rows.
    True when it built or upgraded."""
    if people_store.needs_upgrade(ledger.db):
        ledger.write(people_store.upgrade)
        return True
    if people_store.is_built(ledger.db):
        return False
    ledger.write(people_store.create_tables)
    ledger.write(people_store.reset)
    ids = sorted(ledger.stored_articles())
    for i in range(0, len(ids), page):
        cids = ledger.chunk_ids_of(ids[i:i + page])
        got = index.get_chunks(cids)
        arts = contributions([got[c] for c in cids if c in got], analyse)
        ledger.write(lambda db, arts=arts: people_store.add_built(db, arts))  # type: ignore[misc]
        _crash_point("people-build")
    ledger.write(people_store.finish_build)
    return True


class LedgerChunks:
    """Every stored chunk, read from Chroma by the ids the ledger lists (pages by id, not by offset)."""

    def __init__(self, index: ChromaIndex, ledger: Ledger, page: int = 2000) -> None:
        self.index, self.ledger, self.page = index, ledger, page

    def all_chunks(self) -> Iterable[Chunk]:
        ids = self.ledger.chunk_ids()
        for i in range(0, len(ids), self.page):
            got = self.index.get_chunks(ids[i:i + self.page])
            yield from (got[c] for c in ids[i:i + self.page] if c in got)


class Indexer:
    """Brings one index in line with a corpus read: adds, replaces and removes articles' chunks."""

    def __init__(self, embedder: Embedder, index: ChromaIndex, store_dir: Path, chunking: ChunkingSettings,
                 embed_batch_chunks: int = 256, analyses: AnalysisStore | None = None,
                 words: WordVectors | None = None, sentences: SentenceSplitter | None = None) -> None:
        self.embedder = embedder
        self.sentences = sentences or shared_splitter(analyses.analyser.model if analyses else DEFAULT_MODEL)
        self.analyses = analyses
        self.words = words if analyses is not None else None  # the vocabulary comes from the analyses
        self.index = index
        self.keyword_file = keyword_path(store_dir, index.name)
        self.people_file = people_path(store_dir, index.name)
        self._ledger: Ledger | None = None
        self.max_tokens = min(chunking.max_tokens, embedder.max_tokens)
        self.overlap = chunking.overlap_sentences
        self.batch_chunks = embed_batch_chunks

    def chunk(self, article: Article, sentences: Sequence[tuple[int, int]] | None = None) -> list[Chunk]:
        """The article's chunks; ``sentences``: its sentence offsets when already split (else split now)."""
        if sentences is None:
            sentences = self.sentences.split(article.text)
        return chunk_article(article, self.max_tokens, self.embedder.count_tokens, self.overlap, sentences)

    def chunk_many(self, articles: Sequence[Article]) -> Iterator[list[Chunk]]:
        """Each article's chunks, the sentences split a page of articles at a time (spaCy batches them)."""
        for i in range(0, len(articles), SPLIT_PAGE):
            page = articles[i:i + SPLIT_PAGE]
            for article, sents in zip(page, self.sentences.split_many([a.text for a in page]), strict=True):
                yield self.chunk(article, sents)

    def sync(self, read: CorpusReadResult, progress: ProgressFn | None = None,
             prune: bool = True, max_prune_fraction: float | None = None) -> IngestReport:
        """Add, replace and remove articles so the index matches ``read``. Only articles whose files are known
        to be gone are removed; more than ``max_prune_fraction`` of the index raises PruneRefusedError first."""
        t0 = time.perf_counter()
        report = IngestReport(skipped=list(read.problems), warnings=list(read.warnings), collection=self.index.name,
                              reader_warnings=[Problem(a.source, w) for a in read.articles if a.report
                                               for w in a.report.warnings])
        ledger, report.keyword_rebuilt = self._open_ledger()
        self._settle_pending(ledger)
        if build_people(self.index, ledger, self._analyse()):
            self.people_file.unlink(missing_ok=True)  # the in-memory index's file of older versions
        report.words_embedded += self._backfill_words(ledger)
        stored = ledger.stored_articles()
        todo: list[tuple[Article, str, StoredArticle | None]] = []
        for article in read.articles:
            h = article_hash(article)
            st = stored.get(article.id)
            if st and st.article_hash == h and st.present == st.n_chunks:
                report.unchanged += 1
            else:
                todo.append((article, h, st))
        seen = {a.id for a in read.articles}
        unseen = [aid for aid, st in stored.items() if prune and aid not in seen and _under(st.origin, read.roots)]
        to_remove = [aid for aid in unseen if _known_gone(stored[aid].origin, read)]
        report.kept = [aid for aid in unseen if aid not in set(to_remove)]
        check_prune(to_remove, len(stored), max_prune_fraction)
        state = self.index.state()
        if todo or to_remove:
            self.index.set_state({**state, "dirty": True,
                                  "started": datetime.now(UTC).isoformat(timespec="seconds")})
        if to_remove:
            ledger.mark_pending(to_remove)
            for aid in to_remove:
                self.index.delete_article(aid)
                report.removed.append(aid)
            ledger.replace([], [], removed=to_remove,
                           also=lambda db: people_store.replace_articles(db, [], to_remove))
        self._index_articles(todo, read, report, progress)
        _crash_point("before-keyword")
        ledger.compact()
        fp = ledger.fingerprint
        final = ledger.stored_articles()
        if self.analyses is not None and (report.updated or to_remove):
            self.analyses.prune_keys(ledger.text_keys())
        report.articles_total = len(final)
        report.chunks_total = sum(a.present for a in final.values())
        report.seconds = time.perf_counter() - t0
        changed = bool(todo or to_remove) or state.get("fingerprint") != fp or state.get("dirty")
        _crash_point("before-manifest")
        if changed:
            self.index.set_state({
                "dirty": False, "fingerprint": fp, "articles": report.articles_total,
                "chunks": report.chunks_total,
                "articles_with_warnings": sum(1 for a in final.values() if a.warnings),
                "newest": max((a.published for a in final.values() if a.published), default=""),
                "last_ingest": datetime.now(UTC).isoformat(timespec="seconds"),
                "last_report": {k: v for k, v in report.to_json().items() if k not in ("skipped", "reader_warnings")},
            })
        return report

    def _open_ledger(self) -> tuple[Ledger, bool]:
        """The collection's ledger, rebuilt from Chroma when missing or unusable (True: rebuilt)."""
        ledger = Ledger.open(self.keyword_file)
        rebuilt = ledger is None
        self._ledger = ledger or rebuild_ledger(self.index, self.keyword_file)
        return self._ledger, rebuilt

    def _settle_pending(self, ledger: Ledger) -> None:
        """Articles an interrupted ingest marked pending: their rows are read back from what Chroma holds."""
        pending = ledger.pending()
        if not pending:
            return
        records = self.index.article_chunks(pending)
        articles = stored_from_records([(c.id, m) for c, m in records])
        gone = [a for a in pending if a not in articles]
        people = contributions([c for c, _ in records], self._analyse())
        ledger.replace(list(articles.values()), [chunk_row(c, m) for c, m in records], removed=gone,
                       also=lambda db: people_store.replace_articles(db, people, gone))

    def _backfill_words(self, ledger: Ledger) -> int:
        """The vocabulary of the chunks stored before the word table existed, once (see wordvectors.backfill)."""
        if self.words is None or self.analyses is None or self.words.is_built():
            return 0
        return backfill(self.words, (c.text for c in LedgerChunks(self.index, ledger).all_chunks()),
                        self.analyses.get_many)

    def _analyse(self) -> AnalyseFn | None:
        return self.analyses.get_many if self.analyses is not None else None

    def _index_articles(self, todo: list[tuple[Article, str, StoredArticle | None]], read: CorpusReadResult,
                        report: IngestReport, progress: ProgressFn | None) -> None:
        batch: list[tuple[Article, str, StoredArticle | None, list[Chunk]]] = []
        pending = 0
        done = 0
        for (article, h, st), chunks in zip(todo, self.chunk_many([a for a, _, _ in todo]), strict=True):
            batch.append((article, h, st, chunks))
            pending += len(chunks)
            if pending >= self.batch_chunks:
                self._flush(batch, read, report)
                done += len(batch)
                if progress:
                    progress(done, len(todo))
                batch, pending = [], 0
        if batch:
            self._flush(batch, read, report)
            done += len(batch)
            if progress:
                progress(done, len(todo))

    def _flush(self, batch: list[tuple[Article, str, StoredArticle | None, list[Chunk]]],
               read: CorpusReadResult, report: IngestReport) -> None:
        # Reuse stored vectors of chunks whose text did not change; embed the rest in one call.
        vectors: dict[str, np.ndarray] = {}
        need: list[tuple[str, str]] = []  # (chunk id, context text)
        metas: dict[str, dict[str, object]] = {}
        for article, h, st, chunks in batch:
            reuse = self.index.embeddings_by_hash(article.id) if st else {}
            about = article_metadata(article)
            for c in chunks:
                m = chunk_metadata(c, h, read.origins.get(article.id, article.source), len(chunks), about)
                metas[c.id] = m
                old = reuse.get(str(m["chunk_hash"]))
                if old is not None and old.shape == (self.embedder.dim,):
                    vectors[c.id] = old
                    report.chunks_reused += 1
                else:
                    need.append((c.id, c.context_text))
        if need:
            embedded = self.embedder.embed_documents([t for _, t in need])
            for (cid, _), vec in zip(need, embedded, strict=True):
                vectors[cid] = vec
            report.chunks_embedded += len(need)
        # One Chroma write for the whole batch (a write per article cost 87% of the ingest overhead over the
        # raw encoder in benchmarks/bench_ingest.py), then each updated article's surplus old chunks go.
        written = [c for _, _, _, chunks in batch for c in chunks]
        if self.analyses is not None and written:
            # analysed before the Chroma write: every stored chunk has its analysis (rows are keyed by the
            # text, so rows of a batch a kill interrupted are simply reused by the next ingest)
            report.chunks_analysed += self.analyses.ensure(c.text for c in written)
            if self.words is not None:  # before the write too: a stored chunk's words are in the table
                vocab = set().union(*(vocabulary(a) for a in self.analyses.get_many([c.text for c in written])))
                report.words_embedded += self.words.ensure(vocab)
        ledger = self._ledger
        assert ledger is not None, "sync opens the ledger before any write"
        ledger.mark_pending(a.id for a, _, _, _ in batch)
        if written:
            self.index.upsert(written, np.stack([vectors[c.id] for c in written]), [metas[c.id] for c in written])
        _crash_point("embedding")  # after the embed call and the batch write, before stale chunks are removed
        for article, _h, st, chunks in batch:
            if st is not None:
                keep = {c.id for c in chunks}
                if st.present == st.n_chunks and st.article_hash:
                    old_ids = [f"{article.id}#{n}" for n in range(st.n_chunks)]
                else:  # an earlier run was interrupted: ask the store what is there
                    old_ids = self.index.article_chunk_ids(article.id)
                self.index.delete_ids([cid for cid in old_ids if cid not in keep])
                report.updated.append(article.id)
            else:
                report.added.append(article.id)
        with_chunks = [(a, chunks) for a, _, _, chunks in batch if chunks]
        empty = [a.id for a, _, _, chunks in batch if not chunks]
        people = contributions(written, self._analyse())
        ledger.replace(
            [stored_from_records([(c.id, metas[c.id]) for c in chunks])[a.id] for a, chunks in with_chunks],
            [chunk_row(c, metas[c.id]) for c in written], removed=empty,
            also=lambda db: people_store.replace_articles(db, people, empty))
