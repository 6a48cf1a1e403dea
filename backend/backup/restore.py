"""Restoring a backup, all or nothing: check the whole archive without touching live data,
make a safety backup of the current data, stage the archive next to the live data, swap it in
(renames for SQLite, one transaction for other engines), check the result, and put the previous
data back by itself on any failure. A crash at any point is finished or undone at the next start
(backend.backup.recovery)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sqlite3
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from backend import app_state
from backend.backup import backup_set, kinds
from backend.backup import journal as jr
from backend.backup.create import SAFETY_PREFIX, create_backup
from backend.backup.errors import BackupInvalid, NotEnoughSpace, RestoreFailed
from backend.backup.legacy import backups as legacy_backups
from backend.backup.manifest import Manifest
from backend.backup.rebuild import ARCHIVE_DATABASE, rebuild
from backend.backup.recovery import restore_marker, restore_rows_from_archive, write_marker
from backend.backup.snapshot import live_counts, load_into, read_facts
from backend.backup.staging import KEPT_STATE_PREFIX, extract_archive, prepare_database
from backend.backup.verify import VerifyReport, verify_archive
from backend.errors import ValidationError
from backend.fileio import free_bytes, human_size, remove_path
from backend.i18n import gettext
from backend.jobs import Progress, Reporter, Step
from backend.models import Image, Patient, Treatment
from backend.runtime import Runtime

log = logging.getLogger(__name__)

KEEP_SAFETY_BACKUPS = 3
GATE_REASON = (
    "A backup is being restored on this computer. The program is back as soon as it has "
    "finished; nothing you do now would be kept."
)


def archive_path(value: Any, *, whole_set: bool = False) -> Path:
    """A backup file named by the person (a path from the native dialog or an upload), or one
    backup of a set (its folder or its manifest.json); with `whole_set` (to verify it) also a
    whole backup set."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(gettext("Choose a backup file."), field="path")
    path = backup_set.normalized(Path(value.strip()).expanduser())
    if backup_set.is_set_backup(path) or (whole_set and backup_set.is_set_dir(path)):
        return path.resolve()
    if backup_set.is_set_dir(path):
        newest = backup_set.complete_backups(path)
        raise ValidationError(
            gettext(
                "{path} is a whole backup set: choose one of its backups (a folder in its "
                "backups folder, or the manifest.json in it){newest}.",
                path=path,
                newest=gettext(", for example the newest, {name}", name=newest[-1])
                if newest
                else "",
            ),
            field="path",
        )
    if not path.is_file():
        raise ValidationError(gettext("There is no file at {path}.", path=path), field="path")
    return path.resolve()


def preview_restore(
    runtime: Runtime,
    archive: Path,
    progress: Reporter | None = None,
    reading: dict[str, Any] | None = None,
    passphrase: str | None = None,
) -> dict[str, Any]:
    """Check the whole archive (nothing live is touched) and say what a restore would do:
    when the backup was made, from where, what it holds and what it replaces. `reading`
    (`reading_choices`) is how an earlier app's backup's teeth are to be read; `passphrase`
    opens an encrypted backup (PassphraseNeeded, WrongPassphrase)."""
    progress = progress or Progress()
    archive = backup_set.normalized(Path(archive))
    kind = kinds.detect_kind(archive)
    _refuse_whole_set(kind)
    if kind in kinds.LEGACY_KINDS:
        return legacy_backups.preview(runtime, archive, kind, progress, reading)
    report = _verified(runtime, archive, progress, passphrase)
    assert report.manifest is not None
    return _preview(runtime, report)


