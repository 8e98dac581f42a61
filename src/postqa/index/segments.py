"""Immutable BM25 segments: term-major postings of some chunks (term frequencies and precomputed impacts),
written once to a folder of ``.npy`` files and memory-mapped for queries; merged, never edited."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1, B = 1.2, 0.75
_ARRAYS = ("indptr", "docs", "tf", "impact", "rowids", "lengths")


def impacts(tf: np.ndarray, lengths: np.ndarray, avgdl: float) -> np.ndarray:
    """The BM25 term-frequency part ``tf (k1 + 1) / (tf + k1 (1 - b + b len / avgdl))`` of each posting."""
    denom = tf + K1 * (1.0 - B + B * lengths / max(avgdl, 1e-9))
    return (tf * (K1 + 1.0) / denom).astype(np.float32)


@dataclass
class Segment:
    """Postings of one set of chunks (``rowids``: their catalogue row ids), terms in ``terms`` order."""

    terms: list[str]
    indptr: np.ndarray  # int64, len(terms) + 1
    docs: np.ndarray  # int32 positions into rowids
    tf: np.ndarray  # float32
    impact: np.ndarray  # float32, BM25 tf part at the avgdl of the time it was written
    rowids: np.ndarray  # int64
    lengths: np.ndarray  # float32 tokens per chunk

    def __post_init__(self) -> None:
        self.vocab = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.rowids)

    def df(self, term: str) -> int:
        t = self.vocab.get(term)
        return 0 if t is None else int(self.indptr[t + 1] - self.indptr[t])

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(row ids, impacts) of the chunks that hold ``term``."""
        t = self.vocab.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.rowids[self.docs[lo:hi]], self.impact[lo:hi]

    @staticmethod
    def from_tokens(rowids: Sequence[int], tokens: Sequence[Sequence[str]], avgdl: float) -> Segment:
        """A segment of chunks given as token lists (``keyword.tokenize``)."""
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        for d, toks in enumerate(tokens):
            for term, count in Counter(toks).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(count)
        lengths = np.array([len(t) for t in tokens], dtype=np.float32)
        return Segment.from_coo(list(vocab), np.array(rows, dtype=np.int32), np.array(cols, dtype=np.int32),
                                np.array(tfs, dtype=np.float32), np.asarray(rowids, dtype=np.int64), lengths, avgdl)

    @staticmethod
    def from_coo(terms: list[str], rows: np.ndarray, cols: np.ndarray, tf: np.ndarray, rowids: np.ndarray,
                 lengths: np.ndarray, avgdl: float) -> Segment:
        from scipy import sparse  # only to build a segment: queries read the arrays (no scipy at start-up)

        mat = sparse.csr_matrix((tf, (rows, cols)), shape=(len(terms), len(rowids)), dtype=np.float32)
        mat.sort_indices()
        docs = mat.indices.astype(np.int32)
        tf_sorted = mat.data.astype(np.float32)
        return Segment(terms, mat.indptr.astype(np.int64), docs, tf_sorted,
                       impacts(tf_sorted, lengths[docs], avgdl), rowids, lengths)

    # ------------------------------------------------------------------------------- files

    def write(self, folder: Path) -> None:
        """Written to a temporary sibling folder, fsynced, then renamed to ``folder`` (all or nothing)."""
        tmp = folder.with_name(f".{folder.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in _ARRAYS:
            with (tmp / f"{name}.npy").open("wb") as fh:
                np.save(fh, getattr(self, name))
                fh.flush()
                os.fsync(fh.fileno())
        with (tmp / "terms.json").open("w", encoding="utf-8") as fh:
            json.dump(self.terms, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, folder)

    @staticmethod
    def read(folder: Path, mmap: bool = True) -> Segment:
        """The segment in ``folder``; arrays memory-mapped (read on demand) unless ``mmap`` is false."""
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None).view(np.ndarray)
                  for name in _ARRAYS}  # plain views of the maps: slicing a np.memmap costs ~0.1 ms a call
        terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
        return Segment(terms, **arrays)


def merge(segments: Sequence[Segment], dead: np.ndarray, avgdl: float) -> Segment:
    """One segment holding every live chunk of ``segments`` (``dead``: sorted row ids to drop), its impacts
    recomputed at ``avgdl``."""
    vocab: dict[str, int] = {}
    parts_rows, parts_cols, parts_tf, parts_ids, parts_len = [], [], [], [], []
    offset = 0
    for seg in segments:
        rowids = np.asarray(seg.rowids)
        alive = ~np.isin(rowids, dead) if len(dead) else np.ones(len(rowids), dtype=bool)
        newpos = np.cumsum(alive) - 1 + offset
        lut = np.array([vocab.setdefault(t, len(vocab)) for t in seg.terms], dtype=np.int32)
        counts = np.diff(np.asarray(seg.indptr))
        term_of = np.repeat(lut, counts)
        docs = np.asarray(seg.docs)
        keep = alive[docs]
        parts_rows.append(term_of[keep])
        parts_cols.append(newpos[docs[keep]].astype(np.int32))
        parts_tf.append(np.asarray(seg.tf)[keep])
        parts_ids.append(rowids[alive])
        parts_len.append(np.asarray(seg.lengths)[alive])
        offset += int(alive.sum())

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)

    return Segment.from_coo(list(vocab), cat(parts_rows, np.int32), cat(parts_cols, np.int32),
                            cat(parts_tf, np.float32), cat(parts_ids, np.int64), cat(parts_len, np.float32), avgdl)
