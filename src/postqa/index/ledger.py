"""The ledger of one collection: a SQLite catalogue of its articles and chunks (ids, hashes, dates, counts)
and its BM25 keyword index as immutable segments, both updated per changed article in the same transaction,
so that start-up and ingest never scan every chunk's metadata in Chroma and no ingest rebuilds the keyword
index from all chunks.

Crash safety: before an ingest writes an article to Chroma it marks it ``pending`` here (committed); after
the Chroma write its rows replace the old ones and the mark goes, in one transaction. Every article not
pending therefore matches Chroma exactly; the next ingest reads the pending ones back from Chroma."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from postqa.core.types import Chunk
from postqa.index.keyword import TOKENIZER, tokenize
from postqa.index.segments import Segment, merge
from postqa.index.store import StoredArticle, chunk_digest, set_fingerprint

FORMAT = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS articles (id TEXT PRIMARY KEY, hash TEXT, origin TEXT, n_chunks INT, present INT,
    title TEXT, published TEXT, source TEXT, layout TEXT, warnings TEXT, url TEXT);
CREATE TABLE IF NOT EXISTS chunks (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, article_id TEXT, chunk_hash TEXT,
    article_hash TEXT, text_key TEXT, h1 INT, h2 INT, length INT);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks (article_id);
CREATE INDEX IF NOT EXISTS articles_published ON articles (published);
CREATE TABLE IF NOT EXISTS pending (article_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS segments (seg INTEGER PRIMARY KEY, n_docs INT);
CREATE TABLE IF NOT EXISTS tombstones (rowid INTEGER PRIMARY KEY);
"""


@dataclass(frozen=True)
class ChunkRow:
    """What the ledger keeps of one stored chunk (its text only as BM25 tokens in a segment)."""

    id: str
    article_id: str
    chunk_hash: str
    article_hash: str
    text_key: str
    tokens: list[str]


def chunk_row(chunk: Chunk, meta: dict[str, Any]) -> ChunkRow:
    from postqa.nlp.analysis import text_key

    return ChunkRow(chunk.id, chunk.article_id, str(meta.get("chunk_hash", "")), str(meta.get("article_hash", "")),
                    text_key(chunk.text), tokenize(chunk.context_text))


def article_record(a: StoredArticle) -> tuple[Any, ...]:
    return (a.article_id, a.article_hash, a.origin, a.n_chunks, a.present, a.title, a.published, a.source,
            a.layout, "\n".join(a.warnings), a.url)


def _stored(row: Sequence[Any]) -> StoredArticle:
    return StoredArticle(str(row[0]), str(row[1] or ""), str(row[2] or ""), int(row[3]), int(row[4]), str(row[5] or ""),
                         str(row[6] or ""), source=str(row[7] or ""), layout=str(row[8] or ""),
                         warnings=tuple(w for w in str(row[9] or "").split("\n") if w), url=str(row[10] or ""))


