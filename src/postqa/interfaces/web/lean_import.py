"""Import gradio without the work its import does for its own developers (about 1.2 CPU-seconds of the 3 that
`import gradio` costs here, the largest single part of `postqa serve`'s start-up).

At import, gradio 6 runs, for every component class it defines (~60 of them): ``create_or_modify_pyi``,
which reads the class's source file, parses the whole module with ``ast`` and renders a Jinja template to
keep the ``.pyi`` stub beside it up to date (a development aid: the stubs ship in the wheel and the write
into site-packages is attempted and its failure ignored); and ``EventListener.set_doc``, which compiles the
same Jinja docstring template anew for each event of each class. While gradio is imported through
``import_gradio``, the first is skipped and the second compiles each distinct template once (the rendered
docstrings are the same). Nothing else of gradio is changed, and nothing at all once it is imported: the
hook is installed for the duration of the import only and is a no-op when those names are not there
(another gradio version).
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

_PATCHED = ("gradio.component_meta", "gradio.events")


def prepare_environment() -> None:
    """No analytics, telemetry or hub look-ups: set before gradio is imported."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _skip_pyi(*_args: Any, **_kwargs: Any) -> None:
    return None


def _patch(module: ModuleType) -> None:
    if module.__name__ == "gradio.component_meta" and callable(getattr(module, "create_or_modify_pyi", None)):
        module.create_or_modify_pyi = _skip_pyi  # type: ignore[attr-defined]
    listener = getattr(module, "EventListener", None)
    if module.__name__ == "gradio.events" and callable(getattr(listener, "set_doc", None)):
        from jinja2 import Template

        template = functools.lru_cache(maxsize=256)(Template)

        def set_doc(self: Any, component: str) -> None:  # gradio's own body, with the template compiled once
            if self.listener.__doc__:
                self.listener.__doc__ = template(self.listener.__doc__).render(component=component)

        listener.set_doc = set_doc  # type: ignore[union-attr]


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        _patch(module)


class _GradioFinder(importlib.abc.MetaPathFinder):
    """Finds the two gradio modules with the other finders and patches them right after they execute."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name not in _PATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def import_gradio() -> Any:
    """The gradio module, imported the lean way on first call (see the module docstring)."""
    prepare_environment()
    if "gradio" not in sys.modules:
        finder = _GradioFinder()
        sys.meta_path.insert(0, finder)
        try:
            import gradio
        finally:
            sys.meta_path.remove(finder)
    import gradio

    return gradio