def restore_backup(
    runtime: Runtime,
    archive: Path,
    *,
    progress: Reporter | None = None,
    reading: dict[str, Any] | None = None,
    passphrase: str | None = None,
) -> dict[str, Any]:
    """Replace the current data with the backup's, or change nothing. Returns what was restored
    and where the safety backup of the previous data is. `reading` (`reading_choices`) is how
    an earlier app's backup's teeth are read, where the evidence does not decide; `passphrase`
    opens an encrypted backup. The safety backup is a plain zip: it stays in this PC's data
    folder, like the data it holds."""
    progress = progress or Progress()
    archive = backup_set.normalized(Path(archive))
    kind = kinds.detect_kind(archive)
    _refuse_whole_set(kind)
    if kind in kinds.LEGACY_KINDS:
        with runtime.gate.closed(GATE_REASON):
            result = legacy_backups.restore(
                runtime,
                archive,
                kind,
                progress,
                reading=reading,
                put_back=lambda safety: _put_back(runtime, safety, progress),
            )
        prune_safety_backups(runtime.settings.backups_dir)
        return result
    report = _verified(
        runtime, archive, Step(progress, 1, 4, gettext("checking the backup")), passphrase
    )
    manifest = report.manifest
    assert manifest is not None
    _require_space(runtime, manifest)
    settings = runtime.settings
    with runtime.gate.closed(GATE_REASON):
        safety = create_backup(
            runtime,
            settings.backups_dir,
            include_images=manifest.includes_images,
            progress=Step(progress, 2, 4, gettext("safety backup of the current data")),
            prefix=SAFETY_PREFIX,
        )
        result = _restore_verified(runtime, archive, manifest, safety.path, progress, passphrase)
    prune_safety_backups(settings.backups_dir)
    result["warnings"] = report.warnings + result["warnings"]
    return result


def _refuse_whole_set(kind: str) -> None:
    if kind == kinds.BACKUP_SET:
        raise BackupInvalid(
            [gettext("This is a whole backup set: choose one of its backups to restore.")]
        )


def _put_back(runtime: Runtime, safety: Path, progress: Reporter) -> None:
    """Restore the safety backup made at the start of a failed legacy import."""
    report = _verified(runtime, safety, Step(progress, 1, 2, gettext("checking the safety backup")))
    assert report.manifest is not None
    _restore_verified(runtime, safety, report.manifest, safety, progress)


def _verified(
    runtime: Runtime, archive: Path, progress: Reporter, passphrase: str | None = None
) -> VerifyReport:
    report = verify_archive(
        archive, progress=progress, work_dir=runtime.settings.backups_dir, passphrase=passphrase
    )
    if not report.ok:
        raise BackupInvalid(report.problems)
    return report


def _current(runtime: Runtime) -> dict[str, int]:
    files, size = runtime.store.tree_usage()
    return {**live_counts(runtime.engine), "files": files, "image_bytes": size}


def _preview(runtime: Runtime, report: VerifyReport) -> dict[str, Any]:
    manifest = report.manifest
    assert manifest is not None
    current = _current(runtime)
    replaces = [
        gettext(
            "All records here ({patients} patients, {treatments} treatments, {images} images) "
            "are replaced by those of the backup.",
            patients=current["patients"],
            treatments=current["treatments"],
            images=current["images"],
        )
    ]
    if manifest.includes_images:
        replaces.append(
            gettext(
                "The image folder here ({files} files, {size}) is replaced by the backup's.",
                files=current["files"],
                size=human_size(current["image_bytes"]),
            )
        )
    else:
        replaces.append(gettext("This backup has no images: the image folder here stays as it is."))
    replaces.append(
        gettext(
            "A safety backup of the current data is made first, in {folder}.",
            folder=runtime.settings.backups_dir,
        )
    )
    return {
        "path": str(report.path),
        "name": report.path.name,
        "kind": kinds.BACKUP,
        "size_bytes": report.size_bytes,
        "backup": manifest.summary(),
        "current": current,
        "replaces": replaces,
        "warnings": report.warnings,
    }


def _require_space(runtime: Runtime, manifest: Manifest) -> None:
    """Unpacking needs room next to the live data, and the safety backup room in backups/;
    each disk is asked for what it has to hold."""
    settings = runtime.settings
    _files, current_bytes = runtime.store.tree_usage()
    database_size = manifest.entries["database.sqlite"].size
    needs: dict[int, list[Any]] = defaultdict(lambda: [0, None])
    for folder, nbytes in (
        (settings.image_store_root, manifest.total_bytes - database_size),
        (settings.data_dir, database_size),
        (settings.backups_dir, database_size + (current_bytes if manifest.includes_images else 0)),
    ):
        device = os.stat(folder).st_dev
        needs[device][0] += nbytes
        needs[device][1] = needs[device][1] or folder
    for needed, folder in needs.values():
        free = free_bytes(folder)
        if free < needed:
            raise NotEnoughSpace(
                gettext(
                    "Restoring this backup needs about {needed} free on the disk holding "
                    "{folder} (to unpack it and to keep a safety backup of the current data); "
                    "{free} is free. Free up space there, then try again. Nothing was changed.",
                    needed=human_size(needed),
                    folder=folder,
                    free=human_size(free),
                ),
                field="path",
            )


