"""The Chroma vector store through llama-index: one self-describing collection per embedding config."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from postqa.core.config import StoreSettings
from postqa.core.errors import IndexMismatchError, IndexMissingError, StoreUnavailableError
from postqa.core.types import Article, Chunk, SearchFilter
from postqa.index.chunking import CHUNKER_VERSION, LEGACY_CHUNKER

SCHEMA_VERSION = 1
_META_PREFIX = "postqa_"
_PAGE = 5000
FILTER_PROBE = 3  # a filtered query first looks at this many times k unfiltered nearest chunks (see query)


@dataclass(frozen=True)
class IndexSpec:
    """Everything that decides what the vectors mean: a different spec is a different collection."""

    model: str
    dim: int
    normalize: bool
    fingerprint: str
    chunk_max_tokens: int
    chunk_overlap: int
    chunker: str  # what cut the articles into sentences (index.chunking.chunker_id)
    schema: int = SCHEMA_VERSION

    def key(self) -> str:
        raw = json.dumps(self.__dict__, sort_keys=True)
        return hashlib.sha1(raw.encode()).hexdigest()[:10]

    def collection_name(self, prefix: str) -> str:
        slug = re.sub(r"[^a-zA-Z0-9]+", "-", self.model).strip("-").lower()[:40] or "model"
        return f"{prefix}-{slug}-{self.key()}"

    def to_meta(self) -> dict[str, Any]:
        return {f"{_META_PREFIX}{k}": v for k, v in self.__dict__.items()}

    @staticmethod
    def from_meta(meta: dict[str, Any]) -> IndexSpec | None:
        """The recorded spec; a collection written before specs named the chunker was cut by the former
        regular-expression sentence splitter, and says so."""
        meta = {f"{_META_PREFIX}chunker": LEGACY_CHUNKER, **meta}
        try:
            return IndexSpec(**{k: meta[f"{_META_PREFIX}{k}"] for k in IndexSpec.__dataclass_fields__})
        except KeyError:
            return None

    def describe(self) -> str:
        return (f"model {self.model} ({self.dim}d, weights {self.fingerprint}), chunks of at most "
                f"{self.chunk_max_tokens} tokens, overlap {self.chunk_overlap}, sentences by {self.chunker}, "
                f"schema v{self.schema}")

    def rechunked(self, other: IndexSpec) -> bool:
        """True when ``other`` is this spec as an older version of the chunker built it (same model and
        chunk settings): the index it names is superseded by this one."""
        return other != self and replace(other, chunker=self.chunker) == self and \
            not other.chunker.startswith(f"{CHUNKER_VERSION}:")


@dataclass(frozen=True)
class StoredArticle:
    """What the store holds of one article: enough to decide whether it must be re-indexed."""

    article_id: str
    article_hash: str
    origin: str
    n_chunks: int  # how many chunks the article was cut into
    present: int  # how many of them are actually stored (fewer: an interrupted write)
    title: str
    published: str
    source: str = ""
    layout: str = ""  # how the reader read it (see core.types.ParseReport)
    warnings: tuple[str, ...] = ()  # what the reader was unsure of
    url: str = ""


def chunk_digest(chunk_id: str, chunk_hash: str, article_hash: str) -> tuple[int, int]:
    """Two 32-bit numbers of a stored chunk version; the content fingerprint sums them over all chunks."""
    raw = hashlib.sha1(f"{chunk_id}\x1f{chunk_hash}\x1f{article_hash}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:8], "big")


def set_fingerprint(count: int, s1: int, s2: int) -> str:
    """The content fingerprint of a set of chunk versions (their count and the sums of their digests): any
    added, removed or changed chunk changes it, and the ledger computes it in one SQL aggregate."""
    return hashlib.sha1(f"v2:{count}:{s1}:{s2}".encode()).hexdigest()[:16] if count else ""


def _date_int(d: date | None) -> int:
    return d.year * 10000 + d.month * 100 + d.day if d else 0


def article_metadata(article: Article) -> dict[str, Any]:
    """What every chunk of an article carries about how it was read: layout, url and the reader's warnings."""
    report = article.report
    return {
        "url": article.url,
        "layout": report.layout if report else "",
        "warnings": "\n".join(report.warnings) if report else "",
    }


