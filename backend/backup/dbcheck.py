"""Checks of a database snapshot (a SQLite file from an archive or being staged): not damaged,
made by a schema this program knows, rows that agree with the manifest."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError

from backend.backup.manifest import Manifest
from backend.fileio import is_safe_file_name
from backend.i18n import gettext, ngettext
from backend.paths import migrations_dir
from backend.storage import UnsafePath, image_folder, trash_folder

REQUIRED_TABLES = ("patients", "treatments", "images", "app_state")
SHOWN = 5


def known_revision(revision: str | None) -> bool:
    """Whether this program's migrations know `revision` (a backup from a newer program's
    schema cannot be restored here)."""
    if not revision:
        return False
    try:
        return ScriptDirectory(str(migrations_dir())).get_revision(revision) is not None
    except CommandError:
        return False


def sqlite_problems(path: Path) -> list[str]:
    """Damage inside a SQLite file, and rows pointing at rows that do not exist."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as connection:
            result = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            if result != ["ok"]:
                return [
                    gettext(
                        "The database in the backup is damaged ({damage}).",
                        damage="; ".join(result[:3]),
                    )
                ]
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
            missing = [t for t in REQUIRED_TABLES if t not in tables]
            if missing:
                return [
                    gettext(
                        "The database in the backup has no {tables} table.",
                        tables=", ".join(missing),
                    )
                ]
            broken = connection.execute("PRAGMA foreign_key_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [gettext("The database in the backup cannot be read ({reason}).", reason=exc)]
    if broken:
        return [
            ngettext(
                "The database in the backup has {n} row pointing at a missing row.",
                "The database in the backup has {n} rows pointing at missing rows.",
                len(broken),
            )
        ]
    return []


def snapshot_problems(
    path: Path, manifest: Manifest, schema_version: str | None
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the archive's database against its manifest: counts, schema,
    and, when the archive holds the images, a file for every image row."""
    problems = sqlite_problems(path)
    if problems:
        return problems, []
    warnings: list[str] = []
    if not known_revision(schema_version):
        problems.append(
            gettext(
                "The backup's database has schema {revision}, which this version of the program "
                "does not know (the backup was made by version {version}). Update the program, "
                "then restore it.",
                revision=schema_version or gettext("unknown"),
                version=manifest.app_version,
            )
        )
    with contextlib.closing(sqlite3.connect(path)) as connection:
        for table in ("patients", "treatments", "images"):
            held = connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            if held != manifest.counts[table]:
                problems.append(
                    gettext(
                        "The manifest counts {expected} {table}, the database in the backup "
                        "holds {held}.",
                        expected=manifest.counts[table],
                        table=table,
                        held=held,
                    )
                )
        problems += foreign_file_rows(connection)
        rows = connection.execute("SELECT folder_path, file_name, sha256 FROM images")
        if manifest.includes_images:
            problems_, warnings_ = _image_rows(rows, manifest)
            problems += problems_
            warnings += warnings_
    return problems, warnings


def foreign_file_rows(connection: sqlite3.Connection) -> list[str]:
    """A problem naming the image rows that point anywhere but at their own file: a folder
    other than exactly the one their patient, tooth and type give, or a file name that is not
    one plain name. This program never writes such a row; a crafted one (`./` + `dental.db`)
    would let a click on that image serve or delete any file of the data folder, so the whole
    archive is refused."""
    foreign = []
    query = "SELECT id, patient_id, tooth, image_type, folder_path, file_name FROM images"
    for image_id, patient_id, tooth, image_type, folder, name in connection.execute(query):
        try:
            own = image_folder(str(patient_id), None if tooth is None else str(tooth), image_type)
        except UnsafePath:
            own = None
        folder, name = str(folder or ""), str(name or "")
        # The trash's mirror of its own folder is its own too (backend.usecases.trash).
        if (
            own is None
            or normalized_folder(folder) not in (own, trash_folder(own))
            or not is_safe_file_name(name)
        ):
            foreign.append(gettext("image {id} ({path})", id=image_id, path=folder + name))
    if not foreign:
        return []
    # One sentence for any count (a test reads this English for a single record).
    return [
        gettext(
            "{count} image records in the backup name a file that is not their own (first: "
            "{first}). This program never writes such a record: the backup was altered, so "
            "nothing of it is restored.",
            count=len(foreign),
            first=", ".join(foreign[:SHOWN]),
        )
    ]


def _image_rows(rows: sqlite3.Cursor, manifest: Manifest) -> tuple[list[str], list[str]]:
    """Every image row needs its file in the archive: at its path (separators and trailing
    slash normalised), or elsewhere under the same name with the same checksum (a restore puts
    it in place)."""
    missing_listed = set(manifest.missing_files)
    by_name: set[tuple[str, str]] | None = None
    absent, known_absent, differing, elsewhere = [], 0, 0, 0
    for folder, file_name, sha256 in rows:
        name = normalized_folder(folder) + file_name
        entry = manifest.entries.get(name)
        if entry is None and (folder + file_name) in missing_listed:
            known_absent += 1
        elif entry is None:
            if by_name is None:
                by_name = {(n.rsplit("/", 1)[-1], e.sha256) for n, e in manifest.entries.items()}
            if (file_name, sha256) in by_name:
                elsewhere += 1
            else:
                absent.append(folder + file_name)
        elif sha256 and entry.sha256 != sha256:
            differing += 1
    problems, warnings = [], []
    if absent:
        problems.append(
            ngettext(
                "{n} image record has no file in the archive (first: {first}).",
                "{n} image records have no file in the archive (first: {first}).",
                len(absent),
                first=", ".join(absent[:SHOWN]),
            )
        )
    if elsewhere:
        warnings.append(
            ngettext(
                "{n} image is filed under another folder in the archive; a restore puts it in "
                "its place.",
                "{n} images are filed under another folder in the archive; a restore puts them "
                "in their place.",
                elsewhere,
            )
        )
    if known_absent:
        warnings.append(
            ngettext(
                "{n} image file was already missing from the store when this backup was made; "
                "that image will show as missing.",
                "{n} image files were already missing from the store when this backup was "
                "made; those images will show as missing.",
                known_absent,
            )
        )
    if differing:
        warnings.append(
            ngettext(
                "{n} image file differs from the checksum recorded when it was added (it was "
                "already damaged in the store when the backup was made).",
                "{n} image files differ from the checksum recorded when they were added (they "
                "were already damaged in the store when the backup was made).",
                differing,
            )
        )
    return problems, warnings


def normalized_folder(folder: str) -> str:
    """An image row's folder with forward slashes and a trailing slash."""
    cleaned = folder.replace("\\", "/")
    return cleaned if cleaned.endswith("/") else cleaned + "/"
