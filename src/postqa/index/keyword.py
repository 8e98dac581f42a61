"""BM25 over chunks: a sparse term-by-chunk score matrix, saved atomically beside the vector store."""

from __future__ import annotations

import json
import re
import threading
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import Stemmer

if TYPE_CHECKING:  # scipy is imported where an index is built or loaded: `tokenize` users never need it
    from scipy import sparse

from postqa.core.atomic import atomic_write

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between
both but by can could did do does doing down during each few for from further had has have having he her
here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that
the their theirs them themselves then there these they this those through to too under until up very was we
were what when where which while who whom why will with would you your yours yourself yourselves also did
said says say
""".split())

_TOKEN = re.compile(r"[a-z0-9]+(?:[.'’][a-z0-9]+)*")


# What the tokenizer does, recorded in every saved index: a saved index whose tokenizer differs from this
# one is stale (rebuilt from the stored chunks), so one store never mixes two tokenisations.
TOKENIZER = "snowball-english/stopwords-1"

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """One Snowball stemmer per thread (a Stemmer object is not safe to share between threads)."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def snowball_stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of a lower-case word: presided/preside, meetings/meeting.
    Tokens with digits or inner dots ("2013", "u.s") are kept as they are."""
    if not word.isalpha():
        return word
    return str(_stemmer().stemWord(word))


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens without stopwords or a possessive 's, stemmed (see TOKENIZER)."""
    words = [w.removesuffix("'s") for w in _TOKEN.findall(text.lower().replace("’", "'"))]
    kept = [w for w in words if w and w not in STOPWORDS]
    stemmer = _stemmer()
    return [str(s) if w.isalpha() else w for w, s in zip(kept, stemmer.stemWords(kept), strict=True)]


class KeywordIndex(Protocol):
    """What retrieval and answering need of a keyword index (BM25Index in memory, index.ledger.Ledger on disk)."""

    @property
    def fingerprint(self) -> str: ...

    def __len__(self) -> int: ...

    def idf(self, term: str) -> float: ...

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]: ...


class BM25Index:
    """Okapi BM25 (k1=1.2, b=0.75) with precomputed per-term scores; queries are a sparse row sum."""

    def __init__(self, ids: list[str], vocab: dict[str, int], scores: sparse.csr_matrix, fingerprint: str,
                 k1: float = 1.2, b: float = 0.75) -> None:
        self.ids = ids
        self.vocab = vocab
        self.scores = scores  # terms x docs
        self.fingerprint = fingerprint
        self.k1, self.b = k1, b

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str], fingerprint: str,
              k1: float = 1.2, b: float = 0.75) -> BM25Index:
        # one pass, tokens dropped as soon as counted, postings in typed arrays (4 bytes each): a million chunks
        # hold ~50M postings, which as Python lists of ints and token lists took several GB
        vocab: dict[str, int] = {}
        rows, cols, tfs, lens = array("i"), array("i"), array("f"), array("f")
        for d, text in enumerate(texts):
            toks = tokenize(text)
            lens.append(len(toks))
            for term, count in Counter(toks).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(d)
                tfs.append(count)
        n_docs = len(lens)
        lengths = np.frombuffer(lens, dtype=np.float32) if n_docs else np.zeros(0, dtype=np.float32)
        avgdl = float(lengths.mean()) if n_docs else 1.0
        tf = np.frombuffer(tfs, dtype=np.float32) if len(tfs) else np.zeros(0, dtype=np.float32)
        col_idx = np.frombuffer(cols, dtype=np.int32) if len(cols) else np.zeros(0, dtype=np.int32)
        row_idx = np.frombuffer(rows, dtype=np.int32) if len(rows) else np.zeros(0, dtype=np.int32)
        df = np.bincount(row_idx, minlength=len(vocab)).astype(np.float32) if len(vocab) else np.zeros(0)
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        denom = tf + k1 * (1.0 - b + b * lengths[col_idx] / max(avgdl, 1e-9)) if len(tf) else tf
        vals = idf[row_idx] * tf * (k1 + 1.0) / denom if len(tf) else tf
        from scipy import sparse

        mat = sparse.csr_matrix((vals, (row_idx, col_idx)), shape=(len(vocab), n_docs), dtype=np.float32)
        return cls(list(ids), vocab, mat, fingerprint, k1, b)

    def __len__(self) -> int:
        return len(self.ids)

    def idf(self, term: str) -> float:
        t = self.vocab.get(term)
        if t is None:
            return 0.0
        df = self.scores.indptr[t + 1] - self.scores.indptr[t]
        return float(np.log(1.0 + (len(self.ids) - df + 0.5) / (df + 0.5)))

    def search(self, query: str, k: int, allowed: set[str] | None = None) -> list[tuple[str, float]]:
        terms = [self.vocab[t] for t in tokenize(query) if t in self.vocab]
        if not terms or not self.ids:
            return []
        scores = np.asarray(self.scores[terms].sum(axis=0)).ravel()
        if allowed is not None:
            mask = np.array([cid in allowed for cid in self.ids])
            scores = np.where(mask, scores, 0.0)
        k = min(k, int((scores > 0).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top]

    # ----------------------------------------------------------------------------------- persistence

    def save(self, path: Path) -> None:
        """Written atomically (temp file, fsync, rename): readers see the old index or the new one."""
        header = json.dumps({"ids": self.ids, "vocab": self.vocab, "fingerprint": self.fingerprint,
                             "k1": self.k1, "b": self.b, "format": 1, "tokenizer": TOKENIZER})
        atomic_write(path, lambda fh: np.savez(
            fh, header=np.frombuffer(header.encode("utf-8"), dtype=np.uint8), data=self.scores.data,
            indices=self.scores.indices, indptr=self.scores.indptr, shape=np.array(self.scores.shape, dtype=np.int64)))

    @classmethod
    def load(cls, path: Path) -> BM25Index | None:
        """The saved index, or None when there is none, it cannot be read, or another tokenizer built it
        (then rebuild it)."""
        from scipy import sparse

        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(bytes(z["header"]).decode("utf-8"))
                shape = tuple(int(x) for x in z["shape"])
                mat = sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=shape)
        except (OSError, ValueError, KeyError):
            return None
        if header.get("tokenizer") != TOKENIZER:
            return None
        return cls(header["ids"], header["vocab"], mat, header["fingerprint"], header["k1"], header["b"])