def chunk_metadata(chunk: Chunk, article_hash: str, origin: str, n_chunks: int,
                   article: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        **(article or {}),
        "article_id": chunk.article_id,
        "n": chunk.n,
        "start": chunk.start,
        "end": chunk.end,
        "title": chunk.title,
        "published": chunk.published.isoformat() if chunk.published else "",
        "published_int": _date_int(chunk.published),
        "source": chunk.source,
        "origin": origin,
        "article_hash": article_hash,
        "chunk_hash": hashlib.sha1(chunk.context_text.encode("utf-8")).hexdigest()[:16],
        "n_chunks": n_chunks,
    }


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    published = meta.get("published") or ""
    return Chunk(
        id=chunk_id,
        article_id=str(meta.get("article_id", chunk_id.split("#")[0])),
        n=int(meta.get("n", 0)),
        text=text or "",
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        title=str(meta.get("title", "")),
        published=date.fromisoformat(published) if published else None,
        source=str(meta.get("source", "")),
    )


def _stored_from(aid: str, e: dict[str, Any]) -> StoredArticle:
    """What a scan found of one article (``e``: its hashes, chunk count and one chunk's metadata)."""
    m = e["m"]
    # Two versions of one article side by side (an interrupted replace) never count as complete.
    h = next(iter(e["hashes"])) if len(e["hashes"]) == 1 else ""
    warnings = str(m.get("warnings") or "")
    return StoredArticle(aid, h, str(m.get("origin", "")), int(m.get("n_chunks", -1)), e["present"],
                         str(m.get("title", "")), str(m.get("published", "")),
                         source=str(m.get("source", "")), layout=str(m.get("layout") or ""),
                         warnings=tuple(w for w in warnings.split("\n") if w), url=str(m.get("url") or ""))


def stored_from_records(records: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, StoredArticle]:
    """Articles as the (id, metadata) records of their chunks describe them."""
    acc: dict[str, dict[str, Any]] = {}
    for _cid, m in records:
        entry = acc.setdefault(str(m.get("article_id", "")), {"hashes": set(), "present": 0, "m": m})
        entry["hashes"].add(m.get("article_hash", ""))
        entry["present"] += 1
    return {aid: _stored_from(aid, e) for aid, e in acc.items()}


def _chroma_settings(chromadb: Any) -> Any:
    return chromadb.config.Settings(anonymized_telemetry=False, allow_reset=False)


