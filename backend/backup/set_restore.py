"""Unpacking one backup of a set for a restore, as backend.backup.staging unpacks a zip: the
database to its staging file and every image entry from the set's files/ to its place in the
staged tree, each written as a new file, never outside its root, checked against its size and
checksum on the way, after the room for all of them was checked."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from backend.backup import backup_set as bs
from backend.backup.errors import BackupInvalid
from backend.backup.fsutil import require_free_space
from backend.backup.manifest import DATABASE_ENTRY, Entry, Manifest
from backend.backup.set_verify import DamagedFile, read_checked, stored_path
from backend.fileio import long_path, sync_all
from backend.i18n import gettext
from backend.jobs import Reporter
from backend.storage import UnsafePath, resolve_under


def start_unpacking(
    manifest: Manifest, image_root: Path | None, progress: Reporter
) -> dict[str, Entry]:
    """The manifest's entries a restore unpacks (the database, and the images when there is
    an `image_root`), with `progress` set to their count and bytes."""
    wanted = {
        name: entry
        for name, entry in manifest.entries.items()
        if name == DATABASE_ENTRY or image_root is not None
    }
    progress.update(
        total=len(wanted),
        current=0,
        bytes_total=sum(entry.size for entry in wanted.values()),
        bytes_done=0,
        message=gettext("Unpacking the backup next to the current data"),
    )
    return wanted


def extract_set_backup(
    backup_dir: Path,
    manifest: Manifest,
    database: Path,
    image_root: Path | None,
    progress: Reporter,
    passphrase: str | None = None,
) -> None:
    """Write the backup's database to `database` and (with `image_root`) its image tree under
    `image_root`, then flush them; BackupInvalid when a file is not what the manifest says.
    An encrypted set's files are decrypted with the key of `passphrase`."""
    key = bs.set_key(backup_dir.parent.parent, passphrase)
    wanted = start_unpacking(manifest, image_root, progress)
    targets: dict[str, Path] = {}
    needs: dict[Path, int] = defaultdict(int)
    for name, entry in wanted.items():
        root = database.parent if name == DATABASE_ENTRY else image_root
        assert root is not None
        try:
            targets[name] = database if name == DATABASE_ENTRY else resolve_under(root, name)
        except UnsafePath as exc:
            raise BackupInvalid([str(exc)]) from exc
        needs[root] += entry.size
    for root, nbytes in needs.items():
        require_free_space(root, nbytes, gettext("unpacking the backup"), field="path")
    written: list[Path] = []
    for name, entry in wanted.items():
        target = targets[name]
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            handle = open(long_path(target), "xb")  # noqa: SIM115 - closed below
        except FileExistsError as exc:
            raise BackupInvalid(
                [gettext("The entry {filename} appears twice.", filename=repr(name[:120]))]
            ) from exc
        try:
            with handle:
                read_checked(
                    stored_path(backup_dir, name, entry.sha256),
                    entry.size,
                    entry.sha256,
                    handle.write,
                    on_bytes=lambda n: progress.advance(0, n),
                    key=key,
                    role=DATABASE_ENTRY if name == DATABASE_ENTRY else None,
                )
        except DamagedFile as exc:
            target.unlink(missing_ok=True)
            raise BackupInvalid([f"{name[:120]}: {exc}"]) from exc
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        written.append(target)
        progress.advance(1)
    sync_all(written)