class Ledger:
    """One collection's catalogue and keyword index in ``root`` (``ledger.sqlite`` and ``seg-N`` folders).

    Readers get a snapshot of the keyword segments as they were when the ledger was opened; ``open`` again
    after an ingest (``refresh.FollowFingerprint`` does, on the manifest's fingerprint)."""

    def __init__(self, root: Path, conn: sqlite3.Connection) -> None:
        self.root = root
        self.db = conn
        self._lock = threading.RLock()
        self._idf: dict[str, float] = {}
        self.segments: list[Segment] = []
        self.dead = np.zeros(0, dtype=np.int64)
        self.reload()

    # ---------------------------------------------------------------------------------- open / create

    @staticmethod
    def open(root: Path) -> Ledger | None:
        """The ledger in ``root``, or None when there is none, it cannot be read, or another tokenizer or
        format wrote it (then it is rebuilt from the store)."""
        path = root / "ledger.sqlite"
        if not path.is_file():
            return None
        try:
            conn = _connect(path)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != str(FORMAT) or meta.get("tokenizer") != TOKENIZER:
                conn.close()
                return None
            return Ledger(root, conn)
        except (sqlite3.Error, OSError, ValueError):
            return None

    @staticmethod
    def create(root: Path) -> Ledger:
        """A new empty ledger in ``root`` (which must not hold one)."""
        root.mkdir(parents=True, exist_ok=True)
        conn = _connect(root / "ledger.sqlite")
        with conn:
            conn.executescript(_SCHEMA)
            conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [("format", str(FORMAT)), ("tokenizer", TOKENIZER), ("next_rowid", "1"),
                              ("next_seg", "1"), ("n_docs", "0"), ("total_len", "0")])
        return Ledger(root, conn)

    @staticmethod
    def from_texts(root: Path, ids: Sequence[str], texts: Sequence[str]) -> Ledger:
        """A ledger of bare texts (chunk ids ``article#n``; hashes from the text): for tests and benchmarks."""
        from postqa.nlp.analysis import text_key

        ledger = Ledger.create(root)
        rows = [ChunkRow(cid, cid.split("#")[0], text_key(t), "", text_key(t), tokenize(t))
                for cid, t in zip(ids, texts, strict=True)]
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.article_id] = counts.get(r.article_id, 0) + 1
        ledger.replace([StoredArticle(a, "", "", n, n, "", "") for a, n in counts.items()], rows)
        return ledger

    def save(self, path: Path) -> None:
        """A copy of the ledger in ``path`` (checkpointed first, so the copy is whole)."""
        with self._lock:
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copytree(self.root, path, ignore=shutil.ignore_patterns("*-wal", "*-shm"))

    def close(self) -> None:
        self.db.close()

    def reload(self) -> None:
        """Re-read the segment list and the dropped row ids (what queries use)."""
        with self._lock:
            segs = [int(s) for (s,) in self.db.execute("SELECT seg FROM segments ORDER BY seg")]
            known = getattr(self, "_by_no", {})
            self._by_no = {s: known.get(s) or Segment.read(self.root / f"seg-{s}") for s in segs}
            self.segments = [self._by_no[s] for s in segs]
            self.dead = np.array([r for (r,) in self.db.execute("SELECT rowid FROM tombstones ORDER BY rowid")],
                                 dtype=np.int64)
            meta = self._meta()
            self.n_docs = int(meta.get("n_docs", 0))
            self.total_len = int(meta.get("total_len", 0))
            self.next_rowid = int(meta.get("next_rowid", 1))
            self._idf.clear()
            self._fingerprint: str | None = None

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta").fetchall())

    # ---------------------------------------------------------------------------------- catalogue

    @property
    def fingerprint(self) -> str:
        """The content fingerprint of the chunks the ledger holds (see ``set_fingerprint``)."""
        if self._fingerprint is None:
            self._fingerprint = set_fingerprint(*self._fp_sums())
        return self._fingerprint

    def _fp_sums(self) -> tuple[int, int, int]:
        """(count, sum h1, sum h2) of the stored chunks: kept in ``meta`` by every write (O(1) to read), or
        aggregated once for a ledger written before they were kept."""
        meta = self._meta()
        if "fp_n" in meta:
            return int(meta["fp_n"]), int(meta["fp_s1"]), int(meta["fp_s2"])
        n, s1, s2 = self.db.execute(
            "SELECT count(*), coalesce(sum(h1), 0), coalesce(sum(h2), 0) FROM chunks").fetchone()
        return int(n), int(s1), int(s2)

    def _bump_fp(self, n: int, s1: int, s2: int) -> None:
        """Add (or, negative, remove) chunks' digests to the kept sums (inside the caller's transaction)."""
        if n:
            c, a, b = self._fp_sums()
            self._set_meta(fp_n=c + n, fp_s1=a + s1, fp_s2=b + s2)

    def stored_articles(self) -> dict[str, StoredArticle]:
        rows = self.db.execute("SELECT id, hash, origin, n_chunks, present, title, published, source, layout, "
                               "warnings, url FROM articles")
        return {str(r[0]): _stored(r) for r in rows}

    def article_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def catalogued(self, article_ids: Sequence[str]) -> set[str]:
        """Which of these articles the catalogue lists."""
        out: set[str] = set()
        for part in _parts(article_ids):
            marks = ",".join("?" * len(part))
            out.update(str(a) for (a,) in self.db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", part))
        return out

    def pending(self) -> list[str]:
        return [str(a) for (a,) in self.db.execute("SELECT article_id FROM pending")]

    def mark_pending(self, article_ids: Iterable[str]) -> None:
        """Committed before those articles' Chroma writes (see the module docstring)."""
        with self._lock, self.db:
            self.db.executemany("INSERT OR IGNORE INTO pending (article_id) VALUES (?)", [(a,) for a in article_ids])

    def chunk_ids(self, article_id: str | None = None) -> list[str]:
        if article_id is None:
            return [str(c) for (c,) in self.db.execute("SELECT id FROM chunks ORDER BY rowid")]
        return [str(c) for (c,) in self.db.execute("SELECT id FROM chunks WHERE article_id = ? ORDER BY rowid",
                                                   (article_id,))]

    def dated_chunk_ids(self, lo: date | None, hi: date | None, limit: int) -> list[tuple[str, str]] | None:
        """(chunk id, article id) of the chunks of articles published in ``[lo, hi]`` (either side open), or None
        when there are more than ``limit``: the same chunks as the store's where-clause keeps (a range open
        below keeps undated articles too, as their ``published_int`` 0 passes ``$lte``). A range lookup on
        the articles' dates: its cost follows the chunks it returns, not the catalogue's size."""
        if lo is None and hi is None:
            return None
        conds, params = [], []
        if lo is not None:
            conds.append("a.published >= ? AND a.published != ''")
            params.append(lo.isoformat())
        if hi is not None:
            conds.append("a.published <= ?")
            params.append(hi.isoformat())
        rows = self.db.execute(f"SELECT c.id, c.article_id FROM articles a JOIN chunks c ON c.article_id = a.id "
                               f"WHERE {' AND '.join(conds)} LIMIT ?", (*params, limit + 1)).fetchall()
        return None if len(rows) > limit else [(str(c), str(a)) for c, a in rows]

    def text_keys(self) -> set[str]:
        return {str(k) for (k,) in self.db.execute("SELECT text_key FROM chunks")}

    def replace(self, articles: Sequence[StoredArticle], chunks: Sequence[ChunkRow],
                removed: Sequence[str] = (), also: Callable[[sqlite3.Connection], None] | None = None) -> None:
        """Articles ``articles`` now hold exactly ``chunks``, articles ``removed`` are gone: their old rows and
        postings are dropped, the new ones added as one segment, and their pending marks cleared, in one
        transaction (the segment folder is written first; a crash before the commit leaves it unreferenced).
        ``also`` writes what else is derived from those articles (the people index) in the same transaction."""
        with self._lock:
            ids = [a.article_id for a in articles] + list(removed)
            old_len, old_n = self._rows_of(ids)
            add = self._write_segment(chunks, old_len, old_n)
            with self.db:
                self.db.execute(_DATE_INDEX)  # a ledger written before dated_chunk_ids gets it with its next write
                self._drop_rows(ids)
                add()
                self.db.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                    [article_record(a) for a in articles])
                self.db.executemany("DELETE FROM pending WHERE article_id = ?", [(a,) for a in ids])
                if also is not None:
                    also(self.db)
            self.reload()

    def add_chunks(self, chunks: Sequence[ChunkRow]) -> None:
        """Chunks of articles whose rows come later (``put_articles``): the rebuild from the store, page by page."""
        with self._lock:
            add = self._write_segment(chunks, 0, 0)
            with self.db:
                add()
            self.reload()

    def write(self, step: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``step`` in one transaction of the ledger's database (tables others derive from it)."""
        with self._lock, self.db:
            step(self.db)

    def chunk_ids_of(self, article_ids: Sequence[str]) -> list[str]:
        """The chunk ids of these articles, each article's in order."""
        out: list[str] = []
        for part in _parts(article_ids):
            out.extend(str(c) for (c,) in self.db.execute(
                f"SELECT id FROM chunks WHERE article_id IN ({','.join('?' * len(part))}) ORDER BY rowid", part))
        return out

    def put_articles(self, articles: Sequence[StoredArticle]) -> None:
        with self._lock, self.db:
            self.db.executemany("INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [article_record(a) for a in articles])

    def _write_segment(self, chunks: Sequence[ChunkRow], old_len: int, old_n: int) -> Any:
        """Write the segment of ``chunks`` (row ids from ``next_rowid`` on) and return the SQL step that
        records them (run inside the caller's transaction)."""
        seg_no = int(self._meta()["next_seg"])
        first = self.next_rowid
        lengths = [len(c.tokens) for c in chunks]
        n_docs = self.n_docs - old_n + len(chunks)
        total = self.total_len - old_len + sum(lengths)
        if chunks:
            Segment.from_tokens(range(first, first + len(chunks)), [c.tokens for c in chunks],
                                total / max(n_docs, 1)).write(self.root / f"seg-{seg_no}")

        def record() -> None:
            digests = [chunk_digest(c.id, c.chunk_hash, c.article_hash) for c in chunks]
            self._bump_fp(len(chunks), sum(d[0] for d in digests), sum(d[1] for d in digests))
            self.db.executemany("INSERT INTO chunks (rowid, id, article_id, chunk_hash, article_hash, text_key, "
                                "h1, h2, length) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                [(first + i, c.id, c.article_id, c.chunk_hash, c.article_hash, c.text_key,
                                  *chunk_digest(c.id, c.chunk_hash, c.article_hash), n)
                                 for i, (c, n) in enumerate(zip(chunks, lengths, strict=True))])
            if chunks:
                self.db.execute("INSERT INTO segments (seg, n_docs) VALUES (?, ?)", (seg_no, len(chunks)))
            self._set_meta(next_rowid=first + len(chunks), next_seg=seg_no + (1 if chunks else 0),
                           n_docs=n_docs, total_len=total)

        return record

    def _rows_of(self, article_ids: Sequence[str]) -> tuple[int, int]:
        """(total tokens, chunk count) stored for these articles."""
        tot = n = 0
        for part in _parts(article_ids):
            marks = ",".join("?" * len(part))
            a, b = self.db.execute(f"SELECT total(length), count(*) FROM chunks WHERE article_id IN ({marks})",
                                   part).fetchone()
            tot, n = tot + int(a), n + int(b)
        return tot, n

    def _drop_rows(self, article_ids: Sequence[str]) -> None:
        for part in _parts(article_ids):
            marks = ",".join("?" * len(part))
            n, s1, s2 = self.db.execute(f"SELECT count(*), coalesce(sum(h1), 0), coalesce(sum(h2), 0) FROM chunks "
                                        f"WHERE article_id IN ({marks})", part).fetchone()
            self._bump_fp(-int(n), -int(s1), -int(s2))
            self.db.execute(f"INSERT OR IGNORE INTO tombstones (rowid) SELECT rowid FROM chunks "
                            f"WHERE article_id IN ({marks})", part)
            self.db.execute(f"DELETE FROM chunks WHERE article_id IN ({marks})", part)
            self.db.execute(f"DELETE FROM articles WHERE id IN ({marks})", part)

    def _set_meta(self, **values: object) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                            [(k, str(v)) for k, v in values.items()])

    # ---------------------------------------------------------------------------------- compaction

    def compact(self, max_segments: int = 4, delta_share: float = 0.25) -> bool:
        """Merge segments so queries stay fast and dropped rows go: the young segments into one when there are
        more than ``max_segments``, everything into one when the young ones and the dropped rows exceed
        ``delta_share`` of the largest. True when it merged. The old folders are removed after the commit."""
        with self._lock:
            sizes = {int(s): int(n) for s, n in self.db.execute("SELECT seg, n_docs FROM segments")}
            if len(sizes) <= 1 and not len(self.dead):
                return False
            base = max(sizes, key=lambda s: (sizes[s], -s)) if sizes else 0
            young = [s for s in sorted(sizes) if s != base]
            if sum(sizes[s] for s in young) + len(self.dead) > delta_share * sizes.get(base, 0):
                chosen = sorted(sizes)
            elif len(young) > max_segments - 1:
                chosen = young
            else:
                return False
            by_no = self._by_no
            merged = merge([by_no[s] for s in chosen], self.dead, self.total_len / max(self.n_docs, 1))
            seg_no = int(self._meta()["next_seg"])
            merged.write(self.root / f"seg-{seg_no}")
            with self.db:
                self.db.executemany("DELETE FROM segments WHERE seg = ?", [(s,) for s in chosen])
                self.db.execute("INSERT INTO segments (seg, n_docs) VALUES (?, ?)", (seg_no, len(merged)))
                gone = np.concatenate([np.intersect1d(np.asarray(by_no[s].rowids), self.dead) for s in chosen])
                self.db.executemany("DELETE FROM tombstones WHERE rowid = ?", [(int(r),) for r in gone])
                self._set_meta(next_seg=seg_no + 1)
            self.reload()
            self.remove_unreferenced()
            return True

    def remove_unreferenced(self) -> None:
        """Segment folders no transaction references (merged away, or written by a crashed ingest)."""
        live = {f"seg-{s}" for (s,) in self.db.execute("SELECT seg FROM segments")}
        for path in self.root.glob("*seg-*"):
            if path.is_dir() and path.name not in live:
                shutil.rmtree(path, ignore_errors=True)

    # ---------------------------------------------------------------------------------- keyword queries

    def __len__(self) -> int:
        return self.n_docs

    @property
    def ids(self) -> list[str]:
        """Every chunk id the keyword index holds (for tests and checks: a million strings at scale)."""
        return self.chunk_ids()

    def df(self, term: str) -> int:
        return sum(seg.df(term) for seg in self.segments)

    def idf(self, term: str) -> float:
        if term not in self._idf:
            df = self.df(term)
            self._idf[term] = 0.0 if df == 0 else math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))
        return self._idf[term]

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` by BM25 (k1 1.2, b 0.75), best first, scores > 0: the query
        terms' postings summed per row id, then only the rows that hold a term are ranked."""
        with self._lock:
            found = self._scores(tokenize(query))
            if found is None:
                return []
            cand, scores = found
            if allowed is not None:
                cand = cand[np.isin(cand, self._rowids_of(sorted(allowed)))]
            k = min(k, len(cand))
            if k <= 0:
                return []
            sc = scores[cand]
            top = np.argpartition(-sc, k - 1)[:k]
            top = top[np.argsort(-sc[top], kind="stable")]
            names = self._ids_of([int(cand[i]) for i in top])
            return [(names[int(cand[i])], float(sc[i])) for i in top if int(cand[i]) in names]

    def _scores(self, terms: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """(row ids holding a query term and still live, a score per row id), or None when no term is
        indexed."""
        rows, vals = [], []
        for term in terms:
            idf = self.idf(term)
            if idf <= 0.0:
                continue
            for seg in self.segments:
                r, imp = seg.postings(term)
                if len(r):
                    rows.append(r)
                    vals.append(imp * np.float32(idf))
        if not rows or not self.n_docs:
            return None
        scores = np.bincount(np.concatenate(rows), weights=np.concatenate(vals), minlength=self.next_rowid)
        cand = np.flatnonzero(scores)
        if len(self.dead):
            pos = np.minimum(np.searchsorted(self.dead, cand), len(self.dead) - 1)
            cand = cand[self.dead[pos] != cand]
        return cand, scores

    def _ids_of(self, rowids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for part in _parts(rowids):
            marks = ",".join("?" * len(part))
            out.update((int(r), str(c)) for r, c in
                       self.db.execute(f"SELECT rowid, id FROM chunks WHERE rowid IN ({marks})", part))
        return out

    def _rowids_of(self, chunk_ids: Sequence[str]) -> np.ndarray:
        out: list[int] = []
        for part in _parts(chunk_ids):
            marks = ",".join("?" * len(part))
            out.extend(int(r) for (r,) in self.db.execute(f"SELECT rowid FROM chunks WHERE id IN ({marks})", part))
        return np.array(out, dtype=np.int64)


def _parts(items: Sequence[Any], size: int = 500) -> Iterable[list[Any]]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


_DATE_INDEX = "CREATE INDEX IF NOT EXISTS articles_published ON articles (published)"


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30, isolation_level="DEFERRED")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def new_root_beside(root: Path) -> Path:
    """A fresh folder next to ``root`` to build a replacement ledger in."""
    return root.with_name(f".{root.name}.{uuid.uuid4().hex[:8]}.new")


def install(built: Path, root: Path) -> bool:
    """Move a ledger built in ``built`` to ``root`` unless one is there already (another process won the
    race: then ``built`` is discarded). True when ``built`` was installed."""
    try:
        os.rename(built, root)
        return True
    except OSError:
        shutil.rmtree(built, ignore_errors=True)
        return False


def describe(ledger: Ledger) -> dict[str, Any]:
    return {"chunks": ledger.n_docs, "segments": len(ledger.segments), "dropped_rows": int(len(ledger.dead)),
            "fingerprint": ledger.fingerprint, "articles": ledger.article_count(),
            "pending": ledger.pending(), "files": json.dumps(sorted(p.name for p in ledger.root.iterdir()))}