class ChromaStore:
    """A Chroma client (embedded under ``vectorstore/chroma`` or a ``chroma run`` server)."""

    def __init__(self, settings: StoreSettings, path: Path) -> None:
        self.settings = settings
        self.path = path
        self._client: Any = None

    @property
    def location(self) -> str:
        if self.settings.mode == "server":
            return f"chroma server http://{self.settings.host}:{self.settings.port}"
        return str(self.path / "chroma")

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                self._client = self._connect() if self.settings.mode == "server" else self._open_embedded()
            except Exception as err:  # noqa: BLE001 - connection errors come in many types
                self._client = None
                raise self.unavailable(err) from None
        return self._client

    def _open_embedded(self) -> Any:
        from postqa.index.lean_chroma import open_client

        (self.path / "chroma").mkdir(parents=True, exist_ok=True)
        return open_client(lambda chromadb: chromadb.PersistentClient(
            path=str(self.path / "chroma"), settings=_chroma_settings(chromadb)))

    def _connect(self) -> Any:
        """An HttpClient whose every request is bounded by ``store.timeout``. chromadb's constructor already
        talks to the server without any timeout (a server that accepts but never replies hangs it forever),
        so the server is probed first with the timeout, and the constructor runs under the same deadline."""
        from postqa.index.lean_chroma import import_chromadb

        timeout = self.settings.timeout
        probe_server(self.settings.host, self.settings.port, timeout)
        chromadb = import_chromadb()
        client = run_with_deadline(
            lambda: chromadb.HttpClient(host=self.settings.host, port=self.settings.port,
                                        settings=_chroma_settings(chromadb)),
            timeout, "connecting")
        _apply_http_timeout(client, timeout)
        client.heartbeat()
        return client

    def reopen(self) -> None:
        """Drop the cached client so the next use opens the store afresh.

        Embedded Chroma keeps its vector index in memory per process: after another process ingested, a
        long-running reader must reopen to see the new vectors (server mode does not need this)."""
        if self.settings.mode == "embedded":
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        self._client = None

    def unavailable(self, err: BaseException) -> StoreUnavailableError:
        """A clear error for a store that cannot be used: the reason in one short line (never an HTML page)."""
        reason = error_text(err)
        if self.settings.mode == "server":
            return StoreUnavailableError(
                f"cannot reach the {self.location}: {reason}. Start it with `chroma run --path DIR --host "
                f"{self.settings.host} --port {self.settings.port}`, or set store.mode = \"embedded\".")
        return StoreUnavailableError(f"cannot open the Chroma store at {self.location}: {reason}")

    def delete_collection(self, name: str) -> None:
        try:
            self.client.delete_collection(name)
        except StoreUnavailableError:
            raise
        except Exception as err:  # noqa: BLE001
            if self.settings.mode == "server" and _looks_like_connection_error(err):
                raise self.unavailable(err) from None
            raise

    def indexes(self) -> list[tuple[str, IndexSpec | None, dict[str, Any]]]:
        """Every collection in the store with the spec that built it (None: not a postqa collection)."""
        try:
            cols = self.client.list_collections()
            out = []
            for col in cols:
                c = col if hasattr(col, "metadata") else self.client.get_collection(col)
                meta = dict(c.metadata or {})
                out.append((c.name, IndexSpec.from_meta(meta), meta))
            return out
        except StoreUnavailableError:
            raise
        except Exception as err:  # noqa: BLE001
            raise self.unavailable(err) from None

    def open_index(self, spec: IndexSpec, create: bool) -> ChromaIndex:
        """The collection built for ``spec``; with ``create`` it is made if missing.

        Without ``create`` a missing index raises IndexMissingError naming what is built and the command
        that builds the right one; a collection whose recorded spec differs raises IndexMismatchError.
        """
        name = spec.collection_name(self.settings.collection_prefix)
        try:
            if create:
                col = self.client.get_or_create_collection(
                    name=name, metadata={**spec.to_meta(), f"{_META_PREFIX}state": ""},
                    configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
            else:
                existing = {n for n, _, _ in self.indexes()}
                if name not in existing:
                    raise self._missing(spec)
                col = self.client.get_collection(name=name, embedding_function=None)
        except (IndexMissingError, StoreUnavailableError):
            raise
        except Exception as err:  # noqa: BLE001
            raise self.unavailable(err) from None
        recorded = IndexSpec.from_meta(dict(col.metadata or {}))
        if recorded != spec:
            raise IndexMismatchError(
                f"collection {name!r} in {self.location} was built with "
                f"{recorded.describe() if recorded else 'an unknown configuration'}, but the config asks for "
                f"{spec.describe()}. Run `postqa ingest --rebuild` to rebuild it.")
        return ChromaIndex(self, col, spec)

    def _missing(self, spec: IndexSpec) -> IndexMissingError:
        built = [s for _, s, _ in self.indexes() if s is not None]
        older = [s for s in built if spec.rechunked(s)]
        if older:
            return IndexMissingError(
                f"the index in {self.location} for {spec.model} was cut into chunks by {older[0].chunker}, an "
                f"older version of postqa's chunker (this version: {spec.chunker}); chunk boundaries differ, "
                "so it is not used. Run `postqa ingest` to re-chunk and re-embed the corpus (the new index "
                "replaces the old one).")
        others = "; ".join(s.describe() for s in built) or "none"
        return IndexMissingError(
            f"no index is built for {spec.describe()} in {self.location}. Indexes that exist: {others}. "
            "Run `postqa ingest` to build it for the configured model, or set [embedding] model back to "
            "the model of an existing index.")


class ChromaIndex:
    """One collection: chunks with their vectors and metadata, written and read through llama-index."""

    def __init__(self, store: ChromaStore, collection: Any, spec: IndexSpec) -> None:
        self.store = store
        self.collection = collection
        self.spec = spec
        self.name = collection.name
        self._vector_store: Any = None

    @property
    def vector_store(self) -> Any:
        """llama-index's view of the collection, made on first write: questions read Chroma directly, so
        answering never imports llama-index (about a second of start-up)."""
        if self._vector_store is None:
            from llama_index.vector_stores.chroma import ChromaVectorStore

            self._vector_store = ChromaVectorStore(chroma_collection=self.collection)
        return self._vector_store

    def reopen(self) -> None:
        """Re-read the collection through a fresh client (see ChromaStore.reopen)."""
        self.store.reopen()
        try:
            collection = self.store.client.get_collection(name=self.name, embedding_function=None)
        except Exception as err:  # noqa: BLE001
            raise self.store.unavailable(err) from None
        self.collection = collection
        self._vector_store = None

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """One store call; in server mode transient connection errors are retried with backoff (every call
        here is idempotent: reads, upserts, deletes by id) and a lost server becomes StoreUnavailableError."""
        if self.store.settings.mode != "server":
            return fn(*args, **kwargs)
        try:
            return retry_transient(fn, self.store.settings.timeout, *args, **kwargs)
        except Exception as err:  # noqa: BLE001
            if _looks_like_connection_error(err):
                raise self.store.unavailable(err) from None
            raise

    # ------------------------------------------------------------------------------------ state

    def meta(self) -> dict[str, Any]:
        col = self._call(self.store.client.get_collection, name=self.name, embedding_function=None)
        return dict(col.metadata or {})

    def state(self) -> dict[str, Any]:
        raw = self.meta().get(f"{_META_PREFIX}state") or ""
        return json.loads(raw) if raw else {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Record ingest state in the collection's metadata (the self-description travels with it)."""
        meta = {**self.spec.to_meta(), f"{_META_PREFIX}state": json.dumps(state, sort_keys=True)}
        self._call(self.collection.modify, metadata=meta)

    def count(self) -> int:
        return int(self._call(self.collection.count))

    def _iter_records(self, include: list[str]) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = self._call(self.collection.get, include=include, limit=_PAGE, offset=offset)
            ids = page["ids"]
            if not ids:
                return
            for i, cid in enumerate(ids):
                yield {"id": cid, **{k: page[k][i] for k in include}}
            if len(ids) < _PAGE:
                return
            offset += len(ids)

    def stored_articles(self) -> dict[str, StoredArticle]:
        return self.scan()[0]

    def fingerprint(self) -> str:
        """A hash of exactly which chunk versions are stored: the keyword index must carry the same."""
        return self.scan()[1]

    def scan(self) -> tuple[dict[str, StoredArticle], str]:
        """One pass over every chunk's metadata: what each article has stored, and the content fingerprint
        (chunk text and article version, its source and date too: side indexes that show them must follow)."""
        acc: dict[str, dict[str, Any]] = {}
        n = s1 = s2 = 0
        for rec in self._iter_records(["metadatas"]):
            m = rec["metadatas"] or {}
            d1, d2 = chunk_digest(rec["id"], str(m.get("chunk_hash", "")), str(m.get("article_hash", "")))
            n, s1, s2 = n + 1, s1 + d1, s2 + d2
            aid = str(m.get("article_id", ""))
            entry = acc.setdefault(aid, {"hashes": set(), "present": 0, "m": m})
            entry["hashes"].add(m.get("article_hash", ""))
            entry["present"] += 1
        return {aid: _stored_from(aid, e) for aid, e in acc.items()}, set_fingerprint(n, s1, s2)

    def all_chunks(self) -> Iterator[Chunk]:
        for rec in self._iter_records(["documents", "metadatas"]):
            yield chunk_from_record(rec["id"], rec["documents"], rec["metadatas"] or {})

    def all_chunks_with_meta(self) -> Iterator[tuple[Chunk, dict[str, Any]]]:
        for rec in self._iter_records(["documents", "metadatas"]):
            meta = dict(rec["metadatas"] or {})
            yield chunk_from_record(rec["id"], rec["documents"], meta), meta

    # ------------------------------------------------------------------------------------ writes

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray, metas: Sequence[dict[str, Any]]) -> None:
        """Write chunks as llama-index TextNodes (the records ChromaVectorStore reads back), replacing any
        chunk with the same id in one Chroma call, so that an article is never absent while it is updated."""
        from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        if not chunks:
            return
        nodes = [
            TextNode(id_=c.id, text=c.text, metadata=m,
                     relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=c.article_id)})
            for c, m in zip(chunks, metas, strict=True)
        ]
        records = [node_to_metadata_dict(n, remove_text=True, flat_metadata=True) for n in nodes]
        for rec in records:
            for key, value in rec.items():
                if value is None:
                    rec[key] = ""
        self._call(self.collection.upsert, ids=[n.node_id for n in nodes],
                   embeddings=np.asarray(vectors, dtype=np.float32),
                   documents=[n.get_content(metadata_mode=MetadataMode.NONE) for n in nodes], metadatas=records)

    def delete_ids(self, ids: Sequence[str]) -> None:
        if ids:
            self._call(self.vector_store.delete_nodes, node_ids=list(ids))

    def article_chunk_ids(self, article_id: str) -> list[str]:
        page = self._call(self.collection.get, where={"article_id": article_id}, include=[])
        return list(page["ids"])

    def delete_article(self, article_id: str) -> None:
        self._call(self.vector_store.delete, article_id)  # llama-index keys by the SOURCE node id

    def embeddings_by_hash(self, article_id: str) -> dict[str, np.ndarray]:
        """The stored vectors of an article's chunks keyed by chunk hash, to reuse for unchanged text."""
        page = self._call(self.collection.get, where={"article_id": article_id}, include=["embeddings", "metadatas"])
        out: dict[str, np.ndarray] = {}
        embs = page.get("embeddings")
        if embs is None:
            return out
        for meta, emb in zip(page["metadatas"], embs, strict=False):
            out[str((meta or {}).get("chunk_hash", ""))] = np.asarray(emb, dtype=np.float32)
        return out

    # ------------------------------------------------------------------------------------ reads

    def query(self, vector: np.ndarray, k: int, flt: SearchFilter | None = None,
              among: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """The k nearest chunks (within the filter) with their cosine similarity; ``among``: the ids of every
        chunk the filter keeps, when the caller knows them (the ledger does for a short date range): then
        Chroma searches just those, at a cost that follows their number.

        A where-clause costs Chroma a pass over the metadata of every chunk however few it keeps (0.5-1 s
        of CPU at 123k chunks, growing with the collection), the nearest ``k * FILTER_PROBE`` unfiltered
        chunks a few milliseconds; so a filtered query first takes those and keeps the ones the filter
        accepts: when that keeps ``k`` (or the probe saw the whole collection) they are the k nearest the
        where-clause finds (a nearer accepted chunk would be in the probe). Otherwise the where-clause."""
        where = _where(flt) if flt else None
        if where is None:
            return self._nearest(vector, k, None)[0]
        if among is not None:
            return self._among(vector, k, where, among)
        probe, seen = self._nearest(vector, k * FILTER_PROBE, None)
        kept = [(c, s) for c, s in probe if where_accepts(where, c)]
        if len(kept) >= k or seen < k * FILTER_PROBE:
            return kept[:k]
        return self._nearest(vector, k, where)[0]

    def _among(self, vector: np.ndarray, k: int, where: dict[str, Any], among: Sequence[str],
               ) -> list[tuple[Chunk, float]]:
        if not among:
            return []
        hits, _ = self._nearest(vector, k, None, ids=list(among))
        return [(c, s) for c, s in hits if where_accepts(where, c)]

    def _nearest(self, vector: np.ndarray, k: int, where: dict[str, Any] | None,
                 ids: list[str] | None = None) -> tuple[list[tuple[Chunk, float]], int]:
        """(hits, how many records Chroma returned). Straight to Chroma: the records are the ones llama-index's
        ChromaVectorStore wrote and reads (the document is the chunk text, postqa's fields are flat metadata
        keys); fewer than k come back when the collection is smaller, so no count() round trip."""
        kwargs: dict[str, Any] = {"where": where} if where else {}
        if ids is not None:
            kwargs["ids"] = ids
        res = self._call(self.collection.query, query_embeddings=[np.asarray(vector, dtype=np.float32)],
                         n_results=k, include=["documents", "metadatas", "distances"], **kwargs)
        ids, docs = (res.get("ids") or [[]])[0], (res.get("documents") or [[]])[0]
        metas, dists = (res.get("metadatas") or [[]])[0], (res.get("distances") or [[]])[0]
        # a record with no document is an id another process deleted that this client's in-memory vector index
        # still holds (embedded mode, until the reader reopens): nothing to cite, so it is no hit
        return [(chunk_from_record(cid, doc, dict(meta or {})), 1.0 - float(dist))  # cosine distance
                for cid, doc, meta, dist in zip(ids, docs, metas, dists, strict=False) if doc], len(ids)

    def article_chunks(self, article_ids: Sequence[str]) -> list[tuple[Chunk, dict[str, Any]]]:
        """The stored chunks of these articles with their metadata (a metadata-indexed read per 200 articles)."""
        out: list[tuple[Chunk, dict[str, Any]]] = []
        ids = list(article_ids)
        for i in range(0, len(ids), 200):
            page = self._call(self.collection.get, where={"article_id": {"$in": ids[i:i + 200]}},
                              include=["documents", "metadatas"])
            out.extend((chunk_from_record(cid, doc, dict(meta or {})), dict(meta or {}))
                       for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=False))
        return out

    def get_chunks(self, ids: Sequence[str]) -> dict[str, Chunk]:
        if not ids:
            return {}
        page = self._call(self.collection.get, ids=list(ids), include=["documents", "metadatas"])
        return {cid: chunk_from_record(cid, doc, meta or {})
                for cid, doc, meta in zip(page["ids"], page["documents"], page["metadatas"], strict=False)}


