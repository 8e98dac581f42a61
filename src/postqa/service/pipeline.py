"""The one place that wires components from Settings: ingest(...) and build_assistant(...)."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from postqa.answering.answer import ExtractiveAnswerer
from postqa.answering.answerability import for_embedding
from postqa.core.config import Settings
from postqa.core.errors import PostqaError
from postqa.index.catalog import article_rows, load_catalog
from postqa.index.chunking import chunker_id
from postqa.index.embedding import Embedder, create_embedder, describe, set_threads
from postqa.index.embedding.cache import CachedEmbed
from postqa.index.indexer import Indexer, IngestLock, IngestReport, ProgressFn, keyword_path
from postqa.index.people import PeopleSource, people_path
from postqa.index.retrieve import HybridRetriever
from postqa.index.store import ChromaIndex, ChromaStore, IndexSpec
from postqa.index.wordvectors import WordVectors, words_path
from postqa.nlp.pipeline import Analyser
from postqa.nlp.sentences import shared_splitter
from postqa.nlp.store import AnalysisStore, analysis_path
from postqa.reading.corpus import read_corpus
from postqa.reading.files import check_corpus_paths
from postqa.reading.result import CorpusReadResult
from postqa.service.assistant import Assistant, KeywordSource


def index_spec(settings: Settings, embedder: Embedder) -> IndexSpec:
    return IndexSpec(model=embedder.name, dim=embedder.dim, normalize=embedder.normalize,
                     fingerprint=embedder.fingerprint,
                     chunk_max_tokens=min(settings.chunking.max_tokens, embedder.max_tokens),
                     chunk_overlap=settings.chunking.overlap_sentences, chunker=chunker_id(settings.nlp.model))


def open_store(settings: Settings) -> ChromaStore:
    return ChromaStore(settings.store, settings.paths.vectorstore)


def ingest(settings: Settings, paths: Sequence[str | Path] | None = None, rebuild: bool = False,
           progress: ProgressFn | None = None, wait: float = 0.0, embedder: Embedder | None = None,
           prune: bool = True, prune_all: bool = False, read: CorpusReadResult | None = None) -> IngestReport:
    """Sync the given files/folders (default: the configured corpus) into the index for the configured
    embedding model. Holds the store's ingest lock for the whole run.

    A missing or empty corpus path is a CorpusError (never a wipe); removing more than
    [ingest] max_prune_fraction of the index needs ``prune_all``. ``read``: articles already read (the web
    upload reads its own folder), used instead of reading ``paths``."""
    roots = [Path(p) for p in (paths or [settings.paths.corpus])]
    if read is None:
        check_corpus_paths(roots)
    embedder = embedder or create_embedder(settings.embedding)
    set_threads(embedder, settings.embedding.threads)  # 0: all cores while ingesting
    store = open_store(settings)
    spec = index_spec(settings, embedder)
    with IngestLock(settings.paths.vectorstore, wait=wait):
        if rebuild:
            name = spec.collection_name(settings.store.collection_prefix)
            if any(n == name for n, _, _ in store.indexes()):
                store.delete_collection(name)
            _remove_side_indexes(settings.paths.vectorstore, name)
        index = store.open_index(spec, create=True)
        if read is None:
            read = read_corpus(roots, follow_symlinks=settings.ingest.follow_symlinks)
        limit = None if prune_all or rebuild else settings.ingest.max_prune_fraction
        analyses = open_analyses(settings, index.name)
        words = open_words(settings, index.name, embedder) if settings.ingest.word_vectors else None
        try:
            report = Indexer(embedder, index, settings.paths.vectorstore, settings.chunking,
                             embed_batch_chunks=settings.embedding.write_batch, analyses=analyses, words=words,
                             sentences=shared_splitter(settings.nlp.model)).sync(
                read, progress=progress, prune=prune, max_prune_fraction=limit)
        finally:
            analyses.close()
            if words is not None:
                words.close()
        _drop_superseded(store, spec, settings.paths.vectorstore)
        return report


def _drop_superseded(store: ChromaStore, spec: IndexSpec, store_dir: Path) -> None:
    """Indexes of the same model and chunk settings that an older chunker cut (IndexSpec.rechunked) are never
    served again once this one is built: they go, with their side indexes."""
    for name, built, _ in store.indexes():
        if built is not None and spec.rechunked(built):
            store.delete_collection(name)
            _remove_side_indexes(store_dir, name)


def open_words(settings: Settings, collection: str, embedder: Embedder, timeout: float = 30.0) -> WordVectors:
    """The word-vector table of a collection, for this embedding model's exact weights."""
    return WordVectors(words_path(settings.paths.vectorstore, collection), f"{embedder.name}@{embedder.fingerprint}",
                       embedder.embed_documents, embedder.dim, timeout=timeout)


