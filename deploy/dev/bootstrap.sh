#!/usr/bin/env bash
# What a fresh Debian 12 machine lacks before the bridge's virtualenv can be built:
# Python's venv module and pip (Debian ships them as separate packages). Safe to run again.
set -euo pipefail
python=${PYTHON:-python3}
if "$python" -c 'import ensurepip, venv' 2>/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "bootstrap.sh: Python's venv module is missing; run: sudo apt-get install python3-venv" >&2
  exit 1
fi
echo "bootstrap.sh: installing python3-venv (Debian package)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-pip >/dev/null