def _staging_plan(
    runtime: Runtime, restore_id: str, includes_images: bool
) -> tuple[jr.RestoreJournal, Path, Path, Path | None]:
    """Where everything is staged and set aside: next to each live item, on its own disk, so
    that the swap is a rename. Returns the journal, where the archive's database file is
    unpacked, the staged database file rebuilt from it, and the folder that will hold the
    staged image tree (None without images)."""
    settings = runtime.settings
    sqlite = runtime.engine.dialect.name == "sqlite" and bool(runtime.engine.url.database)
    staging = settings.data_dir / f".restore-{restore_id}"
    old = settings.data_dir / f".restore-{restore_id}-old"
    journal = jr.RestoreJournal(id=restore_id, archive="", method=jr.FILES if sqlite else jr.ROWS)
    journal.cleanup = [str(staging), str(old)]
    unpacked = staging / ARCHIVE_DATABASE
    database = staging / "database.sqlite"
    image_root = None
    if includes_images:
        image_staging = settings.image_store_root / f".restore-{restore_id}"
        image_old = settings.image_store_root / f".restore-{restore_id}-old"
        journal.cleanup += [str(image_staging), str(image_old)]
        image_root = image_staging
        journal.moves.append(
            jr.Move(
                live=str(settings.images_dir),
                new=str(image_staging / settings.images_dir.name),
                old=str(image_old / settings.images_dir.name),
            )
        )
        journal.moves.append(
            jr.Move(
                live=str(settings.thumbnails_dir),
                new=str(staging / "thumbnails"),
                old=str(old / "thumbnails"),
            )
        )
    if sqlite:
        live = Path(str(runtime.engine.url.database)).resolve()
        new = live.with_name(f".restore-{restore_id}-{live.name}")
        set_aside = live.with_name(f".restore-{restore_id}-old-{live.name}")
        journal.moves.append(jr.Move(live=str(live), new=str(new), old=str(set_aside)))
        for suffix in ("-wal", "-shm", "-journal"):
            journal.moves.append(
                jr.Move(live=f"{live}{suffix}", old=f"{set_aside}{suffix}", new=None)
            )
            # what SQLite leaves beside the staged copy when a kill stops it mid-write
            journal.cleanup.append(f"{new}{suffix}")
        database = new
    return journal, unpacked, database, image_root


def _restore_verified(
    runtime: Runtime,
    archive: Path,
    manifest: Manifest,
    safety: Path,
    progress: Reporter,
    passphrase: str | None = None,
) -> dict[str, Any]:
    settings = runtime.settings
    journal, unpacked, database, image_root = _staging_plan(
        runtime, secrets.token_hex(6), manifest.includes_images
    )
    journal.archive, journal.safety_backup = str(archive), str(safety)
    journal.enter(settings, jr.STAGING)
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        for move in journal.moves:
            if move.new and move.live in (str(settings.thumbnails_dir), str(settings.images_dir)):
                Path(move.new).mkdir(parents=True, exist_ok=True)  # an empty tree is a tree
        step = Step(progress, 3, 4, gettext("unpacking"))
        unpacked.parent.mkdir(parents=True, exist_ok=True)
        extract_archive(archive, manifest, unpacked, image_root, step, passphrase)
        rebuild(unpacked, database)  # the archive's file is read, never adopted
        unpacked.unlink()
        warnings = prepare_database(database, image_root, manifest, _kept_state(runtime))
        staged = read_facts(database)
        progress.update(message=gettext("Step 4 of 4, swapping in the restored data"))
    except BaseException:
        jr.remove_leftovers(journal)
        jr.clear_journal(settings)
        raise
    _swap(runtime, journal, database, staged.counts, manifest)
    log.info("restore of %s done; safety backup at %s", archive, safety)
    return {
        "restored": {**staged.counts, "files": manifest.counts["files"]},
        "backup": manifest.summary(),
        "safety_backup": str(safety),
        "warnings": warnings,
    }


