#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian/Ubuntu machine, then lint, type-check
# (strict mypy on backend/) and run the tests:
# the whole suite on Linux, then the Windows lane under Wine (scripts/windows-checks.sh: the
# suite under Windows Python, the real installer built, installed and driven).
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
linux=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || linux=$?
if [ "${DENTAL_IMAGES_WINDOWS_CHECKS:-run}" = skip ]; then
    exit "$linux"
fi
windows=0
bash scripts/windows-checks.sh || windows=$?
[ "$linux" -eq 0 ] || echo "The Linux suite failed (pytest exit $linux)." >&2
[ "$linux" -eq 0 ] && [ "$windows" -eq 0 ]
