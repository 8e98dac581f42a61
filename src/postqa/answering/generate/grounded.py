"""The grounded generator: the model's reply, checked sentence by sentence, becomes a cited Answer (or, failing
that, the extractive answer with a note)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

import numpy as np

from postqa.answering.generate.base import Generator
from postqa.answering.generate.checker import (
    REFUSAL,
    Checker,
    CheckReport,
    Source,
    SplitFn,
    has_words,
    key_span,
    render_cited,
    split_reply,
)
from postqa.answering.generate.prompt import Passage
from postqa.core.errors import ProviderError
from postqa.core.types import Answer, Citation
from postqa.index.keyword import tokenize
from postqa.nlp.analysis import Analysis

# Sentences of an article that talk to a language model rather than report news. They stay in the prompt
# (inside the data fence) but never count as support for a generated sentence.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|prompts?|rules|above|previous|prior)\b"
    r"|\b(?:system\s+prompt|you\s+are\s+now|as\s+an?\s+(?:ai|language\s+model)|new\s+instructions?)\b"
    r"|\b(?:assistant|chatbot|language\s+model|ai)\b.{0,30}\b(?:must|should)\s+(?:answer|reply|say|respond)\b",
    re.IGNORECASE)


class _Assembly:
    """One reply being checked: the kept sentences, their citation numbering, and how many were sent on."""

    def __init__(self, checker: Checker) -> None:
        self.checker = checker
        self.report = CheckReport()
        self.order: dict[int, int] = {}  # given passage n -> displayed number
        self.rendered: list[str] = []
        self.shown = 0  # sentences already sent to the caller
        self.reply = ""

    def accept(self, sentence: str) -> None:
        kept = self.checker.check(sentence, self.report)
        if kept is not None:
            for n in kept.cites:
                self.order.setdefault(n, len(self.order) + 1)
            self.rendered.append(render_cited(kept.text, [self.order[n] for n in kept.cites]))

    def flush(self) -> Iterator[tuple[str, None]]:
        # nothing reaches the caller before the model has made at least one valid citation itself
        if self.report.model_cited:
            while self.shown < len(self.rendered):
                yield (" " if self.shown else "") + self.rendered[self.shown], None
                self.shown += 1


class GroundedGenerator:
    """Wraps a Generator: prompts it with the retrieved passages only, checks every [n] in the reply and
    returns an Answer whose citations all hold, or the extractive answer with a note saying why."""

    def __init__(self, generator: Generator, embed: Callable[[Sequence[str]], np.ndarray] | None = None,
                 max_passages: int = 5, lexical_min: float = 0.6, cosine_min: float = 0.8,
                 refine_refusals: bool = False,
                 analyses: Callable[[Sequence[str]], list[Analysis]] | None = None,
                 split: SplitFn | None = None) -> None:
        self.generator = generator
        self.embed = embed
        # the passages' sentences come from their stored analyses (``analyses``, the ingest's); without
        # them, and for the model's reply, from spaCy's sentence recogniser (``split``)
        self.analyses = analyses
        if split is None:
            from postqa.nlp.sentences import shared_splitter

            split = shared_splitter().split
        self.split = split
        self.max_passages = max_passages
        self.lexical_min = lexical_min
        self.cosine_min = cosine_min
        # The extractive refusal threshold is calibrated on unanswerable questions; the checker proves
        # support, not relevance, so by default a refused question is not handed to the model.
        self.refine_refusals = refine_refusals

    @property
    def name(self) -> str:
        return self.generator.name

    def eligible(self, answer: Answer) -> bool:
        return bool(answer.hits) and (answer.answerable or self.refine_refusals)

    def sources(self, answer: Answer) -> list[Source]:
        out: list[Source] = []
        chunks = list({hit.chunk.id: hit.chunk for hit in answer.hits}.values())[:self.max_passages]
        for chunk, offsets in zip(chunks, self._sentences([c.text for c in chunks]), strict=True):
            n = len(out) + 1
            sents = [(a, b, chunk.text[a:b]) for a, b in offsets if not _INSTRUCTION.search(chunk.text[a:b])]
            clean = " ".join(t for _, _, t in sents)
            out.append(Source(passage=Passage(n, chunk.title, chunk.published, chunk.text), chunk=chunk,
                               sentences=sents, tokens=set(tokenize(f"{chunk.title} {clean}")),
                               lower=f"{chunk.title} {clean}".lower()))
        return out

    def _sentences(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """Sentence offsets of each passage: its stored analysis's when the generator has them."""
        if self.analyses is None:
            return [self.split(t) for t in texts]
        return [[a.char_span(s) for s in a.sents] for a in self.analyses(texts)]

    # ---------------------------------------------------------------------------------------- public

    def refine(self, answer: Answer) -> Answer:
        """The generated, checked answer; or ``answer`` itself with a note when generation fails."""
        final: Answer | None = None
        for _, result in self._run(answer, streaming=False):
            if result is not None:
                final = result
        assert final is not None
        return final

    def stream_refine(self, answer: Answer) -> Iterator[tuple[str, Answer | None]]:
        """Checked sentences as they complete, then the final Answer (the authority: render it last)."""
        yield from self._run(answer, streaming=True)

    # ---------------------------------------------------------------------------------------- engine

    def _run(self, answer: Answer, streaming: bool) -> Iterator[tuple[str, Answer | None]]:
        if not self.eligible(answer):
            yield from answer_pieces(answer)
            return
        sources = self.sources(answer)
        run = _Assembly(Checker(sources, self.embed, self.lexical_min, self.cosine_min))
        passages = [s.passage for s in sources]
        error: ProviderError | None = None
        start = time.monotonic()
        try:
            if streaming:
                yield from self._stream_into(run, answer.question, passages)
            else:
                run.reply = self.generator.generate(answer.question, passages)
                for s in split_reply(run.reply, self.split):
                    run.accept(s)
        except ProviderError as err:
            error = err
        seconds = time.monotonic() - start
        if run.report.model_cited:
            yield "", self._answer(answer, sources, run.report, run.order, run.rendered, seconds, error)
            return
        note = self._fallback_note(run.reply, error)
        yield from answer_pieces(replace(answer, note=_join_notes(answer.note, note)))

    def _stream_into(self, run: _Assembly, question: str, passages: list[Passage]) -> Iterator[tuple[str, None]]:
        done = 0
        for delta in self.generator.stream(question, passages):
            run.reply += delta
            sents = split_reply(run.reply, self.split)
            # the last sentence may still grow; if it is only a (partial) marker, the one before
            # it may still receive markers
            complete = len(sents) - (1 if sents and has_words(sents[-1]) else 2)
            for s in sents[done:complete]:
                run.accept(s)
            done = max(done, complete)
            yield from run.flush()
        for s in split_reply(run.reply, self.split)[done:]:
            run.accept(s)
        yield from run.flush()

    def _fallback_note(self, reply: str, error: ProviderError | None) -> str:
        """Why the extractive answer is shown instead of the generated one."""
        if error is not None:
            return f"generator unavailable: {error}; showing the extractive answer"
        if REFUSAL.search(reply):
            return f"{self.name} found no answer in the passages; showing the extractive answer"
        if not reply.strip():
            return f"{self.name} returned an empty reply; showing the extractive answer"
        return f"{self.name}'s reply had no valid citation; showing the extractive answer"

    def _answer(self, answer: Answer, sources: list[Source], report: CheckReport, order: dict[int, int],
                rendered: list[str], seconds: float, error: ProviderError | None) -> Answer:
        by_n = {s.passage.n: s for s in sources}
        citations: list[Citation] = []
        for n, shown in sorted(order.items(), key=lambda x: x[1]):
            src = by_n[n]
            idxs = sorted({k.best[n] for k in report.kept if n in k.best and k.best[n] >= 0})
            idxs = idxs or [0]
            start, end = src.sentences[idxs[0]][0], src.sentences[idxs[-1]][1]
            if end - start > 600:  # distant sentences: quote the first only
                start, end = src.sentences[idxs[0]][0], src.sentences[idxs[0]][1]
            quote = src.chunk.text[start:end]
            inside = tuple((a - start, b - start) for a, b, _ in src.sentences if start <= a and b <= end)
            said = " ".join(k.text for k in report.kept if n in k.cites)
            span = key_span(said, quote, prefer=answer.text if answer.answerable else "")
            score = max(k.scores[n] for k in report.kept if n in k.scores)
            citations.append(Citation(n=shown, article_id=src.chunk.article_id, title=src.chunk.title,
                                      published=src.chunk.published, source=src.chunk.source, passage=quote,
                                      span=span, score=score, chunk_id=src.chunk.id,
                                      passage_start=src.chunk.start + start,
                                      sentences=inside if len(inside) > 1 else ()))
        parts = [f"generated by {self.name} in {seconds:.1f} s"]
        if report.dropped:
            parts.append(f"{report.dropped} unsupported sentence{'s' if report.dropped != 1 else ''} dropped")
        if report.invalid_markers:
            k = report.invalid_markers
            parts.append(f"{k} invalid citation{'s' if k != 1 else ''} removed")
        if report.recited:
            parts.append(f"{report.recited} uncited sentence{'s' if report.recited != 1 else ''} matched to "
                         "its passage")
        if error is not None:
            parts.append(f"stopped early: {error}")
        return replace(answer, text=" ".join(rendered), answerable=True, citations=citations,
                       note=_join_notes(answer.note, "; ".join(parts)))


def _join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def answer_pieces(answer: Answer, words: int = 4) -> Iterator[tuple[str, Answer | None]]:
    """An already-final answer as a stream: its text in small word groups, then the Answer."""
    for piece in re.findall(r"\S+(?:\s+\S+){0,%s}\s*".replace("%s", str(words - 1)), answer.text):
        yield piece, None
    yield "", answer
