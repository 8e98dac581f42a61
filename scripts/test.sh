#!/usr/bin/env bash
# Set up everything the tests need (venv with test tools, Debian chromium for the browser tests), then run
# the unit/integration tests and the eval suite. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
if [ "${POSTQA_SKIP_BROWSER_SETUP:-0}" != "1" ]; then
  bash scripts/install_browser.sh .venv/bin/python
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False HF_HUB_DISABLE_TELEMETRY=1
.venv/bin/ruff check src tests evals benchmarks app.py
.venv/bin/mypy src
.venv/bin/lint-imports  # import rules in pyproject.toml [tool.importlinter]: layers, gradio, interfaces on top
.venv/bin/python -m pytest tests "$@"
.venv/bin/python -m pytest evals
