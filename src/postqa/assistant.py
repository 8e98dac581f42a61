"""The Assistant service: question in, Answer out; what the CLI and the web chat talk to."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postqa.answer import ExtractiveAnswerer, is_follow_up
from postqa.errors import PostqaError
from postqa.indexer import load_keyword_index
from postqa.keyword import BM25Index
from postqa.retrieve import HybridRetriever
from postqa.store import ChromaIndex
from postqa.types import Answer, SearchFilter

MAX_QUESTION_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class QuestionError(PostqaError):
    """The question cannot be asked as it is (empty, too long)."""


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse empty or over-long questions."""
    q = _CONTROL.sub(" ", question or "").strip()
    q = re.sub(r"\s+", " ", q)
    if not q:
        raise QuestionError("the question is empty; type a question about the news")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(q):,} characters long; ask in at most "
                            f"{MAX_QUESTION_CHARS:,} characters")
    return q


@dataclass
class KeywordSource:
    """Keeps the BM25 index in step with the collection: reloads when an ingest changed the fingerprint."""

    index: ChromaIndex
    path: Path
    ttl: float = 2.0

    def __post_init__(self) -> None:
        self._bm25: BM25Index | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> BM25Index | None:
        now = time.monotonic()
        if self._bm25 is not None and now - self._checked < self.ttl:
            return self._bm25
        with self._lock:
            if self._bm25 is not None and time.monotonic() - self._checked < self.ttl:
                return self._bm25
            fp = self.index.state().get("fingerprint")
            if self._bm25 is None or (fp and self._bm25.fingerprint != fp):
                self._bm25 = load_keyword_index(self.index, self.path, expected=fp or None)
            self._checked = time.monotonic()
            return self._bm25


class Assistant:
    """Answers questions over one index. Thread-safe: the web chat shares one between requests."""

    def __init__(self, retriever: HybridRetriever, answerer: ExtractiveAnswerer, index: ChromaIndex,
                 keyword: KeywordSource, info: dict[str, Any], generator: Any = None) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.index = index
        self.keyword = keyword
        self.info = info
        self.generator = generator

    def retrieval_query(self, question: str, history: Sequence[str]) -> tuple[str, str]:
        """(query for retrieval, conversational context) — a follow-up borrows the previous question."""
        if history and is_follow_up(question):
            context = history[-1]
            return f"{context} {question}", context
        return question, ""

    def ask(self, question: str, history: Sequence[str] = (), flt: SearchFilter | None = None,
            top_k: int | None = None) -> Answer:
        q = clean_question(question)
        query, context = self.retrieval_query(q, [clean_question(h) for h in history if h and h.strip()])
        hits = self.retriever.retrieve(query, top_k=top_k, flt=flt)
        answer = self.answerer.answer(q, hits, context=context)
        if self.generator is not None and answer.hits:
            answer = self.generator.refine(answer)
        return answer

    def stream(self, question: str, history: Sequence[str] = (), flt: SearchFilter | None = None,
               top_k: int | None = None) -> Iterator[tuple[str, Answer | None]]:
        """Like ``ask``, as a stream: ``(text increment, None)`` pairs, then ``("", final Answer)``.

        With a generator only checked sentences are streamed; the final Answer is the authority (it may be
        the extractive fallback, with a note): render it last, replacing the streamed text.
        """
        q = clean_question(question)
        query, context = self.retrieval_query(q, [clean_question(h) for h in history if h and h.strip()])
        hits = self.retriever.retrieve(query, top_k=top_k, flt=flt)
        answer = self.answerer.answer(q, hits, context=context)
        if self.generator is not None and answer.hits and hasattr(self.generator, "stream_refine"):
            yield from self.generator.stream_refine(answer)
            return
        if self.generator is not None and answer.hits:
            answer = self.generator.refine(answer)
        for piece in re.findall(r"\S+(?:\s+\S+){0,3}\s*", answer.text):
            yield piece, None
        yield "", answer

    def status(self) -> dict[str, Any]:
        state = self.index.state()
        return {**self.info, "articles": state.get("articles", 0), "chunks": self.index.count(),
                "last_ingest": state.get("last_ingest"), "dirty": bool(state.get("dirty"))}

    def articles(self) -> list[dict[str, str]]:
        """Every indexed article (id, title, date), newest first: for filters and example questions."""
        arts = self.index.stored_articles().values()
        return sorted(({"id": a.article_id, "title": a.title, "date": a.published} for a in arts),
                      key=lambda a: (a["date"], a["id"]), reverse=True)
