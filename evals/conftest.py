"""`pytest evals`: one eval run per session over corpus/ in a private store, its report, and the regressions.

Choose the embedding model with ``--embedding-model NAME_OR_PATH`` or ``POSTQA_EVAL_MODEL``; reports go to
evals/reports/ (or ``POSTQA_EVAL_REPORTS``). The run is shared by every test in evals/test_quality.py.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"

_RESULT: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("postqa evals")
    group.addoption(
        "--embedding-model",
        action="store",
        default=None,
        metavar="NAME_OR_PATH",
        help="embedding model to evaluate (default: $POSTQA_EVAL_MODEL, else the configured one)",
    )
    group.addoption(
        "--eval-reports",
        action="store",
        default=None,
        metavar="DIR",
        help="where to write the report (default: $POSTQA_EVAL_REPORTS, else evals/reports)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "external: needs ../shared/data (skipped when absent)")


def eval_model(config: pytest.Config) -> str | None:
    return config.getoption("--embedding-model") or os.environ.get("POSTQA_EVAL_MODEL") or None


def reports_dir(config: pytest.Config) -> Path:
    raw = config.getoption("--eval-reports") or os.environ.get("POSTQA_EVAL_REPORTS")
    return Path(raw) if raw else ROOT / "evals" / "reports"


@pytest.fixture(scope="session")
def base_settings():  # type: ignore[no-untyped-def]
    """The defaults of postqa.toml with no POSTQA_* variables from the caller's shell."""
    from postqa.core.config import load_settings

    return load_settings(ROOT / "postqa.toml", environ={})


@pytest.fixture(scope="session")
def eval_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, base_settings):  # type: ignore[no-untyped-def]
    """Ingest corpus/ into a temporary store (never the repository's vectorstore/), ask every case once,
    write evals/reports/<timestamp>-<model>.json and .md."""
    from postqa.core.errors import ModelNotAvailableError
    from postqa.interfaces.evaluation import eval_settings, evaluate, load_cases, write_report

    model = eval_model(request.config)
    settings = eval_settings(
        base_settings, tmp_path_factory.mktemp("eval") / "vectorstore", model, corpus=CORPUS
    )
    try:
        run = evaluate(settings, load_cases())
    except ModelNotAvailableError as err:
        if model:  # another model was asked for and is not installed here
            pytest.skip(f"embedding model {model!r} is not available: {err}")
        raise
    out = reports_dir(request.config)
    json_path, md_path = write_report(run, out)
    _RESULT.update(run=run, json=json_path, md=md_path, out=out)
    return run


@pytest.fixture(scope="session")
def eval_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The model asked for (None: the configured one) and the report folder."""
    return {"model": eval_model(request.config), "reports": reports_dir(request.config)}


@pytest.fixture(scope="session")
def eval_report(eval_run: dict[str, Any]) -> dict[str, Any]:
    """Where the session's report was written: {"json": Path, "md": Path, "out": Path}."""
    return {k: v for k, v in _RESULT.items() if k != "run"}


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """After the tests: where the report is, the headline figures, and the regressions."""
    if "run" not in _RESULT:
        return
    from postqa.interfaces.evaluation import print_summary, report_regressions

    tr = terminalreporter
    tr.section("postqa eval")
    run = _RESULT["run"]

    class _Writer:
        def write(self, text: str) -> None:
            tr.write(text)

        def flush(self) -> None:
            pass

    w = _Writer()
    print_summary(run, file=w)
    tr.write_line(f"report: {_RESULT['json']} and {Path(_RESULT['md']).name}")
    report_regressions(run, _RESULT["out"], _RESULT["json"], file=w)
    sys.stdout.flush()