def where_accepts(where: dict[str, Any], chunk: Chunk) -> bool:
    """Whether Chroma's where-clause ``where`` (as ``_where`` writes them: ``$and`` of ``$gte``/``$lte``/``$gt``
    on ``published_int`` and ``$in`` on ``article_id``) keeps this chunk: the same test, in Python."""
    if "$and" in where:
        return all(where_accepts(w, chunk) for w in where["$and"])
    (key, cond), = where.items()
    value: Any = _date_int(chunk.published) if key == "published_int" else chunk.article_id
    (op, ref), = cond.items()
    tests = {"$gte": lambda: value >= ref, "$lte": lambda: value <= ref, "$gt": lambda: value > ref,
             "$in": lambda: value in ref}
    if op not in tests:
        raise ValueError(f"where_accepts: the operator {op!r} of {where!r} is not one _where writes; expected "
                         f"one of {sorted(tests)}")
    return bool(tests[op]())


def _where(flt: SearchFilter) -> dict[str, Any] | None:
    """A Chroma where-clause for a filter (dates are stored as yyyymmdd integers)."""
    conds: list[dict[str, Any]] = []
    if flt.date_from:
        conds.append({"published_int": {"$gte": _date_int(flt.date_from)}})
    if flt.date_to:
        conds.append({"published_int": {"$lte": _date_int(flt.date_to)}})
    if flt.date_from and not flt.date_to:
        conds.append({"published_int": {"$gt": 0}})
    if flt.article_ids is not None:
        conds.append({"article_id": {"$in": sorted(flt.article_ids) or [""]}})
    if not conds:
        return None
    return conds[0] if len(conds) == 1 else {"$and": conds}


