#!/usr/bin/env bash
# Start Debian's PostgreSQL on 127.0.0.1 (if it is not running) and make sure the test role and
# template database exist. Prints the database URL the tests use.
set -euo pipefail
# Callers capture stdout as the URL, so every other message (pg_ctlcluster says things such as
# "Removed stale pid file.") goes to stderr.
exec 3>&1 1>&2
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_postgres() { as_root su postgres -s /bin/sh -c "$1"; }

version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
    as_root pg_createcluster "$version" main >/dev/null 3>&-
fi
if ! pg_lsclusters -h | awk '$1=="'"$version"'" && $2=="main" {print $4}' | grep -q online; then
    as_root pg_ctlcluster "$version" main start 3>&-  # the server must not hold the URL pipe open
fi
port=$(pg_lsclusters -h | awk '$1=="'"$version"'" && $2=="main" {print $3}')
as_postgres "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='dental_test'\"" | grep -q 1 ||
    as_postgres "psql -p $port -qc \"CREATE ROLE dental_test LOGIN CREATEDB PASSWORD 'dental_test'\""
echo "postgresql+psycopg://dental_test:dental_test@127.0.0.1:$port/postgres" >&3
