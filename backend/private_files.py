"""Keeping the data folder private to the account that runs the program.

On POSIX the process runs with umask 077 (set at start, `restrict_umask`), so every folder and
file it creates (database, its WAL, logs, backups, config.json, uploads) is 0700/0600, and
`make_private` tightens what an earlier version left readable to others: the data folder and
its fixed sub-folders 0700, the database files, config.json and the logs 0600. On Windows the
per-user app-data folder already admits only its owner (and administrators); nothing here calls
chmod there, so nothing can widen it. A shared images folder (several PCs) is never touched:
who may read it is the share's business."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def is_posix() -> bool:
    return os.name == "posix"


def restrict_umask() -> None:
    """From now on this process creates files 0600 and folders 0700 (POSIX only)."""
    if is_posix():
        os.umask(PRIVATE_UMASK)


def restrict(path: Path, mode: int = FILE_MODE) -> None:
    """Take group and other access away from `path` if it exists (POSIX only; a failure, such
    as a file of another owner, is logged and left)."""
    if not is_posix():
        return
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except FileNotFoundError:
        return
    except OSError as exc:
        log.warning("cannot make %s private: %s", path, exc)


def make_private(data_dir: Path, folders: list[Path], files: list[Path]) -> None:
    """`data_dir` and `folders` 0700, `files` (and SQLite's companions of a `.db`) 0600."""
    for folder in (data_dir, *folders):
        restrict(folder, FOLDER_MODE)
    for file in files:
        for suffix in SQLITE_SUFFIXES if file.suffix == ".db" else ("",):
            restrict(file.with_name(file.name + suffix))
    for log_file in (data_dir / "logs").glob("*.log*"):
        restrict(log_file)


def create_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing: SQLite then gives its WAL and
    shared-memory files the same mode as the database."""
    if not is_posix() or path.exists():
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