def _apply_http_timeout(client: Any, seconds: float) -> None:
    """chromadb's HTTP client waits forever by default: a hung server would hang every question."""
    import httpx

    session = getattr(getattr(client, "_server", None), "_session", None)
    if session is not None:
        session.timeout = httpx.Timeout(seconds)


def _looks_like_connection_error(err: BaseException) -> bool:
    text = f"{type(err).__name__} {err}".lower()
    return any(s in text for s in ("connect", "timeout", "timed out", "refused", "unreachable", "remote",
                                   "network", "no reply", "not a chroma server", "http error"))


_TAG = re.compile(r"<!--.*?(-->|$)|<[^>]{0,200}(>|$)", re.S)  # tags, comments, a tag cut off at the end
_HTML_HEAD = re.compile(r"<(head|style|script)\b.*?</\1>", re.S | re.I)


def error_text(err: BaseException | str, limit: int = 200) -> str:
    """An error as one short line of plain text: markup of an HTML error page stripped, whitespace
    collapsed, cut at ``limit`` characters."""
    text = str(err) or type(err).__name__
    if "<" in text and ">" in text:
        text = _TAG.sub(" ", _HTML_HEAD.sub(" ", text))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def probe_server(host: str, port: int, timeout: float) -> None:
    """Ask the server for its heartbeat, waiting at most ``timeout`` seconds in all (connect and reply).
    Raises ConnectionError naming what went wrong: refused, no reply, or something that is not Chroma."""
    import httpx

    url = f"http://{host}:{port}/api/v2/heartbeat"
    try:
        resp = retry_transient(httpx.get, timeout, url, timeout=httpx.Timeout(timeout))
    except httpx.TimeoutException:
        raise ConnectionError(f"no reply within {timeout:g} s (store.timeout)") from None
    except httpx.HTTPError as err:
        raise ConnectionError(error_text(err)) from None
    if resp.status_code != 200 or "heartbeat" not in resp.text:
        raise ConnectionError(f"not a Chroma server: HTTP error {resp.status_code} "
                              f"({error_text(resp.text, 120) or 'empty reply'})")


def run_with_deadline(fn: Callable[[], Any], seconds: float, what: str) -> Any:
    """``fn()`` in a daemon thread, waiting at most ``seconds``: for library calls that cannot be given a
    timeout. On expiry raises TimeoutError (the thread is left to finish or die with the process)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the caller
            box["error"] = err

    thread = threading.Thread(target=run, name=f"postqa-{what}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeoutError(f"no reply while {what} within {seconds:g} s (store.timeout)")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _transient(err: BaseException) -> bool:
    """Worth another try: the connection was refused or dropped (a restart, a busy accept queue); a read
    timeout is not retried, so a hung server costs one timeout, not several."""
    import httpx

    return isinstance(err, httpx.ConnectError | httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError)


def retry_transient(fn: Callable[..., Any], budget: float, /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with up to 3 attempts and exponential backoff (0.2 s, 0.4 s, ...) for
    transient connection errors, never retrying past ``budget`` seconds."""
    from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential

    retrying = Retrying(stop=stop_after_attempt(3) | stop_after_delay(budget),
                        wait=wait_exponential(multiplier=0.2, max=2.0),
                        retry=retry_if_exception(_transient), reraise=True)
    return retrying(fn, *args, **kwargs)
