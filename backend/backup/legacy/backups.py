"""Backups of the earlier app: a .zip holding dental_clinic.db and dental_images/, a bare .db,
or its oldest whole-database .json export. Each is staged into a temporary folder (a zip with
the same checks as ours: no absolute paths, no '..', no links, no bombs; a .json turned into a
database of the earlier app's schema) and brought in by the legacy importer, after a safety
backup of the current data; any failure puts the current data back."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from backend.backup import kinds
from backend.backup.archive_safety import UnsafeArchive, archive_problems, extract_member
from backend.backup.create import SAFETY_PREFIX, create_backup
from backend.backup.errors import BackupInvalid
from backend.backup.fsutil import require_free_space
from backend.backup.legacy import import_marker, json_export
from backend.backup.verify import verify_archive
from backend.errors import ValidationError
from backend.fileio import remove_path
from backend.i18n import gettext, lazy_gettext
from backend.jobs import Reporter, Step
from backend.runtime import Runtime

NO_IMPORTER = lazy_gettext(
    "This is a backup of the earlier app; this version of the program cannot import those yet. "
    "Nothing was changed."
)


def _importer() -> Any:
    try:
        from backend.migration import importer
    except ImportError as exc:
        raise ValidationError(str(NO_IMPORTER), field="path") from exc
    return importer


def _checked(archive: Path, progress: Reporter, work_dir: Path) -> list[str]:
    report = verify_archive(archive, progress=progress, work_dir=work_dir)
    if not report.ok:
        raise BackupInvalid(report.problems)
    return report.warnings


@contextlib.contextmanager
def staged_source(runtime: Runtime, archive: Path, kind: str) -> Iterator[Path]:
    """A temporary folder holding the backup as the earlier app kept it: `dental_clinic.db`
    and `dental_images/` beside it. Removed afterwards."""
    _require_space(runtime, archive, kind)
    work = runtime.settings.backups_dir / ".work" / f"legacy-{secrets.token_hex(6)}"
    folder = work / "source"
    folder.mkdir(parents=True)
    try:
        if kind == kinds.LEGACY_DB:
            shutil.copyfile(archive, folder / kinds.LEGACY_DB_NAME)
        elif kind == kinds.LEGACY_JSON:
            export = json_export.read_export(archive)
            json_export.write_legacy_database(export, folder / kinds.LEGACY_DB_NAME)
        else:
            _extract_legacy_zip(archive, folder)
        yield folder
    finally:
        remove_path(work)


def _require_space(runtime: Runtime, archive: Path, kind: str) -> None:
    """The backup is unpacked in backups/.work, the importer reads a private copy of its
    database, and the safety backup holds the current images: ask the disk for all of it."""
    if kind == kinds.LEGACY_ZIP:
        with zipfile.ZipFile(archive) as opened:
            unpacked = sum(info.file_size for info in opened.infolist())
    else:
        unpacked = archive.stat().st_size
    _files, current_bytes = runtime.store.tree_usage()
    require_free_space(
        runtime.settings.backups_dir,
        2 * unpacked + current_bytes,
        gettext(
            "restoring the earlier app's backup (unpacking it and a safety backup of the current "
            "data); nothing was changed"
        ),
        field="path",
    )


def _extract_legacy_zip(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as opened:
        problems = archive_problems(opened, archive.stat().st_size)
        if problems:
            raise BackupInvalid(problems)
        for info in opened.infolist():
            if info.is_dir():
                continue
            try:
                extract_member(opened, info, folder, info.filename.replace("\\", "/"))
            except UnsafeArchive as exc:
                raise BackupInvalid([str(exc)]) from exc


def preview(
    runtime: Runtime,
    archive: Path,
    kind: str,
    progress: Reporter,
    reading: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Check the earlier app's backup and say what importing it would bring, with the tooth
    numbering detected and the evidence for it, counted as `reading` (`reading_choices`)
    chooses."""
    importer = _importer()
    warnings = _checked(archive, progress, runtime.settings.backups_dir)
    with staged_source(runtime, archive, kind) as folder:
        found = importer.preview(importer.open_source(folder), runtime, **(reading or {}))
    warnings = [*warnings, *found.warnings, *_accounting(found)]
    return {
        "path": str(archive),
        "name": archive.name,
        "kind": kind,
        "size_bytes": archive.stat().st_size,
        "legacy": found.as_dict(),
        "notation": found.notation.as_dict(),
        "replaces": [
            gettext(
                "The earlier app's patients, treatments and images are added to the data "
                "here; what was imported before is not added twice."
            ),
            gettext(
                "A safety backup of the current data is made first, in {folder}; if anything "
                "fails it is put back by itself.",
                folder=runtime.settings.backups_dir,
            ),
        ],
        "warnings": warnings,
    }


