#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian/Ubuntu machine, then lint, type-check
# (strict mypy on backend/) and run the tests:
# the whole suite on Linux and, beside it, the Windows lane under Wine (scripts/windows-checks.sh:
# the suite under Windows Python, the real installer built, installed and driven).
# Arguments go to the Linux pytest run; DENTAL_IMAGES_WINDOWS_CHECKS=skip leaves the lane out.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
scripts/setup-venv.sh window,test,build
.venv/bin/ruff check .
.venv/bin/ruff format --check .
PYTHON=.venv/bin/python scripts/typecheck.sh
export QTWEBENGINE_CHROMIUM_FLAGS="${QTWEBENGINE_CHROMIUM_FLAGS:---no-sandbox}"
DENTAL_IMAGES_TEST_PG_URL="$(scripts/postgres-test-server.sh)"
if ! [[ "$DENTAL_IMAGES_TEST_PG_URL" =~ ^postgresql\+psycopg://[^[:space:]]+$ ]]; then
    echo "scripts/postgres-test-server.sh did not print one database URL: $DENTAL_IMAGES_TEST_PG_URL" >&2
    exit 1
fi
export DENTAL_IMAGES_TEST_PG_URL
# The Windows lane runs beside the Linux suite: each is mostly one busy process, and the
# machine has two cores. Its output is kept in a log and printed when both have ended.
windows_log="$(mktemp "${TMPDIR:-/tmp}/dental-images-windows-lane.XXXXXX")"
windows_pid=""
if [ "${DENTAL_IMAGES_WINDOWS_CHECKS:-run}" != skip ]; then
    bash scripts/windows-checks.sh > "$windows_log" 2>&1 &
    windows_pid=$!
fi
linux=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || linux=$?
windows=0
if [ -n "$windows_pid" ]; then
    wait "$windows_pid" || windows=$?
    cat "$windows_log"
fi
[ "$linux" -eq 0 ] || echo "The Linux suite failed (pytest exit $linux)." >&2
[ "$linux" -eq 0 ] && [ "$windows" -eq 0 ]