def _kept_state(runtime: Runtime) -> dict[str, str]:
    """This installation's own backup settings and history, which a restore keeps."""
    with runtime.sessions() as session:
        return app_state.with_prefix(session, KEPT_STATE_PREFIX)


def _swap(
    runtime: Runtime,
    journal: jr.RestoreJournal,
    database: Path,
    counts: dict[str, int],
    manifest: Manifest,
) -> None:
    settings = runtime.settings
    _quiesce(runtime)
    jr.record_existing(journal)
    journal.enter(settings, jr.SWAPPING)
    try:
        jr.swap_in(journal)
        if journal.method == jr.ROWS:
            load_into(runtime.engine, database, finish=lambda c: write_marker(c, journal.id))
        journal.enter(settings, jr.SWAPPED)
        runtime.reopen()
        _check_restored(runtime, counts, manifest)
        journal.enter(settings, jr.COMMITTED)
    except BaseException as exc:
        try:
            _roll_back(runtime, journal)
        except Exception as undo_error:
            log.exception("restore %s could not be undone now", journal.id)
            raise RestoreFailed(
                gettext(
                    "The restore failed ({error}) and could not be undone right now "
                    "({undo_error}). Restart the program: it finishes undoing the restore when "
                    "it starts.",
                    error=exc,
                    undo_error=undo_error,
                )
            ) from exc
        raise RestoreFailed(
            gettext(
                "The restore failed while swapping in the data ({error}) and was undone: the "
                "data is as it was before. A safety backup of it is at {safety_backup}.",
                error=exc,
                safety_backup=journal.safety_backup,
            )
        ) from exc
    jr.remove_leftovers(journal)
    jr.clear_journal(settings)


def _quiesce(runtime: Runtime) -> None:
    """Close every connection to the live database (others wait at the closed gate) and, for
    SQLite, fold its write-ahead log into the file, so the file alone is the whole database."""
    runtime.engine.dispose()
    deadline = time.monotonic() + 30
    pool = runtime.engine.pool
    while getattr(pool, "checkedout", lambda: 0)() and time.monotonic() < deadline:
        time.sleep(0.05)
    if runtime.engine.dialect.name == "sqlite" and runtime.engine.url.database:
        with contextlib.closing(sqlite3.connect(runtime.engine.url.database)) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _roll_back(runtime: Runtime, journal: jr.RestoreJournal) -> None:
    settings = runtime.settings
    committed = journal.method == jr.ROWS and restore_marker(runtime.engine) == journal.id
    journal.enter(settings, jr.ROLLING_BACK)
    runtime.engine.dispose()
    if committed:
        restore_rows_from_archive(runtime.engine, Path(str(journal.safety_backup)))
    jr.roll_back_moves(journal)
    jr.remove_leftovers(journal)
    jr.clear_journal(settings)
    runtime.reopen()
    log.error("restore %s rolled back; previous data is in place", journal.id)


def _check_restored(runtime: Runtime, counts: dict[str, int], manifest: Manifest) -> None:
    """The live program sees the restored rows, and every image row its file; RuntimeError
    naming what is wrong otherwise (the caller undoes the restore and says so)."""
    with runtime.sessions() as session:
        live = {
            "patients": session.scalar(select(func.count()).select_from(Patient)),
            "treatments": session.scalar(select(func.count()).select_from(Treatment)),
            "images": session.scalar(select(func.count()).select_from(Image)),
        }
        if live != counts:
            raise RuntimeError(f"the restored data holds {live}, the backup {counts}")
        if not manifest.includes_images:
            return
        missing = set(manifest.missing_files)
        for folder, name in session.execute(select(Image.folder_path, Image.file_name)):
            if folder + name not in missing and not runtime.store.path_of(folder + name).is_file():
                raise RuntimeError(f"{folder}{name} is not in place after the swap")


def prune_safety_backups(folder: Path, keep: int = KEEP_SAFETY_BACKUPS) -> list[Path]:
    """Keep the newest `keep` safety backups (made before each restore); delete older ones."""
    found = sorted(folder.glob(f"{SAFETY_PREFIX}-backup-*.zip"), key=lambda p: p.name)
    removed = found[:-keep] if keep else found
    for path in removed:
        remove_path(path)
        log.info("old safety backup removed: %s", path)
    return removed
