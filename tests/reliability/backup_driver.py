"""Runs a backup or a restore in its own process and kills it (SIGKILL) at a chosen point, for
the crash tests: `python -m tests.reliability.backup_driver backup|restore DATA_DIR TARGET
[POINT]`. POINT is `<where>:<n>`, the n-th time the process passes `where`:

file      a file written into an archive (during a restore: the safety backup's)
verify    a written archive about to be verified
publish   a verified archive about to get its final name
extract   an entry of the backup being unpacked next to the live data
phase-X   the restore journal has just recorded phase X (swapping, swapped, committed)
rename    a live item has just been set aside or swapped in (or back)
cleanup   a leftover of a finished restore has just been deleted

Prints START before the work begins and DONE when it ended without being killed."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from backend.backup import create, journal, staging
from backend.backup.restore import restore_backup
from backend.config import load_settings
from backend.startup import open_runtime

WRAPPED = {
    "file": (create, "_add_file"),
    "verify": (create, "verify_archive"),
    "publish": (create, "publish_new"),
    "extract": (staging, "extract_member"),
    "rename": (journal, "_rename"),
    "cleanup": (journal, "remove_path"),
}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(point: str) -> None:
    where, _, count = point.partition(":")
    wanted = int(count or 1)
    seen = 0
    if where.startswith("phase-"):
        phase = where.removeprefix("phase-")
        original_enter = journal.RestoreJournal.enter

        def enter(self, settings, entered):
            nonlocal seen
            original_enter(self, settings, entered)
            if entered == phase:
                seen += 1
                if seen == wanted:
                    die()

        journal.RestoreJournal.enter = enter
        return
    module, name = WRAPPED[where]
    original = getattr(module, name)
    before = where in ("verify", "publish")

    def wrapper(*args, **kwargs):
        nonlocal seen
        seen += 1
        if before and seen == wanted:
            die()
        result = original(*args, **kwargs)
        if seen == wanted:
            die()
        return result

    setattr(module, name, wrapper)


def main() -> int:
    mode, data_dir, target = sys.argv[1:4]
    if len(sys.argv) > 4:
        kill_at(sys.argv[4])
    runtime = open_runtime(load_settings(data_dir))
    print("START", flush=True)
    if mode == "backup":
        create.create_backup(runtime, Path(target))
    else:
        restore_backup(runtime, Path(target))
    print("DONE", flush=True)
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
