"""Run the benchmarks: `python -m tests.bench [NAME ...] [-- ARGS ...]`.

With no NAME, runs them all in order; NAME is a module's name without `bench_` (storage_core,
dicom, dicom_receiver, backup, backup_set, backup_encryption, patient_restore, migration,
startup, several_pcs, search, chart_open). Each runs in its own process with its defaults
(e.g. `python -m tests.bench.bench_backup --size-gb 2`); ARGS after `--` are passed to every
NAME picked.
several_pcs needs DENTAL_IMAGES_TEST_PG_URL and is skipped with a note when it is unset (search
then measures SQLite only).
"""

from __future__ import annotations

import os
import subprocess
import sys

NAMES = (
    "storage_core",
    "dicom",
    "dicom_receiver",
    "backup",
    "backup_set",
    "backup_encryption",
    "patient_restore",
    "migration",
    "startup",
    "several_pcs",
    "search",
    "chart_open",
)
NEEDS_ENV = {"several_pcs": "DENTAL_IMAGES_TEST_PG_URL"}  # tests/postgres.py


def main(argv: list[str]) -> int:
    extra: list[str] = []
    if "--" in argv:
        argv, extra = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    picked = [name.removeprefix("bench_") for name in argv] or list(NAMES)
    unknown = [name for name in picked if name not in NAMES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; pick from {', '.join(NAMES)}")
        return 2
    failed = []
    for name in picked:
        print(f"== bench_{name}", flush=True)
        needed = NEEDS_ENV.get(name)
        if needed and not os.environ.get(needed):
            print(f"skipped: set {needed} (scripts/postgres-test-server.sh prints a URL)")
            continue
        done = subprocess.run([sys.executable, "-m", f"tests.bench.bench_{name}", *extra])
        if done.returncode:
            failed.append(name)
            print(f"bench_{name} failed (exit {done.returncode})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
