"""The Assistant service: question in, Answer out; what the CLI and the web chat talk to."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from postqa.answering.answer import NOT_COVERED, ExtractiveAnswerer, is_follow_up
from postqa.answering.timeexpr import (
    TimeIntent,
    asked_on_preference,
    describe,
    intent_filter,
    is_generic_news_question,
    parse_time_expression,
    preference,
    seen_from,
    without_expression,
)
from postqa.core.types import Answer, Article, Chunk, Citation, Hit, SearchFilter
from postqa.index import catalog
from postqa.index.catalog import article_rows
from postqa.index.indexer import load_keyword_index
from postqa.index.ledger import Ledger
from postqa.index.people import (
    PeopleLookup,
    PeopleSource,
    both_answer,
    contradicts_role,
    is_both_question,
    is_present_person_question,
    people_path,
    person_question,
    role_answer,
    who_answer,
    with_as_of,
)
from postqa.index.refresh import FollowFingerprint
from postqa.index.retrieve import DatePreference, HybridRetriever
from postqa.index.store import ChromaIndex
from postqa.service.memo import AnswerMemo
from postqa.service.validation import QuestionError, question_text

MAX_QUESTION_CHARS = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def ingest_running(store_dir: Path) -> str | None:
    """When another process is ingesting into this store now: the time it started, else None (an owner
    record left by a killed ingest names a process that no longer exists)."""
    try:
        owner = (store_dir / ".ingest.owner").read_text().split()
        pid = int(owner[1])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return owner[-1]


def clean_question(question: str) -> str:
    """Strip control characters and surrounding space; refuse what is not UTF-8 text, empty or over-long."""
    q = _CONTROL.sub(" ", question_text(question) if question is not None else "").strip()
    q = re.sub(r"\s+", " ", q)
    if not q:
        raise QuestionError("the question is empty; type a question about the news")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is {len(q):,} characters long; ask in at most "
                            f"{MAX_QUESTION_CHARS:,} characters")
    return q


def check_top_k(top_k: int | None) -> None:
    if top_k is not None and not 1 <= top_k <= 100:
        raise QuestionError(f"top_k = {top_k} is not allowed; ask for 1 to 100 passages")


def clean_history(history: Sequence[str]) -> list[str]:
    """Earlier questions usable as context; empty or over-long ones are skipped, not fatal."""
    out = []
    for h in history or ():
        try:
            out.append(clean_question(h))
        except QuestionError:
            continue
    return out


class KeywordSource:
    """Keeps the BM25 index in step with the collection: reloads when an ingest changed the fingerprint."""

    def __init__(self, index: ChromaIndex, path: Path, ttl: float = 2.0) -> None:
        self.index = index
        self.path = path
        # another process ingested: reopen to see its vectors, not our cached ones, then reload
        self._follow = FollowFingerprint(lambda: str(index.state().get("fingerprint") or ""),
                                         lambda fp: load_keyword_index(index, path, expected=fp or None),
                                         ttl=ttl, on_change=index.reopen)

    def __call__(self) -> Ledger | None:
        return self._follow()


class Assistant:
    """Answers questions over one index. Thread-safe: the web chat shares one between requests."""

    def __init__(self, retriever: HybridRetriever, answerer: ExtractiveAnswerer, index: ChromaIndex,
                 keyword: KeywordSource, info: dict[str, Any], generator: Any = None,
                 people: PeopleSource | None = None) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.index = index
        self.keyword = keyword
        self.info = info
        self.generator = generator
        self.people = people
        self._newest: tuple[str, date | None] | None = None
        self._answered = AnswerMemo()  # each question's answer, for the story of the follow-ups after it

    def retrieval_query(self, question: str, history: Sequence[str]) -> tuple[str, str]:
        """(query for retrieval, conversational context): a follow-up borrows the last question that was not
        itself a follow-up, so "And when?" after "And who addressed it?" still knows the meeting."""
        if history and is_follow_up(question):
            context = next((h for h in reversed(history) if not is_follow_up(h)), history[-1])
            return f"{context} {question}", context
        return question, ""

    def ask(self, question: str, history: Sequence[str] = (), flt: SearchFilter | None = None,
            top_k: int | None = None, as_of: date | None = None) -> Answer:
        """The answer to ``question`` (after ``history``, the earlier questions of the conversation), asked on
        ``as_of`` (what "this week" and "recently" mean; default: [answer] reference_date)."""
        q, answer = self._extractive(question, history, flt, top_k, as_of)
        if self.generator is not None and answer.hits:
            answer = self.generator.refine(answer)
        return self.finish(q, answer)

    def _extractive(self, question: str, history: Sequence[str], flt: SearchFilter | None,
                    top_k: int | None, as_of: date | None = None) -> tuple[str, Answer]:
        """The cleaned question and its extractive (news-aware) answer: what ask and stream both start from."""
        q = clean_question(question)
        check_top_k(top_k)
        query, context = self.retrieval_query(q, clean_history(history))
        if context:
            story = self._story_answer(q, query, context, flt, top_k, as_of)
            return q, story or self.news_answer(q, query, context, flt, top_k, as_of)
        answer = self.news_answer(q, query, context, flt, top_k, as_of)
        key = self._asked_key(q, flt, as_of)
        if top_k is None and key is not None:
            self._answered.remember(key, answer)
        return q, answer

    def _asked_key(self, q: str, flt: SearchFilter | None, as_of: date | None) -> tuple[object, ...] | None:
        """What a question's answer depends on besides the question: filter, date asked, index version (the
        keyword index's fingerprint, which an ingest changes); None when the version cannot be told."""
        bm25 = self.keyword()
        fingerprint = getattr(bm25, "fingerprint", None)
        return (q, flt, as_of, fingerprint) if fingerprint else None

    def _story_answer(self, q: str, query: str, context: str, flt: SearchFilter | None, top_k: int | None,
                      as_of: date | None) -> Answer | None:
        """A follow-up stays with the story: answered from the article the previous answer came from, when
        that article answers it; None otherwise (then every article is searched)."""
        key = self._asked_key(context, flt, as_of)
        previous = self._answered.get(key) if key is not None else None  # answered once, not per follow-up
        if previous is None:
            previous = self.news_answer(context, context, "", flt, None, as_of)
            if key is not None:
                self._answered.remember(key, previous)
        if not previous.answerable or not previous.citations:
            return None
        aid = previous.citations[0].article_id
        ids = frozenset({aid}) if flt is None or flt.article_ids is None else flt.article_ids & {aid}
        hits = self.retriever.retrieve(query, top_k=top_k, flt=replace(flt or SearchFilter(), article_ids=ids))
        answer = self.answerer.answer(q, hits, context=context) if hits else None
        if answer is None or not answer.answerable:
            return None
        return replace(answer, note="; ".join(x for x in (answer.note, f"from the article of the previous answer "
                                                                        f"({aid})") if x))

    def stream(self, question: str, history: Sequence[str] = (), flt: SearchFilter | None = None,
               top_k: int | None = None, as_of: date | None = None) -> Iterator[tuple[str, Answer | None]]:
        """Like ``ask``, as a stream: ``(text increment, None)`` pairs, then ``("", final Answer)``.

        With a generator only checked sentences are streamed; the final Answer is the authority (it may be
        the extractive fallback, with a note): render it last, replacing the streamed text.
        """
        q, answer = self._extractive(question, history, flt, top_k, as_of)
        if self.generator is not None and answer.hits and hasattr(self.generator, "stream_refine"):
            yield from self.generator.stream_refine(answer)
            return
        if self.generator is not None and answer.hits:
            answer = self.generator.refine(answer)
        answer = self.finish(q, answer)
        for piece in re.findall(r"\S+(?:\s+\S+){0,3}\s*", answer.text):
            yield piece, None
        yield "", answer

    # ------------------------------------------------------------------ news: dates, recency, people

    def people_index(self) -> PeopleLookup:
        if self.people is None:
            store_dir = self.keyword.path.parent.parent
            self.people = PeopleSource(self.index, people_path(store_dir, self.index.name))
        return self.people()

    def newest_date(self) -> date | None:
        """The newest article's publication date, cached until an ingest changes the index."""
        # the keyword source polls the manifest already: its fingerprint says when the index changed, so the
        # manifest is read here only then, not once more per question
        bm25 = self.keyword()
        fp = bm25.fingerprint if bm25 is not None else ""
        if self._newest is None or self._newest[0] != fp or not fp:
            state = self.index.state()
            if "newest" in state and not state.get("dirty"):  # recorded by the ingest: no scan at start-up
                newest = state["newest"] or None
            else:
                newest = max((a["date"] for a in self.articles() if a["date"]), default=None)
            self._newest = (fp, date.fromisoformat(newest) if newest else None)
        return self._newest[1]

    def reference_date(self, as_of: date | None = None) -> tuple[date | None, str]:
        """(date, what it is) that relative expressions ("last year") resolve against: the date the question
        was asked (``as_of``), else [answer] reference_date = "newest" (the newest article's date), "today",
        or a YYYY-MM-DD date."""
        if as_of is not None:
            return as_of, "the date asked"
        setting = str(getattr(self.answerer.settings, "reference_date", "newest"))
        if setting == "today":
            return date.today(), "today"
        if setting != "newest":
            return date.fromisoformat(setting), "configured reference date"
        return self.newest_date(), "newest article"

    def news_answer(self, q: str, query: str, context: str, flt: SearchFilter | None,
                    top_k: int | None, as_of: date | None = None) -> Answer:
        """Retrieve and answer, news-aware: a time expression is a date preference in ranking (a filter only
        when the question asks what was published then; the note says which dates), "latest" answers from
        the newest relevant article, a question asked on a date (``as_of``) prefers news up to that date, and
        questions about people are answered from the people index built at ingest."""
        ref, ref_source = self.reference_date(as_of)
        intent = parse_time_expression(q, ref) if ref else None
        if intent is None and context and ref:
            intent = parse_time_expression(context, ref)
        if intent is None:
            prefer = asked_on_preference(as_of) if as_of is not None else None
            return self._people_or_plain(q, query, context, flt, top_k, prefer)
        scoped, prefer, note = self._time_scope(intent, ref, ref_source, flt)
        if prefer is None and as_of is not None:
            prefer = asked_on_preference(as_of)
        prefer = seen_from(prefer, as_of)  # asked on a date: nothing published after it is what is meant
        generic = is_generic_news_question(q, intent)
        # "last year", "this week", "latest" never occur in the answering sentence: the answerer gets the
        # question without them; absolute dates ("17 May 2019") stay, the text may say them too
        bare = without_expression(q, intent) if intent.relative or not intent.has_range else q
        if intent.newest:
            answer = self._latest(q, query, context, scoped, top_k, bare, generic, prefer)
        else:
            hits = self.retriever.retrieve(query, top_k=top_k, flt=scoped, prefer=prefer)
            answer = self._dated_answer(q, bare, context, intent, hits, prefer, generic)
        return replace(answer, note="; ".join(x for x in (note, answer.note) if x))

    def _time_scope(self, intent: TimeIntent, ref: date | None, ref_source: str, flt: SearchFilter | None,
                    ) -> tuple[SearchFilter | None, DatePreference | None, str]:
        """(filter, preference, note) for a time intent: a publication question filters, any other prefers."""
        newest = self.newest_date()
        if intent.date_from and newest and intent.date_from > newest and not intent.recency:
            return flt, None, (f"Dates: {intent.label} is after the newest article ({newest.isoformat()}); "
                               "searched articles of every date")
        if intent.publication and intent.has_range:
            scoped = intent_filter(intent, flt)
            return scoped, None, describe(intent, ref, ref_source, scoped)
        return flt, preference(intent, ref), describe(intent, ref, ref_source)

    def _dated_answer(self, q: str, bare: str, context: str, intent: TimeIntent, hits: list[Hit],
                      prefer: DatePreference | None, generic: bool) -> Answer:
        """The answer over hits ranked for a date; when an absolute period has no passage near it at all
        ("in March 2018" over news of 2019 and 2020), say so instead of answering about another time."""
        absolute = intent.has_range and not intent.relative
        near = prefer is None or not absolute or any(prefer.weight(h.chunk) >= 0.5 for h in hits)
        if not hits or not near:
            return Answer(question=q, answerable=False,
                          text=f"No article in the index is dated {intent.label} ({intent.range_text()}).")
        answer = (self.lede_answer(q, hits) if generic else None) or self.answerer.answer(bare, hits, context=context)
        return replace(answer, question=q)

    def lede_answer(self, q: str, hits: Sequence[Hit], article_id: str | None = None) -> Answer | None:
        """'What happened in May 2019?': the opening sentence of the best-matching article in range (a news
        story's lede says what happened), cited."""
        if not hits:
            return None
        aid = article_id or hits[0].chunk.article_id
        first = self.index.get_chunks([f"{aid}#0"]).get(f"{aid}#0")
        if first is None:
            return None
        analysis = self.answerer.ranker.analyses([first.text])[0]  # stored at ingest
        if not analysis.sents:
            return None
        start, end = analysis.char_span(analysis.sents[0])
        lede = first.text[start:end]
        cite = Citation(n=1, article_id=aid, title=first.title, published=first.published,
                        source=first.source,
                        passage=lede, span=(0, len(lede)), score=1.0, chunk_id=first.id,
                        passage_start=first.start + start)
        return Answer(question=q, text=lede, answerable=True, citations=[cite], hits=list(hits),
                      confidence=0.6, kind="sentence")

    def _latest(self, q: str, query: str, context: str, flt: SearchFilter | None, top_k: int | None,
                bare: str, generic: bool = False, prefer: DatePreference | None = None) -> Answer:
        """Answer from the newest article among the relevant ones (none published after the preferred window:
        news after the date asked is not "the latest" to the asker); older ones only when it cannot."""
        k = top_k or self.retriever.settings.top_k
        cands = self.retriever.retrieve(query, top_k=max(2 * k, 10), flt=flt, prefer=prefer)
        if not cands:
            return Answer(question=q, text="No article in the index matches those dates.", answerable=False)
        until = prefer.window()[1] if prefer is not None else None
        by_date: dict[date, set[str]] = {}
        for h in cands:
            day = h.chunk.published or date.min
            if until is None or day <= until:
                by_date.setdefault(day, set()).add(h.chunk.article_id)
        for day in sorted(by_date, reverse=True)[:3]:
            ids = by_date[day] if flt is None or flt.article_ids is None else by_date[day] & flt.article_ids
            hits = self.retriever.retrieve(query, top_k=k, flt=replace(flt or SearchFilter(),
                                                                       article_ids=frozenset(ids)))
            answer = (self.lede_answer(q, hits) if generic else None) or \
                replace(self.answerer.answer(bare, hits, context=context), question=q)
            if answer.answerable:
                return replace(answer, note=f"answered from the newest relevant article ({day.isoformat()})")
        return replace(self.answerer.answer(bare, cands[:k], context=context), question=q)

    def _people_or_plain(self, q: str, query: str, context: str, flt: SearchFilter | None,
                         top_k: int | None, prefer: DatePreference | None = None) -> Answer:
        people = self.people_index() if not context else None
        asked = person_question(people, q) if people is not None and len(people) else None
        if people is not None and asked and not flt:
            direct = None
            if asked and asked[0] == "name":
                direct = who_answer(people, q, asked[1])
            elif asked and asked[0] == "role":
                direct = role_answer(people, q, asked[1], self.answerer.settings.max_citations)
            if direct is not None:
                return direct
        hits = self.retriever.retrieve(query, top_k=top_k, flt=flt, prefer=prefer)
        if people is not None and len(people) and is_both_question(q):
            both = both_answer(people, q, self.retriever.retrieve(query, top_k=max(top_k or 0, 10), flt=flt,
                                                                  prefer=prefer))
            if both is not None:
                return both
        answer = self.answerer.answer(q, hits, context=context)
        if people is not None and asked and asked[0] == "role" and answer.answerable and \
                contradicts_role(people, answer.text, asked[1]):
            return replace(answer, text=NOT_COVERED, answerable=False,
                           note=f"the news names no {asked[1]}; the person found holds another role")
        return answer

    def finish(self, q: str, answer: Answer) -> Answer:
        """'Who is ...?' answered from an article: say as of when ("Zhang Jinliang (as of 2019-05-21)")."""
        return with_as_of(answer) if is_present_person_question(q) else answer

    def status(self) -> dict[str, Any]:
        """Model, store, counts and the last ingest. After an interrupted ingest the recorded counts are
        stale, so the articles are counted in the store, and ``interrupted_at`` says when that ingest began."""
        state = self.index.state()
        dirty = bool(state.get("dirty"))
        ledger = self.keyword() if dirty or "articles" not in state else None
        articles = self._count_articles(ledger) if ledger is not None else state.get("articles", 0)
        running = ingest_running(self.keyword.path.parent.parent) if dirty else None
        return {**self.info, "articles": articles, "chunks": self.index.count(),
                "articles_with_warnings": state.get("articles_with_warnings", 0),
                "last_ingest": state.get("last_ingest"), "dirty": dirty and running is None,
                "running_since": running,
                "interrupted_at": (state.get("started") or "an unknown time") if dirty and not running else None}

    def _count_articles(self, ledger: Ledger) -> int:
        """The articles the store holds: the catalogue's, corrected for the ones an interrupted ingest left
        pending (asked of Chroma: only those)."""
        pending = ledger.pending()
        if not pending:
            return ledger.article_count()
        listed = ledger.catalogued(pending)
        stored = {c.article_id for c, _ in self.index.article_chunks(pending)}
        return ledger.article_count() + len(stored - listed) - len(listed - stored)

    def example_questions(self, n: int = 4) -> list[str]:
        """Questions the indexed news can answer, made from the index itself (people and their roles, the
        newest article's month), so that they fit whatever corpus is loaded."""
        out: list[str] = []
        people = self.people_index()
        ranked = people.most_cited(n)  # named in the most articles first (not every person: a million chunks)
        for name in ranked:
            person = people.person(name, 1)  # its roles (all) and newest article: no need to read them all
            if person is None:
                continue
            role = next((r.role for r in person.roles if " of " in r.role), "")
            if role and len(out) < n - 2:
                out.append(f"Who is the {role}?")
            elif len(out) < n - 2:
                out.append(f"Who is {person.name}?")
        newest = self.newest_date()
        if newest is not None:
            out.append(f"What happened in {newest.strftime('%B %Y')}?")
        if ranked:
            out.append(f"Who is {ranked[0]}?")
        return list(dict.fromkeys(out))[:n]

    def articles(self) -> list[dict[str, Any]]:
        """Every indexed article, newest first (see ``index.catalog.article_rows``): for filters, example
        questions and ``postqa articles``. From the catalogue the ingest wrote (no scan of every chunk's
        metadata), else from a scan."""
        try:
            ledger = self.keyword()
            if ledger is not None:
                return article_rows(ledger.stored_articles().values())
        except sqlite3.Error:
            pass  # an unreadable catalogue: the scan below still lists them (the next ingest rebuilds it)
        return article_rows(self.index.stored_articles().values())

    def _ledger(self) -> Ledger | None:
        try:
            return self.keyword()
        except sqlite3.Error:
            return None

    def article_page(self, words: Sequence[str] = (), start: str = "", end: str = "", limit: int = 200,
                     offset: int = 0) -> tuple[list[dict[str, Any]], int, int]:
        """(one page of the articles whose title has every word and whose date is within [start, end], newest
        first; how many match; how many there are): a LIMIT/OFFSET query of the catalogue, which is not read
        whole (see ``index.catalog.page_rows``); without one, the rows of ``articles`` filtered alike."""
        ledger = self._ledger()
        if ledger is not None:
            try:
                return catalog.page_rows(ledger, words, start, end, limit, offset)
            except sqlite3.Error:
                pass
        rows = self.articles()
        found = [r for r in rows if catalog.row_matches(r, words, start, end)]
        return found[max(0, offset):max(0, offset) + max(0, limit)], len(found), len(rows)

    def article_row(self, article_id: str) -> dict[str, Any] | None:
        """One article's row (title, date, url, warnings, ...), or None when the index does not list it."""
        ledger = self._ledger()
        if ledger is not None:
            try:
                return catalog.row_of(ledger, article_id)
            except sqlite3.Error:
                pass
        return next((r for r in self.articles() if r["id"] == article_id), None)

    def article_choices(self) -> list[dict[str, Any]]:
        """Every article's id, title and date, newest first (the web chat's article filter), read as three
        columns of the catalogue; ``articles`` when there is none."""
        ledger = self._ledger()
        if ledger is not None:
            try:
                return catalog.choices(ledger)
            except sqlite3.Error:
                pass
        return self.articles()

    def article(self, article_id: str) -> Article | None:
        """The whole indexed article, its text put back together from the stored chunks (their offsets into
        Article.text), so that a citation's ``passage_start`` points into it; None for an unknown id."""
        ids = self.index.article_chunk_ids(article_id) if article_id else []
        chunks = list(self.index.get_chunks(ids).values())
        if not chunks:
            return None
        first = min(chunks, key=lambda c: c.n)
        return Article(id=article_id, title=first.title, published=first.published, source=first.source,
                       text=rebuild_text(chunks))


def rebuild_text(chunks: Sequence[Chunk]) -> str:
    """Article text from its chunks: overlaps are laid over each other and a gap between two chunks (the
    whitespace between sentences, not stored) is filled with as many blanks, so every offset still holds."""
    out: list[str] = []
    pos = 0
    for c in sorted(chunks, key=lambda c: (c.start, c.n)):
        if c.end <= pos:
            continue
        if c.start > pos:
            gap = c.start - pos
            out.append("\n\n" + " " * (gap - 2) if gap >= 2 else " ")
            pos = c.start
        out.append(c.text[pos - c.start:])
        pos = c.end
    return "".join(out)


