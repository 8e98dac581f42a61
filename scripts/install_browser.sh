#!/usr/bin/env bash
# Make a headless Chromium usable for browser tests, with no tool downloading a browser.
#
# Usage: scripts/install_browser.sh [PYTHON]
#   PYTHON  interpreter of the env that gets playwright
#           (default: <repo>/.venv/bin/python if present, else python3)
#
# What it does:
#   1. Debian's chromium + chromium-driver via apt (/usr/bin/chromium, /usr/bin/chromedriver), and
#      fonts-noto-cjk so that Chinese text and CJK brackets render (not as empty boxes).
#      Skipped entirely (no apt-get update either) when all three are already installed.
#   2. `PYTHON -m pip install playwright` (skipped if playwright is importable). The
#      playwright wheel bundles its node driver but no browser. `playwright install` is
#      never run: tests must launch with executable_path="/usr/bin/chromium".
#   3. Checks it: launches /usr/bin/chromium headless via playwright.sync_api, loads a
#      data: URL, reads the <h1> text and writes a screenshot to /tmp/browser_check.png.
#
# Idempotent: a second run does no apt or pip work and only repeats the check (~2 s).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(dirname "$SCRIPT_DIR")"

if [[ -n "${1:-}" ]]; then
    PY="$1"
elif [[ -x "$REPO_ROOT/.venv/bin/python" ]]; then
    PY="$REPO_ROOT/.venv/bin/python"
else
    PY="python3"
fi

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

# Belt and braces: nothing below may fetch a browser build of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

# --- 1. Chromium from Debian -------------------------------------------------------
has_cjk_fonts() { dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed"; }
if [[ -x "$CHROMIUM" && -x "$CHROMEDRIVER" ]] && has_cjk_fonts; then
    echo "install_browser: $CHROMIUM, $CHROMEDRIVER and fonts-noto-cjk present - skipping apt"
else
    SUDO=()
    if [[ "$(id -u)" -ne 0 ]]; then
        SUDO=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
        echo "install_browser: apt-get update"
        "${SUDO[@]}" apt-get update -qq
    fi
    echo "install_browser: apt-get install chromium chromium-driver fonts-noto-cjk"
    if ! "${SUDO[@]}" apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; then
        # chromium was installed but the package lists are missing or stale: refresh once.
        "${SUDO[@]}" apt-get update -qq
        "${SUDO[@]}" apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
    fi
fi
# Debian's /usr/bin/chromium is a sh wrapper; on machines where /dev/shm is mounted twice
# its /etc/chromium.d/dev-shm check prints "[: NNN: unexpected operator". Harmless.
"$CHROMIUM" --version

# --- 2. Python playwright (driver only, no browsers) -------------------------------
if "$PY" -c "import playwright.sync_api" 2>/dev/null; then
    echo "install_browser: playwright already installed for $PY"
else
    echo "install_browser: $PY -m pip install playwright"
    "$PY" -m pip install --disable-pip-version-check --progress-bar off -q playwright
fi
"$PY" -m pip show playwright 2>/dev/null | grep -E '^Version:' | sed 's/^/install_browser: playwright /'

# --- 3. Smoke check ------------------------------------------------------------------
echo "install_browser: launching headless chromium via playwright"
"$PY" - "$CHROMIUM" <<'PYEOF'
import sys
from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=sys.argv[1], headless=True, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page()
        page.goto("data:text/html,<h1>hi</h1>")
        text = page.inner_text("h1")
        page.screenshot(path="/tmp/browser_check.png")
        print(f"install_browser: browser {browser.version}, h1={text!r}, screenshot /tmp/browser_check.png")
    finally:
        browser.close()
if text != "hi":
    sys.exit(f"unexpected h1 text {text!r}")
PYEOF
echo "install_browser: done"
