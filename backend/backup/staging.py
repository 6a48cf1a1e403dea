"""Staging a restore next to the live data, touching nothing live: every entry extracted and
checked against the manifest, the database brought to this program's schema, image paths
corrected, and the result checked."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import app_state
from backend.backup.archive_safety import UnsafeArchive, extract_member, require_room
from backend.backup.dbcheck import normalized_folder, sqlite_problems
from backend.backup.encrypted_zip import open_backup
from backend.backup.errors import BackupInvalid
from backend.backup.manifest import DATABASE_ENTRY, Entry, Manifest
from backend.backup.set_restore import extract_set_backup, start_unpacking
from backend.config import IMAGES_DIRNAME, sqlite_url
from backend.db import create_db_engine, upgrade_schema
from backend.fileio import file_sha256, rename, sync_all
from backend.i18n import ngettext
from backend.jobs import Reporter
from backend.models import Image
from backend.storage import UnsafePath, resolve_under

log = logging.getLogger(__name__)

KEPT_STATE_PREFIX = app_state.BACKUP_PREFIX


def extract_archive(
    archive_path: Path,
    manifest: Manifest,
    database: Path,
    image_root: Path | None,
    progress: Reporter,
    passphrase: str | None = None,
) -> None:
    """Extract the database to `database` and (when `image_root` is given) the image tree under
    `image_root`, then flush them to disk. Before anything is written, every entry's declared
    size must be its size in the manifest and all of them must fit on the disks they go to;
    each entry written is checked against its size and checksum in the manifest. A backup of
    a set (a folder) is unpacked from the set's files the same way."""
    if archive_path.is_dir():
        extract_set_backup(archive_path, manifest, database, image_root, progress, passphrase)
        return
    wanted = start_unpacking(manifest, image_root, progress)
    written: list[Path] = []
    with open_backup(archive_path, passphrase) as archive:
        infos = _declared(archive, wanted)
        places = {
            name: (database.parent, database.name) if name == DATABASE_ENTRY else (image_root, name)
            for name in wanted
        }
        require_room((infos[name], root) for name, (root, _) in places.items() if root)
        for name, expected in wanted.items():
            root, relative = places[name]
            assert root is not None
            try:
                path, size, digest = extract_member(
                    archive,
                    infos[name],
                    root,
                    relative,
                    on_bytes=lambda n: progress.advance(0, n),
                )
            except UnsafeArchive as exc:
                raise BackupInvalid([str(exc)]) from exc
            written.append(path)
            if (size, digest) != (expected.size, expected.sha256):
                raise BackupInvalid(
                    [f"{name[:120]} does not match its checksum in the manifest: damaged."]
                )
            progress.advance(1)
    sync_all(written)


def _declared(archive: zipfile.ZipFile, wanted: dict[str, Entry]) -> dict[str, zipfile.ZipInfo]:
    """The zip's entry for each wanted name, refused unless it declares the manifest's size."""
    infos: dict[str, zipfile.ZipInfo] = {}
    problems = []
    for name, expected in wanted.items():
        try:
            info = archive.getinfo(name)
        except KeyError:
            problems.append(f"{name[:120]} is listed in the manifest but missing from the archive.")
            continue
        if info.file_size != expected.size:
            problems.append(
                f"{name[:120]} is {info.file_size} bytes in the archive but {expected.size} in "
                "the manifest."
            )
        infos[name] = info
    if problems:
        raise BackupInvalid(problems)
    return infos


def prepare_database(
    database: Path, image_root: Path | None, manifest: Manifest, kept_state: dict[str, str]
) -> list[str]:
    """Bring the staged database to this program's schema, keep this installation's own backup
    settings (`kept_state`), correct image paths against the staged tree, and check the result.
    Returns warnings; raises BackupInvalid when the staged data is not right."""
    engine = create_db_engine(sqlite_url(database))
    try:
        if upgrade_schema(engine):
            log.info("restored database upgraded from schema %s", manifest.schema_version)
        with Session(engine) as session:
            _keep_state(session, kept_state)
            corrected = _correct_image_paths(session, image_root) if image_root else 0
            session.commit()
    finally:
        engine.dispose()
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")  # one self-contained file to swap in
    problems = sqlite_problems(database)
    warnings = [f"{corrected} image paths were corrected."] if corrected else []
    if image_root is not None and not problems:
        problems += _rows_without_files(database, image_root, manifest)
    if problems:
        raise BackupInvalid(problems)
    return warnings


def _keep_state(session: Session, kept_state: dict[str, str]) -> None:
    kept = {key: value for key, value in kept_state.items() if key != app_state.RESTORE_MARKER}
    app_state.replace_prefix(session, KEPT_STATE_PREFIX, kept)


def _correct_image_paths(session: Session, image_root: Path) -> int:
    """Rows whose folder uses backslashes or lacks its trailing slash are normalised; a row
    whose file is not at its place is re-linked to a file of the same name and checksum found
    elsewhere in the restored tree (the usage guide's fallback)."""
    corrected = 0
    by_name: dict[str, list[Path]] | None = None
    for image in session.scalars(select(Image)):
        folder = normalized_folder(image.folder_path)
        if folder != image.folder_path:
            image.folder_path = folder
            corrected += 1
        try:
            expected = resolve_under(image_root, image.relative_path)
        except UnsafePath:
            continue
        if expected.is_file():
            continue
        if by_name is None:
            by_name = _index(image_root / IMAGES_DIRNAME)
        for candidate in by_name.get(image.file_name, []):
            if candidate.is_file() and file_sha256(candidate) == image.sha256:
                expected.parent.mkdir(parents=True, exist_ok=True)
                rename(candidate, expected)
                corrected += 1
                break
    return corrected


def _index(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            found.setdefault(name, []).append(Path(dirpath) / name)
    return found


def _rows_without_files(database: Path, image_root: Path, manifest: Manifest) -> list[str]:
    listed_missing = set(manifest.missing_files)
    absent = []
    with contextlib.closing(sqlite3.connect(database)) as connection:
        for (relative,) in connection.execute("SELECT folder_path || file_name FROM images"):
            if relative in listed_missing:
                continue
            try:
                present = resolve_under(image_root, relative).is_file()
            except UnsafePath:
                present = False
            if not present:
                absent.append(relative)
    if not absent:
        return []
    return [
        ngettext(
            "{n} image record of the backup has no file after unpacking (first: {first}).",
            "{n} image records of the backup have no file after unpacking (first: {first}).",
            len(absent),
            first=", ".join(absent[:5]),
        )
    ]
