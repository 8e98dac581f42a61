"""Feedback on answers: thumbs up/down and a comment, kept in SQLite under the vectorstore folder."""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from postqa.core.atomic import atomic_write_text
from postqa.core.errors import PostqaError

FEEDBACK_FILE = "feedback.sqlite3"
MAX_COMMENT_CHARS = 2000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment TEXT NOT NULL DEFAULT '',
    question TEXT NOT NULL,
    history TEXT NOT NULL DEFAULT '[]',
    answer TEXT NOT NULL DEFAULT '{}',
    collection TEXT NOT NULL DEFAULT '',
    model TEXT NOT NULL DEFAULT '',
    user TEXT NOT NULL DEFAULT ''
)
"""


class FeedbackError(PostqaError):
    """Feedback that cannot be stored as given (bad rating, unknown id, unreadable store)."""


@dataclass(frozen=True)
class Feedback:
    """One verdict on one answer, with what is needed to replay it: question, history, answer, index, model."""

    id: int
    created: str
    rating: int  # 1 = thumbs up, -1 = thumbs down
    comment: str
    question: str
    history: list[str] = field(default_factory=list)
    answer: dict[str, Any] = field(default_factory=dict)  # the `postqa ask --json` object
    collection: str = ""
    model: str = ""
    user: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "created": self.created, "rating": "up" if self.rating > 0 else "down",
                "comment": self.comment, "question": self.question, "history": self.history,
                "answer": self.answer, "collection": self.collection, "model": self.model, "user": self.user}


def feedback_path(store_dir: Path) -> Path:
    return store_dir / FEEDBACK_FILE


class FeedbackStore:
    """Durable feedback: every write is committed before it returns; safe across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._ready = False

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=10.0)
        except (OSError, sqlite3.Error) as err:
            raise FeedbackError(f"cannot open the feedback store {self.path}: {err}; check that the "
                                "vectorstore folder is writable") from None
        try:
            if not self._ready:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
                self._ready = True
            yield conn
            conn.commit()
        except sqlite3.Error as err:
            raise FeedbackError(f"the feedback store {self.path} failed: {err}") from None
        finally:
            conn.close()

    def add(self, rating: int, question: str, answer: dict[str, Any], history: Sequence[str] = (),
            comment: str = "", collection: str = "", model: str = "", user: str = "") -> int:
        """Store one verdict; returns its id."""
        if rating not in (-1, 1):
            raise FeedbackError(f"rating {rating!r} is not allowed; use 1 (thumbs up) or -1 (thumbs down)")
        row = (datetime.now(UTC).isoformat(timespec="seconds"), rating, clean_comment(comment), question,
               json.dumps(list(history), ensure_ascii=False), json.dumps(answer, ensure_ascii=False, default=str),
               collection, model, user)
        with self._lock, self._db() as db:
            cur = db.execute("INSERT INTO feedback (created, rating, comment, question, history, answer, "
                             "collection, model, user) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return int(cur.lastrowid or 0)

    def set_comment(self, feedback_id: int, comment: str) -> None:
        with self._lock, self._db() as db:
            cur = db.execute("UPDATE feedback SET comment = ? WHERE id = ?", (clean_comment(comment), feedback_id))
            if cur.rowcount == 0:
                raise FeedbackError(f"no feedback with id {feedback_id}; give a thumb first, then the comment")

    def list(self, rating: int | None = None) -> list[Feedback]:
        """Every verdict, oldest first (only thumbs down with ``rating=-1``)."""
        if not self.path.exists():
            return []
        sql = "SELECT id, created, rating, comment, question, history, answer, collection, model, user FROM feedback"
        args: tuple[Any, ...] = ()
        if rating is not None:
            sql, args = sql + " WHERE rating = ?", (rating,)
        with self._lock, self._db() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [Feedback(r[0], r[1], r[2], r[3], r[4], json.loads(r[5] or "[]"), json.loads(r[6] or "{}"),
                         r[7], r[8], r[9]) for r in rows]


def clean_comment(comment: str) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", comment or "").strip()
    return text[:MAX_COMMENT_CHARS]


def eval_case(fb: Feedback) -> dict[str, Any]:
    """A thumbs-down as an eval case in the evals/cases*.jsonl format, the gold left for a person to fill in:
    ``answers`` and ``gold_articles`` are empty (load_cases refuses the case until they are filled, or until
    ``kind`` is set to "unanswerable"); ``notes`` says what the assistant said and what the user wrote."""
    ans = fb.answer or {}
    cited = [c.get("article_id", "") for c in ans.get("citations") or [] if isinstance(c, dict)]
    said = ans.get("answer", "") if ans.get("answerable") else f"refused ({ans.get('answer', '')})"
    notes = (f"from feedback #{fb.id} ({fb.created}, index {fb.collection or '?'}, model {fb.model or '?'}): "
             f"the assistant said {said!r}, citing {', '.join(cited) or 'nothing'}"
             + (f"; the user wrote {fb.comment!r}" if fb.comment else "")
             + ". TODO: fill in answers, gold_articles and gold_sentence (or set kind to \"unanswerable\").")
    return {"id": f"feedback-{fb.id}", "kind": question_kind(fb.question), "question": fb.question,
            "history": fb.history, "answers": [], "gold_articles": [], "gold_sentence": [], "notes": notes}


def question_kind(question: str) -> str:
    """The eval suite's kind from the question word (who, what, when, where, how-many); "what" otherwise."""
    words = re.findall(r"[a-z]+", question.lower())[:3]
    if words[:2] == ["how", "many"] or words[:2] == ["how", "much"]:
        return "how-many"
    for w in words[:1]:
        if w in ("who", "whom", "whose"):
            return "who"
        if w in ("when", "where"):
            return w
    return "what"


def export_cases(store: FeedbackStore, path: Path) -> int:
    """Write every thumbs-down as an eval case (JSON Lines) to ``path``; returns how many."""
    cases = [eval_case(fb) for fb in store.list(rating=-1)]
    try:
        atomic_write_text(path, "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases))
    except OSError as err:
        raise FeedbackError(f"cannot write {path}: {err.strerror or err}; choose a writable file") from None
    return len(cases)
