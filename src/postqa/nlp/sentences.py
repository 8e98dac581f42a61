"""Sentence boundaries from spaCy alone (its statistical sentence recogniser), for chunking and for new text."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from postqa.nlp.pipeline import DEFAULT_MODEL, LazyPipeline, PerModel, import_spacy, load_pipeline

# The first of these that the pipeline has sets the boundaries: ``senter`` (en_core_web_sm's own small
# statistical recogniser, disabled there by default, ~40x cheaper than the full pipeline), else the
# dependency parser; a pipeline with neither gets spaCy's rule-based ``sentencizer``.
SENTENCE_PIPES = ("senter", "parser")
# Pipes another pipe may listen to (a parser's shared tok2vec): kept when that pipe is the one used.
_FEATURE_PIPES = ("tok2vec", "transformer", "curated_transformer")
NEWLINES = "postqa_newline_boundaries"

Offsets = list[tuple[int, int]]


def _newline_boundaries(doc: Any) -> Any:
    """A line break ends a sentence (a list item, a heading, a paragraph): the token after a whitespace
    token holding a newline starts one. Set before the recogniser, which keeps boundaries already set."""
    for tok in doc[:-1]:
        if tok.is_space and "\n" in tok.text:
            doc[tok.i + 1].is_sent_start = True
    return doc


def _sentence_pipes(pipes: list[str]) -> set[str]:
    """The pipes to load: the first of SENTENCE_PIPES the pipeline has (with the feature pipes a parser
    listens to); none when it has neither (the sentencizer is added then)."""
    use = next((p for p in SENTENCE_PIPES if p in pipes), "")
    return {use} if use == "senter" else {use, *_FEATURE_PIPES}


def _register(spacy: Any) -> None:
    from spacy.language import Language

    if not Language.has_factory(NEWLINES):
        Language.component(NEWLINES, func=_newline_boundaries)


class SentenceSplitter(LazyPipeline):
    """Text -> sentence offsets ``(start, end)`` into that text (surrounding whitespace left out), with the
    sentence recogniser of one spaCy pipeline loaded alone. Thread-safe; it loads on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 64) -> None:
        super().__init__(model, batch_size)
        self.component = ""

    def _load(self) -> Any:
        _register(import_spacy())
        nlp = load_pipeline(self.model, _sentence_pipes)
        for name in list(nlp.disabled):  # only the kept pipes were loaded: a disabled one is ours (senter)
            nlp.enable_pipe(name)
        use = next((p for p in SENTENCE_PIPES if p in nlp.pipe_names), "")
        if not use:
            use = "sentencizer"
            nlp.add_pipe("sentencizer")
        nlp.add_pipe(NEWLINES, before=use)
        self.component = use
        return nlp

    def split(self, text: str) -> Offsets:
        return self.split_many([text])[0]

    def split_many(self, texts: Sequence[str]) -> list[Offsets]:
        """The sentences of each text, in order; a text of only whitespace has none."""
        nlp = self.nlp
        limit = int(nlp.max_length)
        pieces: list[tuple[int, int, str]] = []  # (text index, offset of the piece, piece)
        for i, text in enumerate(texts):
            pieces.extend((i, off, piece) for off, piece in _windows(text, limit))
        out: list[Offsets] = [[] for _ in texts]
        with self._lock:  # spaCy's pipe is not documented thread-safe: one batch at a time
            docs = nlp.pipe([p for _, _, p in pieces], batch_size=self.batch_size)
            for (i, off, piece), doc in zip(pieces, docs, strict=True):
                out[i].extend((off + a, off + b) for a, b in _offsets(piece, doc))
        return out


def _offsets(text: str, doc: Any) -> Iterator[tuple[int, int]]:
    for sent in doc.sents:
        a, b = sent.start_char, sent.end_char
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            yield a, b


def _windows(text: str, limit: int) -> Iterator[tuple[int, str]]:
    """``text`` in pieces of at most ``limit`` characters (spaCy refuses longer texts), cut after a line break
    (a sentence boundary anyway) or else at a space; each with its offset in ``text``."""
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = text.rfind("\n", start + 1, end)
        if cut < 0:
            cut = text.rfind(" ", start + 1, end)
        cut = end if cut < 0 else cut + 1
        yield start, text[start:cut]
        start = cut
    if start < len(text) or not text:
        yield start, text[start:]


_SPLITTERS: PerModel[SentenceSplitter] = PerModel(SentenceSplitter)


def shared_splitter(model: str = DEFAULT_MODEL) -> SentenceSplitter:
    """One SentenceSplitter per pipeline name in the process (ingests, generators and tests share it)."""
    return _SPLITTERS.get(model)
