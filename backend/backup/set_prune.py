"""Pruning a backup set to its newest N backups without ever breaking one that remains: each
old backup is first made invisible by one rename (so a kill leaves it either complete or gone),
then removed; only after that are the files that no remaining manifest names deleted. A kill
at any instant leaves every remaining backup whole; leftovers are swept by the next prune."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from backend.backup import backup_set as bs
from backend.backup.errors import BackupInvalid
from backend.backup.set_crypto import SetKey
from backend.fileio import fsync_dir, long_path, remove_path, rename, unlink

log = logging.getLogger(__name__)


def prune_set(set_dir: Path, keep: int, key: SetKey | None = None) -> list[str]:
    """Keep the newest `keep` complete backups of the set (an encrypted one's manifests read
    with its `key`); returns the names removed."""
    backups = bs.complete_backups(set_dir)
    old = backups[:-keep] if keep > 0 else []
    removed = []
    for backup in old:
        hidden = backup.with_name(f".{backup.name}.{secrets.token_hex(4)}.deleting")
        rename(backup, hidden)
        fsync_dir(backup.parent)
        remove_path(hidden)
        removed.append(backup.name)
        log.info("old backup removed from the set (keeping the newest %d): %s", keep, backup)
    sweep(set_dir, key)
    return removed


def sweep(set_dir: Path, key: SetKey | None = None) -> int:
    """Remove what no complete backup needs: backups being deleted, and files named by no
    remaining manifest. Nothing is removed when a manifest cannot be read (its files might be
    needed). Returns how many files were removed."""
    folder = set_dir / bs.BACKUPS_DIR
    for leftover in folder.glob(".*.deleting"):
        remove_path(leftover)
    referenced: set[str] = set()
    for backup in bs.complete_backups(set_dir):
        try:
            manifest = bs.read_manifest(backup, key)
        except BackupInvalid:
            log.warning("%s has no readable manifest: no file of the set is removed", backup)
            return 0
        referenced.update(entry.sha256 for entry in bs.image_entries(manifest).values())
    if _unfinished_backups(folder):
        return 0  # a backup being written may already have published files it will name
    removed = 0
    files = set_dir / bs.FILES_DIR
    for shard in _entries(files):
        for stored in _entries(shard):
            if stored.name not in referenced:
                unlink(stored)
                removed += 1
    if removed:
        log.info("%d files no backup of %s names were removed", removed, set_dir)
    return removed


def _unfinished_backups(folder: Path) -> bool:
    return any(folder.glob(".*.part"))


def _entries(folder: Path) -> list[Path]:
    try:
        with os.scandir(long_path(folder)) as found:
            return [Path(folder) / entry.name for entry in found]
    except (FileNotFoundError, NotADirectoryError):
        return []
