"""The domain types that flow through postqa: Article, Chunk, Hit, Citation, Answer."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date


@dataclass(frozen=True)
class ParseReport:
    """How the reader made an article of a file: the layout, where title and date came from, what it removed,
    and what it is unsure of (``warnings``: shown by ``postqa articles`` and ``postqa ingest --verbose``)."""

    layout: str = ""  # e.g. "text-lines", "text-one-line", "html", "markdown", "jsonl"
    title_source: str = ""  # e.g. "repeated line", "line before the date", "file name"
    date_source: str = ""  # e.g. "date line", "glued to the title", "html metadata", "" (none found)
    boilerplate_chars: int = 0  # characters of the page removed as navigation, menus, footers
    page_chars: int = 0  # characters of the page as read
    unwrapped_lines: int = 0  # line breaks of a hard-wrapped body joined into its paragraphs (0: not wrapped)
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Article:
    """One cleaned news article."""

    id: str
    title: str
    published: date | None
    source: str  # a file path or a URL
    text: str  # the clean body, without the title line
    url: str = ""  # the page's address when the file says it
    report: ParseReport | None = None  # how it was read (None: built in code, not read from a file)


HEADER_TITLE_CHARS = 150  # of the title repeated in every chunk's embedded header


def cap_title(title: str, limit: int) -> str:
    """``title`` cut at a word boundary to at most ``limit`` characters (an ellipsis marks the cut)."""
    if len(title) <= limit:
        return title
    cut = title[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned piece of an article; ``start``/``end`` are offsets into ``Article.text``."""

    id: str  # f"{article_id}#{n}"
    article_id: str
    n: int
    text: str
    start: int
    end: int
    title: str = ""
    published: date | None = None
    source: str = ""

    @property
    def context_text(self) -> str:
        """What gets embedded and keyword-indexed: the article title (capped at HEADER_TITLE_CHARS, so a
        chunk keeps most of its room for body text) and the date travel with each chunk."""
        head = cap_title(self.title, HEADER_TITLE_CHARS)
        if self.published:
            head = f"{head} ({self.published.isoformat()})"
        return f"{head}\n{self.text}" if head else self.text


@dataclass(frozen=True)
class SearchFilter:
    """Restricts retrieval to a publication-date range and/or chosen articles."""

    date_from: date | None = None
    date_to: date | None = None
    article_ids: frozenset[str] | None = None

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.article_ids)

    def narrowed(self, lo: date | None, hi: date | None) -> SearchFilter:
        """This filter with its date range intersected with ``[lo, hi]`` (None: open on that side)."""
        if self.date_from and (lo is None or self.date_from > lo):
            lo = self.date_from
        if self.date_to and (hi is None or self.date_to < hi):
            hi = self.date_to
        return replace(self, date_from=lo, date_to=hi)

    def accepts(self, chunk: Chunk) -> bool:
        if self.article_ids is not None and chunk.article_id not in self.article_ids:
            return False
        if self.date_from or self.date_to:
            if chunk.published is None:
                return False
            if self.date_from and chunk.published < self.date_from:
                return False
            if self.date_to and chunk.published > self.date_to:
                return False
        return True


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and its rank in each retriever (None: not found there)."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    dense_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class Citation:
    """A numbered source: the supporting passage and where the answer lies inside it."""

    n: int
    article_id: str
    title: str
    published: date | None
    source: str
    passage: str  # the supporting sentence(s)
    span: tuple[int, int] | None  # the answer's offsets inside ``passage``
    score: float
    chunk_id: str = ""
    passage_start: int = 0  # offset of ``passage`` inside Article.text
    # the sentences of ``passage`` as offsets into it, from its chunk's stored analysis, when it holds more
    # than one; () when the passage is one sentence (what the extractive answerer cites)
    sentences: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Answer:
    """What the assistant says: a short answer, its citations, and the hits it came from."""

    question: str
    text: str
    answerable: bool
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    confidence: float = 0.0
    note: str = ""  # e.g. which reference date was used, or why a generator fell back
    kind: str = "span"  # "span": a short answer inside the sentence; "sentence": the whole sentence; "none"
    answerability: float | None = None  # P(the news answers the question) by the answerability model
    features: tuple[tuple[str, float], ...] = ()  # the signals it came from (for `postqa calibrate --fit`)

    def to_json(self) -> dict[str, object]:
        """The documented ``postqa ask --json`` object."""
        return {
            "question": self.question,
            "answer": self.text,
            "answerable": self.answerable,
            "confidence": round(self.confidence, 4),
            "note": self.note,
            "kind": self.kind,
            "answerability": None if self.answerability is None else round(self.answerability, 4),
            "citations": [
                {
                    "n": c.n,
                    "article_id": c.article_id,
                    "title": c.title,
                    "date": c.published.isoformat() if c.published else None,
                    "source": c.source,
                    "passage": c.passage,
                    "span": list(c.span) if c.span else None,
                    "score": round(c.score, 4),
                }
                for c in self.citations
            ],
        }
