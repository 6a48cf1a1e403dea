#!/usr/bin/env bash
# Set up (first time) and start Dental Images. Arguments go to the program, e.g. `serve --port 8080`.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v dpkg >/dev/null 2>&1 && { [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; }; then
    scripts/system-packages.sh window  # Qt's libraries for the window (asks for sudo if missing)
fi
scripts/setup-venv.sh window
export QTWEBENGINE_CHROMIUM_FLAGS="${QTWEBENGINE_CHROMIUM_FLAGS:---no-sandbox}"
exec .venv/bin/dental-images "$@"
