"""Runs the migration of one data folder in its own process, for the kill tests:
`python -m tests.reliability.migration_driver DATA_DIR [BATCH]`. Prints START when the
migration begins and DONE <exit code> when it ends."""

from __future__ import annotations

import sys

from backend.config import load_settings
from backend.migration import importer
from backend.migration.runner import run_migration
from backend.startup import open_runtime


def main() -> int:
    importer.BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 3  # many commits: many kill points
    runtime = open_runtime(load_settings(sys.argv[1]))
    print("START", flush=True)
    report = run_migration(runtime)
    print("DONE", report.exit_code, flush=True)
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
