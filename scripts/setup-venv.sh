#!/usr/bin/env bash
# Create .venv (if missing) and install the program with the given extras, pinned in pyproject.toml.
# Usage: scripts/setup-venv.sh [extras]   e.g. "window" or "window,test"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-window}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv python3-pip
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[${extras}]"
