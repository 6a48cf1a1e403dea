"""Making a backup: freeze the image tree (hard links, so uploads and deletions may go on),
snapshot the database, stream both into a zip under a temporary name with a manifest of every
entry's size and checksum, verify the whole archive against it, and only then give it its final
name. Memory stays flat whatever the size: every file is streamed in 1 MB blocks."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.backup.archive_safety import CHUNK, name_problem
from backend.backup.encrypted_zip import new_info, open_writer
from backend.backup.errors import BackupFailed
from backend.backup.fsutil import ensure_writable_folder, require_free_space
from backend.backup.manifest import (
    DATABASE_ENTRY,
    MANIFEST_NAME,
    Entry,
    Manifest,
    manifest_made_here,
)
from backend.backup.snapshot import snapshot_database
from backend.backup.verify import VerifyReport, verify_archive
from backend.config import IMAGES_DIRNAME
from backend.fileio import discard, fsync_file, publish_new, remove_path, remove_stale
from backend.i18n import gettext, ngettext
from backend.jobs import Progress, Reporter
from backend.models import Image
from backend.runtime import Runtime
from backend.storage import UnsafePath, clean_stem
from backend.usecases.inbox import INBOX_DIRNAME

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "dental-images"
SAFETY_PREFIX = "safety-before-restore"
STORED_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "zip"})
STALE_AFTER_S = 6 * 3600
FREEZE_PREFIX = ".backup-freeze-"
# File times come from a coarse clock (a few ms behind): a file that changed this close to the
# snapshot may belong to a row the snapshot does not have.
CLOCK_SLACK_S = 2.0


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    manifest: Manifest
    warnings: list[str] = field(default_factory=list)
    encrypted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "folder": str(self.path.parent),
            "size_bytes": self.size_bytes,
            "backup": self.manifest.summary(),
            "warnings": self.warnings,
            "encrypted": self.encrypted,
        }


@dataclass
class _Planned:
    entry: str
    source: Path
    row_id: str | None = None
    sha256: str | None = None


def archive_name(prefix: str, when: datetime) -> str:
    """`<clinic>-backup-<date>-<time>.zip` (local time), with a file-name-safe clinic part."""
    stem = clean_stem(prefix) if prefix and prefix.strip() else DEFAULT_PREFIX
    return f"{stem}-backup-{when:%Y%m%d-%H%M%S}.zip"


def create_backup(
    runtime: Runtime,
    folder: Path,
    *,
    include_images: bool = True,
    progress: Reporter | None = None,
    prefix: str = DEFAULT_PREFIX,
    passphrase: str | None = None,
) -> BackupResult:
    """Write a verified backup into `folder` and return it, encrypted with AES-256 (WinZip
    AES, which 7-Zip opens) when a `passphrase` is given. Refuses up front (with what to do)
    when the folder is missing, read-only or too full; a failed or cancelled backup leaves no
    file under a final name."""
    progress = progress or Progress()
    settings = runtime.settings
    folder = Path(folder).expanduser().resolve()
    ensure_writable_folder(folder)
    remove_stale(folder, ".*.zip.part", STALE_AFTER_S)
    remove_stale(settings.image_store_root, f"{FREEZE_PREFIX}*", STALE_AFTER_S)
    remove_stale(settings.backups_dir / ".work", "*", STALE_AFTER_S)
    started_at = datetime.now()
    token = secrets.token_hex(6)
    work = settings.backups_dir / ".work" / token
    freeze_root = settings.image_store_root / f"{FREEZE_PREFIX}{token}"
    final_name = archive_name(prefix, started_at)
    temp = folder / f".{final_name}.{token}.zip.part"
    try:
        work.mkdir(parents=True)
        progress.update(message=gettext("Preparing the backup"))
        snapshot = work / DATABASE_ENTRY
        require_free_space(work, _live_database_size(runtime), gettext("the database snapshot"))
        since = time.time()
        snapshot_database(runtime.engine, snapshot)
        frozen = _freeze(settings.images_dir, freeze_root, progress) if include_images else None
        plan = _plan(runtime, snapshot, frozen, since) if include_images else []
        payload = snapshot.stat().st_size + sum(_size(p.source) for p in plan)
        require_free_space(folder, payload, gettext("this backup"))
        progress.update(
            total=len(plan) + 1,
            current=0,
            bytes_total=2 * payload,
            bytes_done=0,
            message=gettext("Copying the images and the database"),
        )
        manifest = _write_archive(
            runtime, temp, plan, snapshot, include_images, progress, passphrase
        )
        fsync_file(temp)
        report = verify_archive(
            temp, progress=progress, work_dir=work, own_totals=False, passphrase=passphrase
        )
        require_verified(report)
        final = publish_new(temp, folder, final_name)
    finally:
        discard(temp)
        remove_path(work)
        remove_path(freeze_root)
    size = final.stat().st_size
    log.info(
        "backup written and verified: %s (%d bytes, %d files%s)",
        final,
        size,
        manifest.counts["files"],
        ", encrypted" if passphrase else "",
    )
    return BackupResult(final, size, manifest, _warnings(manifest), passphrase is not None)


def require_verified(report: VerifyReport) -> None:
    """BackupFailed, naming the first problem, unless the check of what was just written found
    none."""
    if not report.ok:
        raise BackupFailed(
            gettext(
                "The backup did not verify after it was written: {problems} Nothing was kept; "
                "check the disk and try again.",
                problems=report.problems[0],
            )
        )


def _live_database_size(runtime: Runtime) -> int:
    database = runtime.engine.url.database
    if runtime.engine.dialect.name == "sqlite" and database:
        return sum(
            Path(database + suffix).stat().st_size
            for suffix in ("", "-wal")
            if Path(database + suffix).exists()
        )
    return 0


def _freeze(
    images_dir: Path, freeze_root: Path, progress: Reporter
) -> dict[str, tuple[Path, float]] | None:
    """Hard-link every file of the tree into `freeze_root`, so that the backup reads the tree
    as it was now even while files are added, moved or deleted. Returns entry name -> (frozen
    path, when the file last changed before it was linked); None where the file system has no
    hard links (the backup then reads the live tree and reconciles with the live rows)."""
    frozen: dict[str, tuple[Path, float]] = {}
    for entry, path in _walk(images_dir):
        target = freeze_root / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            changed = _changed_at(path)
            os.link(path, target)
        except FileNotFoundError:
            continue  # deleted while we walked
        except OSError as exc:
            log.info("no hard links under %s (%s): backing up the live tree", images_dir, exc)
            remove_path(freeze_root)
            return None
        frozen[entry] = (target, changed)
        if len(frozen) % 500 == 0:
            progress.update(
                message=ngettext(
                    "Preparing the backup ({n} file)",
                    "Preparing the backup ({n} files)",
                    len(frozen),
                )
            )
    return frozen


def _walk(images_dir: Path) -> Iterator[tuple[str, Path]]:
    """(entry name, path) of every file in the tree, except files still being written."""
    for dirpath, _dirs, names in os.walk(images_dir):
        relative_dir = Path(dirpath).relative_to(images_dir)
        for name in names:
            if not name.startswith("."):
                entry = (Path(IMAGES_DIRNAME) / relative_dir / name).as_posix()
                yield entry, Path(dirpath) / name


def _changed_at(path: Path) -> float:
    """When the file got its content or its name (a hard link or a rename changes ctime)."""
    stat = path.stat()
    return max(stat.st_mtime, stat.st_ctime)


def _plan(
    runtime: Runtime,
    snapshot: Path,
    frozen: dict[str, tuple[Path, float]] | None,
    since: float,
) -> list[_Planned]:
    """The image entries: every file a row of the snapshot names, and the files no row knows
    that were already there when the snapshot was taken (a file that arrived later belongs to
    a row the snapshot does not have)."""
    with contextlib.closing(sqlite3.connect(snapshot)) as connection:
        rows = connection.execute(
            "SELECT id, folder_path || file_name, sha256 FROM images ORDER BY folder_path"
        ).fetchall()
        # The Inbox's files (received x-rays not assigned yet) that the snapshot's rows name,
        # however recently they arrived.
        waiting = connection.execute("SELECT file_name, sha256 FROM inbox_items").fetchall()
    rows += [(None, f"{IMAGES_DIRNAME}/{INBOX_DIRNAME}/{name}", sha256) for name, sha256 in waiting]
    plan: dict[str, _Planned] = {}
    for row_id, entry, sha256 in rows:
        if name_problem(entry) or not entry.startswith(IMAGES_DIRNAME + "/"):
            log.warning("image row %s has an unusable path %r; not backed up", row_id, entry)
            continue
        source = frozen[entry][0] if frozen is not None and entry in frozen else None
        if source is None:
            source = _live_path(runtime, entry)
        plan[entry] = _Planned(entry, source, row_id, sha256)
    if frozen is None:
        frozen = {}
        for entry, path in _walk(runtime.settings.images_dir):
            with contextlib.suppress(OSError):
                frozen[entry] = (path, _changed_at(path))
    for entry, (path, changed) in frozen.items():
        if entry not in plan and changed < since - CLOCK_SLACK_S:
            plan[entry] = _Planned(entry, path)
    return list(plan.values())


def _live_path(runtime: Runtime, entry: str) -> Path:
    try:
        return runtime.store.path_of(entry)
    except UnsafePath:
        return runtime.settings.images_dir / ".unusable"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _write_archive(
    runtime: Runtime,
    temp: Path,
    plan: list[_Planned],
    snapshot: Path,
    include_images: bool,
    progress: Reporter,
    passphrase: str | None,
) -> Manifest:
    entries: dict[str, Entry] = {}
    not_found = FilesNotFound()
    with open_writer(temp, passphrase) as archive:
        for planned in plan:
            written = _add_image(runtime, archive, planned, progress)
            if written is not None:
                entries[planned.entry] = written
            else:
                not_found.note(runtime, planned)
            progress.advance(1)
        not_found.drop_from(runtime, snapshot)
        database = _add_file(archive, DATABASE_ENTRY, snapshot, progress)
        progress.advance(1)
        manifest = manifest_made_here(
            snapshot,
            images=entries,
            database=database,
            includes_images=include_images,
            missing_files=not_found.missing,
        )
        info = new_info(archive, MANIFEST_NAME, _zip_time(time.time()))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, manifest.to_bytes())
    return manifest


def _add_image(
    runtime: Runtime, archive: zipfile.ZipFile, planned: _Planned, progress: Reporter
) -> Entry | None:
    """Add one image file; if it vanished since the plan (deleted or moved while the backup
    ran, on a file system without hard links), add its row's file from where it is now. None
    when there is no file for it."""
    try:
        return _add_file(archive, planned.entry, planned.source, progress)
    except FileNotFoundError:
        pass
    if planned.row_id is None:
        return None
    with runtime.sessions() as session:
        image = session.get(Image, planned.row_id)
        moved = _live_path(runtime, image.relative_path) if image is not None else None
    if moved is None or not moved.is_file():
        return None
    try:
        return _add_file(archive, planned.entry, moved, progress)
    except FileNotFoundError:
        return None


@dataclass
class FilesNotFound:
    """The planned image files a backup found no file for. A row still in the database lists
    its file as missing in the manifest; a row deleted while the backup ran is dropped from the
    snapshot (`drop_from`), so that rows and files agree."""

    missing: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def note(self, runtime: Runtime, planned: _Planned) -> None:
        """`planned` had no file to back up."""
        if planned.row_id is None:
            return
        with runtime.sessions() as session:
            still_there = session.get(Image, planned.row_id) is not None
        if still_there:
            self.missing.append(planned.entry)
        else:
            self.dropped.append(planned.row_id)

    def drop_from(self, runtime: Runtime, snapshot: Path) -> None:
        """Remove the rows deleted meanwhile from the database snapshot."""
        if self.dropped:
            _drop_rows(runtime, snapshot, self.dropped)


def _drop_rows(runtime: Runtime, snapshot: Path, row_ids: list[str]) -> None:
    """Images deleted while the backup ran (no hard links to keep their files): remove their
    rows from the snapshot, and their patients if those were deleted too, so that rows and
    files in the archive agree."""
    with contextlib.closing(sqlite3.connect(snapshot)) as connection:
        connection.execute("PRAGMA foreign_keys=ON")
        patients = set()
        for row_id in row_ids:
            found = connection.execute(
                "SELECT patient_id FROM images WHERE id = ?", (row_id,)
            ).fetchone()
            if found:
                patients.add(found[0])
            connection.execute("DELETE FROM images WHERE id = ?", (row_id,))
        for patient_id in patients:
            if not _patient_exists(runtime, patient_id):
                connection.execute("DELETE FROM patients WHERE id = ?", (patient_id,))
        connection.commit()
    log.info("%d images deleted during the backup were left out of it", len(row_ids))


def _patient_exists(runtime: Runtime, patient_id: str) -> bool:
    from backend.models import Patient

    with runtime.sessions() as session:
        return session.get(Patient, patient_id) is not None


def _add_file(archive: zipfile.ZipFile, entry: str, source: Path, progress: Reporter) -> Entry:
    """Stream `source` into the archive as `entry`, hashing as it goes."""
    with open(source, "rb") as handle:
        stat = os.fstat(handle.fileno())
        info = new_info(archive, entry, _zip_time(stat.st_mtime))
        extension = entry.rsplit(".", 1)[-1].lower()
        stored = extension in STORED_EXTENSIONS
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.file_size = stat.st_size
        info.external_attr = 0o100644 << 16
        digest = hashlib.sha256()
        size = 0
        with archive.open(info, "w", force_zip64=stat.st_size > 2**31) as target:
            while block := handle.read(CHUNK):
                digest.update(block)
                target.write(block)
                size += len(block)
                progress.advance(0, len(block))
    return Entry(size=size, sha256=digest.hexdigest())


def _zip_time(mtime: float) -> tuple[int, int, int, int, int, int]:
    stamp = time.localtime(max(mtime, 315_532_800 + 86_400))  # zip dates start in 1980
    return (stamp.tm_year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)


def _warnings(manifest: Manifest) -> list[str]:
    if not manifest.missing_files:
        return []
    return [
        f"{len(manifest.missing_files)} images had no file in the store when the backup was "
        "made (see Check the data); the backup holds their records only."
    ]
