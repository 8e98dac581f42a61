"""What a read of the corpus gives: the articles, where each came from, and the problems reported."""

from __future__ import annotations

from dataclasses import dataclass, field

from postqa.core.types import Article


@dataclass(frozen=True)
class Problem:
    """A file (or a line of one) that was reported and skipped."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class CorpusReadResult:
    """Articles read from some paths, where each came from, and what was skipped and why."""

    articles: list[Article] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # article id -> resolved file path
    problems: list[Problem] = field(default_factory=list)
    failed_origins: set[str] = field(default_factory=set)  # files (partly) unreadable: keep what they had
    roots: list[str] = field(default_factory=list)  # resolved paths that were scanned
    scanned: set[str] = field(default_factory=set)  # every file found (read or not), resolved: known present
    warnings: list[Problem] = field(default_factory=list)  # read, but with something to say (bytes replaced)