def restore(
    runtime: Runtime,
    archive: Path,
    kind: str,
    progress: Reporter,
    *,
    reading: dict[str, Any] | None,
    put_back: Callable[[Path], None],
) -> dict[str, Any]:
    """Import the earlier app's backup into the current data, its teeth read as `reading`
    (`reading_choices`) chooses, else as the evidence decides: checked, staged, safety
    backup, import; on any failure `put_back(safety backup)` restores the data as it was."""
    reading = reading or {}
    importer = _importer()
    settings = runtime.settings
    warnings = _checked(
        archive, Step(progress, 1, 3, gettext("checking the backup")), settings.backups_dir
    )
    with staged_source(runtime, archive, kind) as folder:
        source = importer.open_source(folder)
        chosen = _reading_used(importer, source, runtime, reading)
        safety = create_backup(
            runtime,
            settings.backups_dir,
            progress=Step(progress, 2, 3, gettext("safety backup of the current data")),
            prefix=SAFETY_PREFIX,
        )
        progress.update(message=gettext("Step 3 of 3, importing the earlier app's data"))
        import_marker.mark_started(runtime.sessions, archive, safety.path)
        try:
            report = importer.import_legacy(runtime, source, **reading, progress=progress)
        except BaseException:
            put_back(safety.path)
            import_marker.clear(runtime.sessions)
            raise
        import_marker.clear(runtime.sessions)
    return {
        "kind": kind,
        "imported": report.as_dict(),
        "notation": chosen,
        "safety_backup": str(safety.path),
        "warnings": warnings,
    }


def _accounting(found: Any) -> list[str]:
    """Records against files: the earlier app's backups copied the database without its -wal,
    so the archive can hold files of rows its database lacks. Said, never dropped silently."""
    kept, listed = found.files_kept_as_patient_images, found.unreferenced_files
    if not kept and not listed:
        return []
    files = found.images_found + kept + listed
    names = found.unreferenced_names
    more = gettext(" and {count} more", count=listed - len(names)) if listed > len(names) else ""
    named = f": {', '.join(names)}{more}" if names else ""
    return [
        gettext(
            "The backup's database holds {rows} image records; {files} image files are in the "
            "archive; {unnamed} files no record names (their rows were likely lost when the "
            "earlier app backed up its database without its -wal file): {kept} are kept as "
            "patient-level images of their folder's patient, {listed} are left out{named}.",
            rows=found.image_rows,
            files=files,
            unnamed=kept + listed,
            kept=kept,
            listed=listed,
            named=named,
        )
    ]


def _reading_used(importer: Any, source: Any, runtime: Runtime, reading: dict[str, Any]) -> str:
    """How the backup's teeth are read: as chosen, the rest per table generation from the
    evidence; raises ValidationError naming the generations still to choose."""
    shown = importer.preview(source, runtime, **reading)
    used: str = shown.reading
    if used:
        return used
    evidence = [
        f"{generation}: " + "; ".join(entry["notation"]["evidence"])
        for generation, entry in shown.generations.items()
        if entry["used"] is None
    ]
    raise ValidationError(
        gettext(
            "The tooth numbering of this backup cannot be told for certain ({evidence}). Choose "
            "Universal or FDI (for every table, or for each table generation), then restore "
            "again. Nothing was changed.",
            evidence=" / ".join(evidence),
        ),
        field="notation",
    )