def open_analyses(settings: Settings, collection: str) -> AnalysisStore:
    """The stored analyses of a collection's chunks, with the configured spaCy pipeline for the missing ones."""
    analyser = Analyser(settings.nlp.model, settings.nlp.batch_size)
    return AnalysisStore(analysis_path(settings.paths.vectorstore, collection), analyser)


def build_assistant(settings: Settings, embedder: Embedder | None = None) -> Assistant:
    """An Assistant over the index built for the configured embedding model.

    Raises IndexMissingError (with the command that builds it) when that index does not exist, and
    IndexMismatchError when the stored index was built differently.
    """
    embedder = embedder or create_embedder(settings.embedding)
    set_threads(embedder, settings.embedding.threads or 1)  # serving: one thread per request
    store = open_store(settings)
    index = store.open_index(index_spec(settings, embedder), create=False)
    keyword = KeywordSource(index, keyword_path(settings.paths.vectorstore, index.name))
    # one query vector per question text, shared by retrieval and answer ranking
    embed_query = functools.lru_cache(maxsize=1024)(embedder.embed_query)
    retriever = HybridRetriever(embed_query, index, keyword, settings.retrieval)

    def idf(term: str) -> float:
        bm25 = keyword()
        return bm25.idf(term) if bm25 is not None else 1.0

    analyses = open_analyses(settings, index.name)
    judge = for_embedding(settings.answer.refusal, settings.answer.min_answerability, embedder.name)
    # the answerer's sentence (and word) vectors, remembered by text: the encoder is most of a question's time
    answerer = ExtractiveAnswerer(CachedEmbed(embedder.embed_documents), idf, settings.answer,
                                  embed_query=embed_query, analyses=analyses.get_many, analyser=analyses.analyser,
                                  answerability=judge, words=open_words(settings, index.name, embedder, timeout=0.05))
    info: dict[str, Any] = {"embedding": describe(embedder), "collection": index.name, "store": store.location}
    generator = None
    if settings.generator.provider != "none":
        from postqa.answering.generate import create_generator

        generator = create_generator(settings.generator, embedder, analyses=analyses.get_many,
                                     split=shared_splitter(settings.nlp.model).split)
    people = PeopleSource(index, people_path(settings.paths.vectorstore, index.name), analyse=analyses.get_many)
    return Assistant(retriever, answerer, index, keyword, info, generator=generator, people=people)


def _configured_model_name(settings: Settings) -> str | None:
    """The name the configured embedding model records in its index, found without loading it."""
    from postqa.index.embedding import resolve_model

    if settings.embedding.provider == "hash":
        return f"hash-{settings.embedding.dim}"
    try:
        return resolve_model(settings.embedding.model, settings.embedding.offline)[1]
    except PostqaError:
        return None


def open_index_without_model(settings: Settings) -> ChromaIndex | None:
    """The index built for the configured model, opened without loading the model (for listings); None
    when that is ambiguous (several indexes of that model name): then build the assistant instead."""
    store = open_store(settings)
    built = [(n, s, m) for n, s, m in store.indexes() if s is not None]
    name = _configured_model_name(settings)
    found = [(n, s) for n, s, _ in built if s.model == name
             and s.chunk_overlap == settings.chunking.overlap_sentences and s.chunker == chunker_id(settings.nlp.model)]
    if len(found) != 1:
        return None
    collection, spec = found[0]
    return ChromaIndex(store, store.client.get_collection(collection, embedding_function=None), spec)


def list_articles(settings: Settings) -> list[dict[str, Any]]:
    """Every indexed article of the configured model's index (see index.catalog.article_rows), read from
    the store's metadata; the model is loaded only when the index cannot be told without it."""
    index = open_index_without_model(settings)
    if index is None:
        return build_assistant(settings).articles()
    rows = load_catalog(keyword_path(settings.paths.vectorstore, index.name))
    return rows if rows is not None else article_rows(index.stored_articles().values())


def drop_index(settings: Settings, name: str) -> None:
    store = open_store(settings)
    store.delete_collection(name)
    _remove_side_indexes(settings.paths.vectorstore, name)


def _remove_side_indexes(store_dir: Path, name: str) -> None:
    """The keyword, people, analysis and word-vector files derived from a collection go with it."""
    shutil.rmtree(keyword_path(store_dir, name), ignore_errors=True)  # the ledger: catalogue and BM25
    people_path(store_dir, name).unlink(missing_ok=True)
    for path in (analysis_path(store_dir, name), words_path(store_dir, name)):
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def list_indexes(settings: Settings) -> list[dict[str, Any]]:
    store = open_store(settings)
    out = []
    for name, spec, _meta in store.indexes():
        entry: dict[str, Any] = {"collection": name, "spec": spec.__dict__ if spec else None}
        if spec is not None:
            idx = ChromaIndex(store, store.client.get_collection(name, embedding_function=None), spec)
            entry.update(idx.state())
            entry["chunks"] = idx.count()
        out.append(entry)
    return out


__all__ = ["ingest", "build_assistant", "index_spec", "list_indexes", "list_articles", "drop_index"]
