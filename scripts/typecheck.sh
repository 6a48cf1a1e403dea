#!/usr/bin/env bash
# Type-check backend/ with mypy as pyproject.toml's [tool.mypy] configures it (strict), then
# print one line: how many errors in how many files, or that the check passed.
# Arguments go to mypy (given files, it still reports the modules they import).
# Needs the test extra: scripts/setup-venv.sh window,test
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
status=0
output="$("$python" -m mypy --config-file pyproject.toml "$@" 2>&1)" || status=$?
summary="$(printf '%s\n' "$output" | tail -n 1)"
if [ "$status" -ne 0 ]; then
    printf '%s\n' "$output" | sed '$d' >&2
    echo "typecheck failed: $summary" >&2
else
    echo "typecheck passed: $summary"
fi
exit "$status"
