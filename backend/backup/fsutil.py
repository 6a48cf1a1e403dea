"""File-system steps that backup and restore share: atomic JSON, publishing a finished file
under a new name, and refusing early (with what to do) when a folder is full or read-only."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from backend.backup.errors import FolderNotUsable, NotEnoughSpace
from backend.storage import fsync_dir
from backend.usecases.storage_report import human_size

MARGIN_BYTES = 64 * 1024 * 1024


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def sync_all(paths: list[Path]) -> None:
    """Flush freshly written files to disk: one system-wide sync where the OS has it, else one
    fsync per file."""
    if hasattr(os, "sync"):
        os.sync()
        return
    for path in paths:
        fsync_file(path)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write `data` to `path` so that a crash leaves either the old or the new content."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def publish_new(temp: Path, folder: Path, name: str) -> Path:
    """Give the finished file `temp` the name `name` in `folder` (or `<stem>-2.zip`, ... when
    that name is taken). An existing file is never overwritten."""
    stem, dot, ext = name.rpartition(".")
    for attempt in range(1, 1000):
        candidate = folder / (name if attempt == 1 else f"{stem}-{attempt}{dot}{ext}")
        if publish_as(temp, candidate):
            fsync_dir(folder)
            return candidate
    raise FileExistsError(f"no free name for {name} in {folder}")


def publish_as(temp: Path, final: Path) -> bool:
    """Give the finished file `temp` the name `final` unless that name exists (False then):
    a hard link (the file system refuses a taken name), else an atomic rename onto a free name.
    For work done under the store lease; uploads from several PCs use the store's own
    publishing."""
    try:
        os.link(temp, final)
    except FileExistsError:
        return False
    except OSError:
        return rename_if_free(temp, final)
    temp.unlink()
    return True


def rename_if_free(temp: Path, final: Path) -> bool:
    """Where there are no hard links (FAT, some shares), a plain rename: atomic, so a crash
    never leaves a partial or empty file under the final name. Windows refuses to rename onto an
    existing name by itself; elsewhere the name is checked first, and only one whole-store job
    runs at a time (the store lease), so no other job publishes into the folder meanwhile.
    False when the name is taken."""
    if os.name != "nt" and os.path.lexists(final):
        return False
    try:
        os.rename(temp, final)
    except FileExistsError:
        return False
    return True


def ensure_writable_folder(folder: Path) -> None:
    """Refuse a folder that is missing or cannot be written, saying what to do."""
    if not folder.is_dir():
        raise FolderNotUsable(
            f"The folder {folder} does not exist or cannot be reached. Connect the disk or "
            "choose another folder.",
            field="folder",
        )
    probe = folder / f".dental-images-write-test-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise FolderNotUsable(
            f"The program cannot write to {folder} ({exc.strerror or exc}). Choose another "
            "folder, or ask whoever manages this computer for permission to write there.",
            field="folder",
        ) from exc
    probe.unlink(missing_ok=True)


def free_bytes(folder: Path) -> int:
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def require_free_space(folder: Path, needed: int, what: str, *, field: str = "folder") -> None:
    """Refuse when `folder`'s disk has less than `needed` bytes (plus a margin) free."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        raise NotEnoughSpace(
            f"Not enough free space for {what}: it needs about {human_size(needed)} on the disk "
            f"holding {folder}, and {human_size(free)} is free. Free up space there or choose "
            "another folder (for example an external disk).",
            field=field,
        )


def remove_path(path: Path) -> None:
    """Delete a file or a whole folder if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=False)
    else:
        path.unlink(missing_ok=True)


def remove_stale(folder: Path, pattern: str, older_than_s: float) -> int:
    """Delete leftovers of crashed runs (`pattern` in `folder`) not touched for a while; a live
    run keeps its files fresh. Returns how many were removed."""
    removed = 0
    if not folder.is_dir():
        return 0
    cutoff = time.time() - older_than_s
    for path in folder.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                remove_path(path)
                removed += 1
        except OSError:
            continue
    return removed
