"""Restoring one patient from a backup into the live data, all or nothing, leaving every other
patient as it is.

The rule, said in every preview: the patient's record, and each treatment and image the
backup holds, come back as they were in the backup (a live row with the same id is replaced by
the backup's); treatments and images added here since the backup are kept. No live file is
ever changed or removed: image files are immutable and only the backup's missing ones are
copied in (each to a `.part` file, flushed, then published under its name without
overwriting). So the safety backup taken first holds the database only, which with the files
left in place is the whole previous state.

All or nothing: the files are copied in first, then every row is written in one transaction;
if anything fails the transaction is rolled back and the files added are removed. What a
restore would do is worked out, and previewed, by `patient_restore_plan`."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from backend.backup.create import create_backup
from backend.backup.errors import RestoreFailed
from backend.backup.fsutil import require_free_space
from backend.backup.patient_restore_plan import (
    DICOM,
    IMAGE_TEETH,
    IMAGES,
    LINKS,
    PATIENTS,
    TREATMENTS,
    Bundle,
    Plan,
    make_plan,
    read_bundle,
)
from backend.backup.patient_source import OpenedBackup
from backend.backup.restore import KEEP_SAFETY_BACKUPS
from backend.errors import Conflict, ValidationError
from backend.fileio import (
    publish,
    remove_path,
    sync_all,
    sync_folders,
    temp_name,
    unlink,
    write_json_atomic,
)
from backend.i18n import gettext
from backend.jobs import Progress, Reporter, Step
from backend.runtime import Runtime
from backend.storage import UnsafePath, resolve_under

log = logging.getLogger(__name__)

# Its own name, so that these database-only safety backups never push out of the kept ones the
# full safety backup that a whole restore made.
SAFETY_PREFIX = "safety-before-patient-restore"
# Names the files being copied in while a restore runs (see clean_interrupted).
JOURNAL_PREFIX = "patient-restore-in-progress-"


def restore_patient(
    runtime: Runtime, opened: OpenedBackup, patient_id: str, progress: Reporter | None = None
) -> dict[str, Any]:
    """Restore `patient_id` from the opened backup into the live data (see the module): a
    safety backup of the database first, the missing files copied in, then every row in one
    transaction. On any failure nothing of it stays. Returns what was restored."""
    progress = progress or Progress()
    opened.still_the_same()
    clean_interrupted(runtime)
    bundle = read_bundle(runtime, opened, patient_id)
    plan = make_plan(runtime, opened, bundle)
    if plan.problems:
        raise Conflict(
            gettext(
                "This patient cannot be restored as things are: {problems} Nothing was changed.",
                problems=" ".join(plan.problems),
            )
        )
    settings = runtime.settings
    require_free_space(
        settings.image_store_root,
        plan.bytes_to_copy,
        gettext("the patient's images"),
        field="path",
    )
    safety = create_backup(
        runtime,
        settings.backups_dir,
        include_images=False,
        progress=Step(progress, 1, 3, gettext("safety backup of the current database")),
        prefix=SAFETY_PREFIX,
    )
    added: list[Path] = []
    name = bundle.patient["full_name"]
    journal = settings.backups_dir / f"{JOURNAL_PREFIX}{secrets.token_hex(6)}.json"
    write_json_atomic(journal, {"files": [r["folder_path"] + r["file_name"] for r in plan.copies]})
    try:
        _copy_files(runtime, opened, plan, added, Step(progress, 2, 3, gettext("copying images")))
        progress.update(message=gettext("Step 3 of 3, writing the records"))
        _write_rows(runtime, bundle)
    except BaseException as exc:
        for path in reversed(added):
            unlink(path)
        sync_folders({p.parent for p in added})
        unlink(journal)
        log.error(
            "restore of patient %s from %s failed and was undone (%d files removed): %s",
            bundle.patient["id"],
            opened.archive,
            len(added),
            exc,
        )
        if isinstance(exc, IntegrityError):
            raise RestoreFailed(
                gettext(
                    "The patient could not be restored: the current data changed meanwhile "
                    "({exc}). Nothing was changed.",
                    exc=str(exc.orig)[:200],
                )
            ) from exc
        raise
    unlink(journal)
    for row in bundle.images:
        runtime.store.remove_thumbnail(row["id"])  # derived data; made again from the file
    _prune_safety_backups(settings.backups_dir)
    log.info(
        "patient %s (%s) restored from %s: %d treatments, %d images, %d files copied; "
        "safety backup at %s",
        bundle.patient["id"],
        bundle.patient["serial_number"],
        opened.archive,
        len(bundle.treatments),
        len(bundle.images),
        len(added),
        safety.path,
    )
    return {
        "patient": {"id": bundle.patient["id"], "full_name": name},
        "treatments": len(bundle.treatments),
        "images": len(bundle.images),
        "files_copied": len(added),
        "was_here": plan.exists,
        "safety_backup": str(safety.path),
        "warnings": list(opened.warnings),
    }


def clean_interrupted(runtime: Runtime) -> int:
    """Remove the files that a one-patient restore killed between copying them in and writing
    their rows left behind (its journal in backups/ names them): each file that no image row
    names. Runs under the store lease, before the next one-patient restore. Returns how many
    files were removed."""
    removed = 0
    root = runtime.settings.image_store_root
    for journal in sorted(runtime.settings.backups_dir.glob(f"{JOURNAL_PREFIX}*.json")):
        try:
            listed = json.loads(journal.read_text(encoding="utf-8")).get("files", [])
        except (OSError, ValueError, AttributeError):
            listed = []
        with runtime.engine.connect() as live:
            for relative in [r for r in listed if isinstance(r, str)]:
                folder, _, name = relative.rpartition("/")
                named = live.execute(
                    select(IMAGES.c.id).where(
                        IMAGES.c.folder_path == folder + "/", IMAGES.c.file_name == name
                    )
                ).first()
                try:
                    path = resolve_under(root, relative)
                except UnsafePath:
                    continue
                if named is None and path.is_file():
                    unlink(path)
                    removed += 1
        unlink(journal)
        log.warning(
            "an interrupted restore of one patient was cleaned up: %d files removed", removed
        )
    return removed


def _prune_safety_backups(folder: Path, keep: int = KEEP_SAFETY_BACKUPS) -> None:
    found = sorted(folder.glob(f"{SAFETY_PREFIX}-backup-*.zip"), key=lambda p: p.name)
    for path in found[:-keep]:
        remove_path(path)
        log.info("old safety backup removed: %s", path)


def _copy_files(
    runtime: Runtime, opened: OpenedBackup, plan: Plan, added: list[Path], progress: Reporter
) -> None:
    root = runtime.settings.image_store_root
    progress.update(
        total=len(plan.copies),
        current=0,
        bytes_total=plan.bytes_to_copy,
        bytes_done=0,
        message=gettext("Copying the patient's images in"),
    )
    staged: list[tuple[Path, Path]] = []  # (temporary file, its final name)
    try:
        with opened.open_files() as archive:
            for row in plan.copies:
                target = resolve_under(root, row["folder_path"] + row["file_name"])
                target.parent.mkdir(parents=True, exist_ok=True)
                staged.append((temp_name(target), target))
                opened.copy_file(
                    plan.bundle.sources[row["id"]],
                    staged[-1][0],
                    (int(row["size_bytes"]), row["sha256"]),
                    on_bytes=lambda n: progress.advance(0, n),
                    archive=archive,
                )
                progress.advance(1)
        sync_all([temp for temp, _ in staged])  # every file whole on disk before any is named
        for temp, target in staged:
            if not publish(temp, target):
                raise RestoreFailed(
                    gettext(
                        "{name} appeared here while the patient was being restored. Nothing "
                        "was changed.",
                        name=target.name,
                    )
                )
            added.append(target)
    finally:
        for temp, _target in staged:
            unlink(temp)
    sync_folders({p.parent for p in added})


def _write_rows(runtime: Runtime, bundle: Bundle) -> None:
    """Every row of the bundle in one transaction: replaced where the id is here, added where
    it is not; the DICOM facts and other teeth of the restored images replaced by the
    backup's; the earlier app's import links added where missing."""
    with runtime.engine.begin() as live:
        _upsert(live, PATIENTS, [bundle.patient], PATIENTS.c.id)
        _upsert(live, TREATMENTS, bundle.treatments, TREATMENTS.c.id)
        _upsert(live, IMAGES, bundle.images, IMAGES.c.id)
        image_ids = [row["id"] for row in bundle.images]
        if image_ids:
            live.execute(delete(DICOM).where(DICOM.c.image_id.in_(image_ids)))
        if bundle.dicom:
            live.execute(insert(DICOM), bundle.dicom)
        if image_ids:
            live.execute(delete(IMAGE_TEETH).where(IMAGE_TEETH.c.image_id.in_(image_ids)))
        if bundle.image_teeth:
            live.execute(insert(IMAGE_TEETH), bundle.image_teeth)
        keys = [link["key"] for link in bundle.links]
        present = (
            set(live.scalars(select(LINKS.c.key).where(LINKS.c.key.in_(keys)))) if keys else set()
        )
        missing = [link for link in bundle.links if link["key"] not in present]
        if missing:
            live.execute(insert(LINKS), missing)


def _upsert(live: Connection, table: Table, rows: Iterable[dict[str, Any]], key: Any) -> None:
    rows = list(rows)
    if not rows:
        return
    ids = [row["id"] for row in rows]
    present = set(live.scalars(select(key).where(key.in_(ids))))
    for row in rows:
        if row["id"] in present:
            values = {k: v for k, v in row.items() if k != "id"}
            live.execute(update(table).where(key == row["id"]).values(**values))
    new = [row for row in rows if row["id"] not in present]
    if new:
        live.execute(insert(table), new)


def parse_reference(value: Any) -> str:
    """A patient named by the caller (id or serial number)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(gettext("Choose a patient of the backup."), field="patient")
    return value.strip()
