"""spaCy's command-line package, deferred: ``import spacy`` runs ``from .cli.info import info``, which imports
the whole of ``spacy.cli`` (typer, click, weasel, requests, the training and project commands): about 0.3
CPU-seconds of the 0.9 that importing spaCy costs here, for a command line postqa never runs.

``cli_deferred()`` puts two stand-ins into ``sys.modules`` while spaCy is imported: ``spacy.cli``, a package
with spaCy's own ``__path__`` whose ``__init__`` runs on the first attribute asked of it, and
``spacy.cli.info``, whose ``info`` loads the real one on first call. Submodules (``import spacy.cli.download``)
load from the real folder as usual. Everything of spaCy that parses text is untouched.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()


class _DeferredCli(ModuleType):
    """``spacy.cli`` whose ``__init__`` has not run yet; it runs on the first attribute not already set."""

    def __init__(self, folder: Path) -> None:
        super().__init__("spacy.cli")
        self.__path__ = [str(folder)]
        self.__file__ = str(folder / "__init__.py")
        self.__package__ = "spacy.cli"
        self.__spec__ = importlib.machinery.ModuleSpec("spacy.cli", None, origin=self.__file__, is_package=True)
        self.__spec__.submodule_search_locations = [str(folder)]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        load_real_cli()
        if name in self.__dict__:
            return self.__dict__[name]
        raise AttributeError(f"module 'spacy.cli' has no attribute {name!r}")


def load_real_cli() -> ModuleType:
    """Run spaCy's real ``spacy/cli/__init__.py`` into the deferred package (once) and return it."""
    with _LOCK:
        cli = sys.modules.get("spacy.cli")
        if not isinstance(cli, _DeferredCli) or cli.__dict__.get("_postqa_loaded"):
            return cli if cli is not None else importlib.import_module("spacy.cli")
        cli.__dict__["_postqa_loaded"] = True
        stand_in = sys.modules.get("spacy.cli.info")
        if stand_in is not None and getattr(stand_in, "_postqa_stand_in", False):
            del sys.modules["spacy.cli.info"]
            cli.__dict__.pop("info", None)
        init = Path(cli.__file__ or "")
        exec(compile(init.read_text(encoding="utf-8"), str(init), "exec"), cli.__dict__)  # noqa: S102
        return cli


def _info(*args: Any, **kwargs: Any) -> Any:
    """spacy.info: loads spaCy's command-line package, then calls the real ``spacy.cli.info.info``."""
    load_real_cli()
    return sys.modules["spacy.cli.info"].info(*args, **kwargs)


def _spacy_folder() -> Path | None:
    spec = importlib.util.find_spec("spacy")  # finds without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "cli"
    return folder if (folder / "__init__.py").is_file() else None


@contextmanager
def cli_deferred() -> Iterator[None]:
    """While this is active, ``import spacy`` does not import ``spacy.cli`` (see the module docstring)."""
    folder = None if "spacy" in sys.modules or "spacy.cli" in sys.modules else _spacy_folder()
    if folder is None:
        yield
        return
    cli = _DeferredCli(folder)
    info = ModuleType("spacy.cli.info")
    info.info = _info  # type: ignore[attr-defined]
    info._postqa_stand_in = True  # type: ignore[attr-defined]
    cli.__dict__["info"] = info
    sys.modules["spacy.cli"], sys.modules["spacy.cli.info"] = cli, info
    try:
        yield
    finally:
        spacy = sys.modules.get("spacy")
        if spacy is None:  # the import failed: leave no stand-ins behind
            sys.modules.pop("spacy.cli", None)
            sys.modules.pop("spacy.cli.info", None)
        elif "cli" not in spacy.__dict__:
            spacy.cli = cli  # type: ignore[attr-defined]  # as a real import of the subpackage would
