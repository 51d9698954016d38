#!/usr/bin/env bash
# Installs what the browser tests (tests/browser) need: Debian's chromium when missing, and the
# `playwright` Python package in the venv when missing (it is in the `test` extras; this covers a
# venv made before). Playwright drives /usr/bin/chromium (executable_path); its own browser
# download (`playwright install`) is never used. Idempotent; quiet when all is there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
chromium=${SPACE_DEV_CHROMIUM:-/usr/bin/chromium}
if [[ ! -x $chromium ]]; then
    echo "browser.sh: installing Debian's chromium" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi
py=${SPACE_DEV_PYTHON:-$repo/.venv/bin/python}
if [[ -x $py ]] && ! "$py" -c 'import playwright' 2>/dev/null; then
    echo "browser.sh: installing the playwright package" >&2
    "$py" -m pip install -q playwright
fi
exit 0
