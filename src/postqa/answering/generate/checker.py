"""The citation checker: each sentence of a reply kept only if the passages it cites support it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from postqa.answering.generate.prompt import Passage
from postqa.core.types import Chunk
from postqa.index.keyword import tokenize

_MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


_LEADING_MARKERS = re.compile(r"^\s*((?:\[\d{1,3}(?:\s*,\s*\d{1,3})*\]\s*)+)")


_PARTIAL_MARKER = re.compile(r"\[[\d,\s]*$")


REFUSAL = re.compile(
    r"\b(?:passages?|news|text|context|articles?|sources?)\s+(?:do|does|did)\s+not\s+(?:say|mention|contain|state)"
    r"|\bnot\s+(?:mentioned|stated|specified|given)\b|\bno\s+information\b|\bcannot\s+(?:be\s+)?answer"
    r"|\bcan't\s+answer\b|\bunable\s+to\s+answer\b", re.IGNORECASE)


_NUM = re.compile(r"\d+(?:[.,]\d+)*")


_CAPWORD = re.compile(r"\b[A-Z][A-Za-z]+(?:-[A-Za-z]+)*\b")


_WORDRUN = re.compile(r"[\w’'-]+")


@dataclass
class Source:
    """A given passage, prepared for support checks."""

    passage: Passage
    chunk: Chunk
    sentences: list[tuple[int, int, str]]  # (start, end, text) in chunk.text; instructions excluded
    tokens: set[str]
    lower: str  # title + non-instruction text, lower-cased, for entity checks
    vectors: np.ndarray | None = None


@dataclass
class Kept:
    text: str  # the sentence without markers
    cites: list[int]  # given passage numbers, supported
    scores: dict[int, float]
    best: dict[int, int]  # passage n -> index of its best-matching sentence


@dataclass
class CheckReport:
    """What the checker did with a reply."""

    kept: list[Kept] = field(default_factory=list)
    dropped: int = 0
    invalid_markers: int = 0  # markers pointing at passages that were not given, or not supporting
    recited: int = 0  # uncited sentences attached to the passage that supports them
    model_cited: int = 0  # sentences kept on the strength of the model's own markers


SplitFn = Callable[[str], list[tuple[int, int]]]  # text -> sentence offsets (nlp.sentences.SentenceSplitter)


def split_reply(text: str, split: SplitFn | None = None) -> list[str]:
    """Sentences of a reply (spaCy's, through ``split``: by default the shared splitter of the default
    pipeline), each with the markers that follow it (``A. [1] B`` -> ``A. [1]``, ``B``)."""
    if split is None:
        from postqa.nlp.sentences import shared_splitter

        split = shared_splitter().split
    text = re.sub(r"^\s*(?:answer|a)\s*:\s*", "", text, flags=re.IGNORECASE)
    # the recogniser reads "[1]" as a sentence of its own: it sees blanks where the markers are (same offsets),
    # and each piece runs from one sentence's start to the next's, so a marker between two stays in one of them
    blank = _MARKER.sub(lambda m: " " * len(m.group(0)), text)
    starts = [a for a, _ in split(blank)][1:]
    out: list[str] = []
    for a, b in zip([0, *starts], [*starts, len(text)], strict=True):
        piece = text[a:b].strip()
        m = _LEADING_MARKERS.match(piece)
        if m and out:
            out[-1] = f"{out[-1]} {m.group(1).strip()}"
            piece = piece[m.end():].strip()
        if piece:
            out.append(piece)
    return out


def _content(text: str) -> str:
    """Text without markers or a dangling partial marker."""
    return _PARTIAL_MARKER.sub("", _MARKER.sub(" ", text))


def has_words(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}|\d", _content(text)))


def render_cited(text: str, cites: Sequence[int]) -> str:
    body = re.sub(r"\s+", " ", text).strip()
    body = re.sub(r"\s+([.,;:!?])", r"\1", body)
    m = re.match(r"^(.*?)([.!?…]+[\"”’)]*)?$", body, flags=re.S)
    core, punct = (m.group(1), m.group(2) or ".") if m else (body, ".")
    marks = "".join(f"[{n}]" for n in cites)
    return f"{core.rstrip()} {marks}{punct}" if marks else f"{core.rstrip()}{punct}"


class Checker:
    """Checks each reply sentence against the passages it cites: lexical or embedding support above a
    threshold, and every number and capitalised name in the sentence present in the passage."""

    def __init__(self, sources: Sequence[Source], embed: Callable[[Sequence[str]], np.ndarray] | None,
                 lexical_min: float, cosine_min: float) -> None:
        self.sources = {s.passage.n: s for s in sources}
        self.embed = embed
        self.lexical_min = lexical_min
        self.cosine_min = cosine_min
        self._vectors: dict[str, np.ndarray] = {}
        texts = [t for s in sources for _, _, t in s.sentences]
        if embed is not None and texts:
            vectors = _unit(embed(texts))  # one batch for all passages
            at = 0
            for s in sources:
                s.vectors = vectors[at:at + len(s.sentences)] if s.sentences else None
                at += len(s.sentences)

    def support(self, sentence: str, n: int) -> tuple[float, int]:
        """(support score, best sentence index) of passage ``n`` for ``sentence``; 0.0 when unsupported."""
        src = self.sources.get(n)
        if src is None or not src.sentences:
            return 0.0, -1
        toks = set(tokenize(sentence))
        if not toks:
            return 0.0, -1
        lexical = len(toks & src.tokens) / len(toks)
        per_sentence = [len(toks & set(tokenize(t))) / len(toks) for _, _, t in src.sentences]
        cos = np.zeros(len(src.sentences))
        if self.embed is not None and src.vectors is not None:
            if sentence not in self._vectors:
                self._vectors[sentence] = _unit(self.embed([sentence]))[0]
            cos = src.vectors @ self._vectors[sentence]
        best = int(np.argmax(np.asarray(per_sentence) + cos))
        cosine = float(cos.max()) if len(cos) else 0.0
        if not self._entities_present(sentence, src):
            return 0.0, best
        if lexical >= self.lexical_min or cosine >= self.cosine_min:
            return max(lexical, cosine), best
        return 0.0, best

    @staticmethod
    def _entities_present(sentence: str, src: Source) -> bool:
        for num in _NUM.findall(sentence):
            if num.replace(",", "") not in src.lower.replace(",", ""):
                return False
        words = _CAPWORD.findall(sentence)
        first = re.match(r"\W*([A-Za-z]+)", sentence)
        for i, w in enumerate(words):
            if i == 0 and first and first.group(1) == w:
                continue  # sentence-initial capital
            if w.lower() not in src.lower:
                return False
        return True

    def check(self, sentence: str, report: CheckReport) -> Kept | None:
        """Keep the sentence with its valid, supporting markers; re-cite an uncited sentence; or drop it."""
        text = _content(sentence)
        if not has_words(sentence):
            return None
        if REFUSAL.search(text):
            report.dropped += 1
            return None
        markers = [int(x) for m in _MARKER.finditer(sentence) for x in m.group(1).split(",")]
        cites, scores, best = [], {}, {}
        for n in dict.fromkeys(markers):
            score, idx = self.support(text, n)
            if score > 0:
                cites.append(n)
                scores[n], best[n] = score, idx
            else:
                report.invalid_markers += 1
        if cites:
            report.model_cited += 1
        elif not markers:
            ranked = sorted(((self.support(text, n), n) for n in self.sources), key=lambda x: -x[0][0])
            if ranked and ranked[0][0][0] > 0:
                (score, idx), n = ranked[0]
                cites, scores, best = [n], {n: score}, {n: idx}
                report.recited += 1
        if not cites:
            report.dropped += 1
            return None
        kept = Kept(text=text, cites=cites, scores=scores, best=best)
        report.kept.append(kept)
        return kept


def _unit(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    return m / (np.linalg.norm(m, axis=1, keepdims=True) + 1e-9)


def key_span(reply: str, passage: str, prefer: str = "") -> tuple[int, int] | None:
    """Where the reply's key phrase lies in the passage: the extractive answer when both contain it, else
    the longest run of words the reply and the passage share (at least one word that is not a stopword)."""
    low = passage.lower()
    if prefer and prefer.lower() in reply.lower() and prefer.lower() in low:
        start = low.index(prefer.lower())
        return start, start + len(prefer)
    pw = [(m.group(0).lower(), m.start(), m.end()) for m in _WORDRUN.finditer(passage)]
    rw = [m.group(0).lower() for m in _WORDRUN.finditer(reply)]
    best: tuple[int, int, int] = (0, 0, 0)  # (length, start index, end index) in pw
    prev = [0] * (len(rw) + 1)
    for i in range(1, len(pw) + 1):
        cur = [0] * (len(rw) + 1)
        for j in range(1, len(rw) + 1):
            if pw[i - 1][0] == rw[j - 1]:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best[0]:
                    best = (cur[j], i - cur[j], i)
        prev = cur
    length, s, e = best
    if length == 0 or not tokenize(" ".join(w for w, _, _ in pw[s:e])):
        return None
    return pw[s][1], pw[e - 1][2]
