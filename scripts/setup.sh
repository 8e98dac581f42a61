#!/usr/bin/env bash
# Set up .venv for postqa: torch (CPU build) first so nothing pulls a multi-GB CUDA torch, then the package.
# Idempotent: a second run with an unchanged pyproject.toml takes about a second.
#   bash scripts/setup.sh            runtime only
#   bash scripts/setup.sh --test     plus the test tools (pytest, gradio_client, playwright, ruff, mypy)
set -euo pipefail
cd "$(dirname "$0")/.."
extras=""
[ "${1:-}" = "--test" ] && extras="[test]"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
if ! "$VPY" -c "import torch" 2>/dev/null; then
  "$VPY" -m pip install -q --disable-pip-version-check torch==2.13.0
fi
stamp=".venv/.postqa-setup${extras}"
want="$(sha1sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! "$VPY" -c "import postqa" 2>/dev/null; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$VPY" -m pip install -q --disable-pip-version-check -e ".${extras}" 2>&1 \
    | grep -v "^WARNING: Location" || true
  "$VPY" -c "import postqa, torch; assert '+cu' not in torch.__version__, torch.__version__"
  echo "$want" > "$stamp"
fi
echo "setup: .venv ready ($("$VPY" -c 'import torch; print("torch", torch.__version__)'))"
# The ONNX export of the configured model (models/onnx/, checked against sentence-transformers on a probe
# set): `postqa ask` and `serve` then start without importing torch. Skipped in a second when it exists.
if ! HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VPY" -m postqa.index.onnx_export; then
  echo "setup: no ONNX export (see the message above); postqa serves with sentence-transformers instead"
fi
