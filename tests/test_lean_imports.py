"""The lean imports of start-up (interfaces.web.lean_import for gradio, nlp.lean_import for spaCy's command
line): each runs in a fresh interpreter, since what it changes is how a module is first imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
