"""Import chromadb (and open its client) without the parts of its import that postqa's store never uses:
about 0.3 of the 0.8 CPU-seconds that ``import chromadb`` takes here, the largest single part of `postqa ask`.

- ``overrides``: chromadb marks ~160 methods ``@override``; at class creation the decorator finds the base
  classes by disassembling the defining module's bytecode (once per method) and checks that the signatures
  are compatible (``inspect.signature`` and type hints of both). While chromadb is imported through
  ``lean_chromadb``, the base classes are found by the same function once per class statement and the
  signature check is skipped. Everything the decorator *does* stays: it marks the method ``__override__``
  (which ``EnforceOverrides`` checks), copies the base method's docstring when the method has none, and
  raises when no base class has the method or the base method is final. The signature check only raises or
  passes, and on this chromadb it passes: ``import chromadb`` with the real decorator succeeds (the tests
  compare both ways).
- the OTLP trace exporter (``opentelemetry.exporter.otlp.proto.grpc``, which imports grpc and protobuf):
  chromadb's telemetry imports the exporter class at import time and constructs it only when an OTel
  collection endpoint is configured. While chromadb is imported, that one name is a stand-in that imports
  the real exporter module when it is first called (and returns the real exporter); the real module is what
  any later import gets. The same for ``httpx.main``, httpx's command line (it imports click, rich and
  pygments), which ``httpx/__init__`` imports and nothing here runs.

Nothing is changed when chromadb is already imported, and nothing outside the window: the hooks are
installed for the duration of the import (and client creation) only, and are a no-op when the names they
patch are not there (another version of ``overrides`` or chromadb).
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import CodeType, FrameType, ModuleType
from typing import Any

_LOCK = threading.RLock()
# modules imported for one name each that chromadb's import never calls: the OTLP exporter class, and the
# command line of httpx (click, rich, pygments), which ``httpx/__init__`` imports as ``httpx.main``
_STAND_INS = {"opentelemetry.exporter.otlp.proto.grpc.trace_exporter": ("OTLPSpanExporter",),
              "httpx._main": ("main",)}
_OVERRIDES_PRIVATE = ("_get_base_class_names", "_get_base_class", "_validate_method")


class _Overrides:
    """``overrides.override`` with the base classes found once per class statement and no signature check
    (see the module docstring). Holds the real module's private helpers it reuses."""

    def __init__(self, impl: ModuleType) -> None:
        self.impl = impl
        self.names: dict[tuple[CodeType, int], list[list[str]]] = {}

    def base_classes(self, frame: FrameType, namespace: dict[str, Any]) -> list[Any]:
        key = (frame.f_code, frame.f_lasti)
        if key not in self.names:
            self.names[key] = self.impl._get_base_class_names(frame)
        return [self.impl._get_base_class(components, namespace) for components in self.names[key]]

    def override(self, method: Any = None, *, check_signature: bool = True, check_at_runtime: bool = False) -> Any:
        if method is None:
            return functools.partial(self.override, check_signature=check_signature,
                                     check_at_runtime=check_at_runtime)
        # 0: here, 1: the class body, 2: the frame running the `class` statement (the real one's frame 3)
        return self.apply(method, sys._getframe(2), check_signature, check_at_runtime)

    def apply(self, method: Any, frame: FrameType, check_signature: bool, check_at_runtime: bool) -> Any:
        """The real ``overrides._overrides`` body, without ``ensure_signature_is_compatible`` at definition."""
        method.__override__ = True
        global_vars = getattr(method, "__globals__", None)
        if global_vars is None:
            global_vars = vars(sys.modules[method.__module__])
        for super_class in self.base_classes(frame, global_vars):
            if hasattr(super_class, method.__name__):
                if check_at_runtime:  # the real checks, at call time, exactly as the real decorator does
                    return _checked_at_runtime(self.impl._validate_method, method, super_class, check_signature)
                super_method = getattr(super_class, method.__name__)
                if getattr(super_method, "__final__", False):
                    raise TypeError(f"{method.__name__}: is finalized in {super_class}")
                if not method.__doc__:
                    method.__doc__ = super_method.__doc__
                return method
        raise TypeError(f"{method.__qualname__}: No super class method found")


def _checked_at_runtime(validate: Callable[..., None], method: Any, super_class: Any, check_signature: bool) -> Any:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        validate(method, super_class, check_signature)
        return method(*args, **kwargs)

    return wrapper


@contextmanager
def _light_overrides() -> Iterator[None]:
    try:
        package = importlib.import_module("overrides")
        impl = importlib.import_module("overrides.overrides")
    except ImportError:
        yield
        return
    names = [n for n in ("override", "overrides") if callable(getattr(package, n, None))]
    if not names or not all(callable(getattr(impl, n, None)) for n in _OVERRIDES_PRIVATE):
        yield
        return
    saved = {n: getattr(package, n) for n in names}
    light = _Overrides(impl).override
    for n in names:
        setattr(package, n, light)
    try:
        yield
    finally:
        for n, real in saved.items():
            setattr(package, n, real)


class _Deferred:
    """Stands for a class or function of a module not imported yet: calling it imports the module and calls
    the real one."""

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name = module, name
        self.__name__ = self.__qualname__ = name

    def real(self) -> Any:
        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.real()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<deferred {self._module}.{self._name}>"


class _StandInModule(ModuleType):
    """``from <module> import <name>`` gives a ``_Deferred`` for the names it stands for; any other
    attribute imports the real module (and replaces the stand-in in ``sys.modules``)."""

    def __init__(self, name: str, deferred: Sequence[str]) -> None:
        super().__init__(name)
        self._postqa_names = tuple(deferred)

    def __getattr__(self, attr: str) -> Any:
        if attr in self._postqa_names:
            return _Deferred(self.__name__, attr)
        if attr.startswith("__"):
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


@contextmanager
def _stand_ins() -> Iterator[None]:
    placed = {}
    for name, names in _STAND_INS.items():
        top = name.split(".")[0]
        if top not in sys.modules and name not in sys.modules and importlib.util.find_spec(top) is not None:
            placed[name] = sys.modules[name] = _StandInModule(name, names)
    try:
        yield
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:
                del sys.modules[name]  # a later import gets the real module


@contextmanager
def lean_chromadb() -> Iterator[None]:
    """While active, chromadb's modules are imported the lean way (see the module docstring). Wrap both
    ``import chromadb`` and the client's creation (which imports more of chromadb)."""
    with _LOCK, _light_overrides(), _stand_ins():
        yield


def import_chromadb() -> Any:
    """The chromadb module, imported the lean way if it is not imported yet."""
    if "chromadb" in sys.modules:
        import chromadb

        return chromadb
    with lean_chromadb():
        import chromadb

        return chromadb


def open_client(make: Callable[[Any], Any]) -> Any:
    """``make(chromadb)`` (a client), with chromadb imported and the client created the lean way. Only for a
    ``make`` that cannot hang (the window holds a lock): a server client is made after ``import_chromadb``."""
    with lean_chromadb():
        import chromadb

        return make(chromadb)
