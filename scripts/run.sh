#!/usr/bin/env bash
# Set up (first time) and start Dental Images. Arguments go to the program, e.g. `serve --port 8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh window
export QTWEBENGINE_CHROMIUM_FLAGS="${QTWEBENGINE_CHROMIUM_FLAGS:---no-sandbox}"
exec .venv/bin/dental-images "$@"
