"""The lean imports of start-up (interfaces.web.lean_import for gradio, nlp.lean_import for spaCy's command
line): each runs in a fresh interpreter, since what it changes is how a module is first imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from tests.conftest import ROOT


def _run(code: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def test_spacy_imports_without_its_command_line_and_the_command_line_still_works() -> None:
    got = _run(
        "import json, sys\n"
        "from postqa.nlp.pipeline import Analyser, import_spacy\n"
        "spacy = import_spacy()\n"
        "before = [m for m in ('typer', 'weasel', 'spacy.cli.download') if m in sys.modules]\n"
        "a = Analyser().analyse('Zhang Yongping presided over the meeting in Beijing.')\n"
        "ents = [a.span_text(e) + '/' + e.label for e in a.ents]\n"
        "from spacy.cli import download\n"   # the deferred package runs its real __init__ now
        "info_mod = __import__('importlib').import_module('spacy.cli.info')\n"
        "print(json.dumps({'before': before, 'ents': ents, 'download': callable(download),\n"
        "                  'info': callable(spacy.info), 'cli': spacy.cli is sys.modules['spacy.cli'],\n"
        "                  'typer': 'typer' in sys.modules, 'info_real': hasattr(info_mod, 'info_cli')}))\n")
    assert got["before"] == [], got
    assert "Zhang Yongping/PERSON" in got["ents"] and "Beijing/GPE" in got["ents"]
    assert got["download"] and got["info"] and got["cli"] and got["typer"] and got["info_real"], got


def test_gradio_imports_lean_with_the_same_docs_and_leaves_no_hook() -> None:
    got = _run(
        "import json, sys\n"
        "from postqa.interfaces.web.lean_import import import_gradio, _GradioFinder\n"
        "gr = import_gradio()\n"
        "doc = gr.Textbox.submit.__doc__ or ''\n"
        "with gr.Blocks() as demo:\n"
        "    box = gr.Textbox()\n"
        "    box.submit(lambda s: s, box, box)\n"
        "print(json.dumps({'hook_left': any(isinstance(f, _GradioFinder) for f in sys.meta_path),\n"
        "                  'templated': '{{' in doc, 'named': 'Textbox' in doc, 'env': __import__('os').environ\n"
        "                  .get('GRADIO_ANALYTICS_ENABLED'), 'again': import_gradio() is gr}))\n")
    assert got == {"hook_left": False, "templated": False, "named": True, "env": "False", "again": True}


_CHROMA_SURVEY = (
    "import json, sys, tempfile\n"
    "def make(chromadb):\n"
    "    return chromadb.PersistentClient(path=tempfile.mkdtemp(), settings=chromadb.config.Settings(\n"
    "        anonymized_telemetry=False, allow_reset=False))\n"
    "if LEAN:\n"
    "    from postqa.index.lean_chroma import open_client\n"
    "    client = open_client(make)\n"
    "else:\n"
    "    import chromadb\n"
    "    client = make(chromadb)\n"
    "col = client.get_or_create_collection('probe', embedding_function=None,\n"
    "                                      configuration={'hnsw': {'space': 'cosine'}})\n"
    "col.add(ids=['a', 'b'], embeddings=[[1.0, 0.0], [0.0, 1.0]], documents=['x', 'y'])\n"
    "hits = col.query(query_embeddings=[[0.9, 0.1]], n_results=2)['ids']\n"
    "methods = {}\n"
    "for name, mod in list(sys.modules.items()):\n"
    "    if not name.startswith('chromadb') or mod is None:\n"
    "        continue\n"
    "    for cls in [v for v in vars(mod).values() if isinstance(v, type) and v.__module__ == name]:\n"
    "        for attr, f in vars(cls).items():\n"
    "            f = getattr(f, '__func__', None) or getattr(f, 'fget', None) or f\n"
    "            if callable(f):\n"
    "                methods[f'{name}.{cls.__qualname__}.{attr}'] = [f.__doc__, bool(getattr(f, '__override__', 0))]\n"
    "exporter = None\n"
    "if LEAN:\n"
    "    from chromadb.telemetry import opentelemetry as tel\n"
    "    loaded_before = 'grpc' in sys.modules\n"
    "    made = tel.OTLPSpanExporter(endpoint='http://127.0.0.1:9')\n"
    "    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter\n"
    "    cli = [m in sys.modules for m in ('click', 'rich', 'pygments')]\n"
    "    import httpx, httpx._main\n"
    "    exporter = [loaded_before, type(made) is OTLPSpanExporter, isinstance(OTLPSpanExporter, type), cli,\n"
    "                callable(httpx.main), 'click' in sys.modules]\n"
    "print(json.dumps({'hits': hits, 'methods': methods, 'exporter': exporter,\n"
    "                  'overrides': sum(v[1] for v in methods.values())}))\n")


def test_chromadb_imports_lean_with_the_same_classes_and_a_working_store() -> None:
    real = _run("LEAN = False\n" + _CHROMA_SURVEY)
    lean = _run("LEAN = True\n" + _CHROMA_SURVEY)
    assert lean["hits"] == real["hits"] == [["a", "b"]]
    assert real["overrides"] > 100  # chromadb's @override methods, each still marked (EnforceOverrides needs it)
    assert lean["methods"] == real["methods"]  # docstrings copied from the base methods as the real decorator does
    # the OTLP exporter (grpc) and httpx's command line (click, rich) were not imported; the stand-ins make the
    # real ones when called, and a later import gets the real modules
    assert lean["exporter"] == [False, True, True, [False, False, False], True, True]


_CLASSES = '''
from typing import final

class Base:
    def run(self, x: int) -> int:
        "Base doc."
        return x

    @final
    def stop(self) -> None:
        return None

Base.stop.__final__ = True  # what overrides' own @final marks

class Child(Base):
    @override
    def run(self, x: int) -> int:
        return x + 1

    @override(check_signature=False)
    def __repr__(self) -> str:
        return "Child"
'''
_ORPHAN = "class Orphan(Base):\n    @override\n    def walk(self) -> None:\n        return None\n"
_FINAL = "class Opened(Base):\n    @override\n    def stop(self) -> None:\n        return None\n"


def _define(override: object, extra: str = "") -> dict[str, object]:
    """The classes above defined with ``override`` (module-level class statements, as the decorator needs)."""
    namespace: dict[str, object] = {"override": override, "__name__": "probe_classes"}
    exec(compile(_CLASSES + extra, "<classes>", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_light_override_keeps_the_decorators_errors_and_docstrings() -> None:
    import importlib

    import pytest

    from postqa.index.lean_chroma import _Overrides

    real = importlib.import_module("overrides").override
    for override in (real, _Overrides(importlib.import_module("overrides.overrides")).override):
        child: Any = _define(override)["Child"]
        assert repr(child()) == "Child" and child().run(1) == 2
        assert child.run.__doc__ == "Base doc." and child.run.__override__
        with pytest.raises(TypeError, match="No super class method found"):
            _define(override, _ORPHAN)
        with pytest.raises(TypeError, match="is finalized"):
            _define(override, _FINAL)
