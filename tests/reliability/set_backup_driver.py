"""Runs a backup into a backup set followed by its pruning (keep the newest 1) in its own
process and kills it (SIGKILL) at a chosen point, for the crash tests:
`python -m tests.reliability.set_backup_driver DATA_DIR FOLDER [POINT]`. POINT is
`<where>:<n>`, the n-th time the process passes `where`:

store     a new file has just been copied into the set's work folder
file      a new file (flushed) has just been given its name under the set's files/
written   the backup's database, summary and manifest are written in its hidden folder
publish   the checked backup folder is about to get its final name
hide      an old backup has just been renamed out of sight by the pruning
unlink    a file no remaining backup names has just been deleted by the pruning

Prints START before the work begins and DONE when it ended without being killed."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from backend.backup import set_create, set_prune
from backend.config import load_settings
from backend.startup import open_runtime

WRAPPED = {
    "store": (set_create, "_store"),
    "file": (set_create, "_publish_file"),
    "written": (set_create, "_write_backup"),
    "publish": (set_create, "publish_dir"),
    "hide": (set_prune, "rename"),
    "unlink": (set_prune, "unlink"),
}
BEFORE = ("publish",)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at(point: str) -> None:
    where, _, count = point.partition(":")
    wanted = int(count or 1)
    seen = 0
    module, name = WRAPPED[where]
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        nonlocal seen
        seen += 1
        if where in BEFORE and seen == wanted:
            die()
        result = original(*args, **kwargs)
        if seen == wanted:
            die()
        return result

    setattr(module, name, wrapper)


def main() -> int:
    data_dir, folder = sys.argv[1:3]
    if len(sys.argv) > 3:
        kill_at(sys.argv[3])
    runtime = open_runtime(load_settings(data_dir))
    print("START", flush=True)
    result = set_create.create_set_backup(runtime, Path(folder))
    set_prune.prune_set(result.path.parent.parent, 1)
    print("DONE", flush=True)
    runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
