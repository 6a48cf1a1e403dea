#!/usr/bin/env bash
# Set up everything the tests need on a fresh Debian/Ubuntu machine, then lint and run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-packages.sh
scripts/setup-venv.sh window,test,build
.venv/bin/ruff check .
.venv/bin/ruff format --check .
export QTWEBENGINE_CHROMIUM_FLAGS="${QTWEBENGINE_CHROMIUM_FLAGS:---no-sandbox}"
DENTAL_IMAGES_TEST_PG_URL="$(scripts/postgres-test-server.sh)"
if ! [[ "$DENTAL_IMAGES_TEST_PG_URL" =~ ^postgresql\+psycopg://[^[:space:]]+$ ]]; then
    echo "scripts/postgres-test-server.sh did not print one database URL: $DENTAL_IMAGES_TEST_PG_URL" >&2
    exit 1
fi
export DENTAL_IMAGES_TEST_PG_URL
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
