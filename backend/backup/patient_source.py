"""A backup opened to restore one patient from it, touching nothing live: its database
rebuilt into our own schema in a scratch folder under backups/.work (the backup's file is read
as untrusted data and never adopted, as a full restore does), and each image file read from it
on demand, checked against what the backup says it is.

- Our own zip: the central directory and entry names pass the archive safety rules, the
  manifest is read and must agree with the zip, the database entry is checked against its
  checksum and rebuilt (backend.backup.rebuild). Only the entries one patient needs are read
  later, each counted against its declared size and checked against the manifest's checksum;
  the other patients' images are never decompressed.
- Our encrypted zip: the same, opened with the passphrase (kept with the opened backup for the
  entries read later).
- One backup of a backup set (plain or encrypted, backend.backup.set_crypto): its manifest's
  names pass the same rules, its database is read against its checksum and rebuilt; each
  image file is read later from the set's files/, checked (and decrypted) on the way.
- The earlier app's backups (.zip, .db, .json): checked and staged as its full restore does,
  then imported by the legacy importer into a scratch installation of our own; its database
  and image tree are then what the patient is taken from.

Opened backups are kept by a random token (the UI picks the patient, previews, then restores)
and removed when restored from, replaced, or left for STALE_AFTER_S."""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine

from backend.backup import backup_set as bs
from backend.backup import kinds
from backend.backup.archive_safety import (
    UnsafeArchive,
    archive_problems,
    extract_member,
    require_room,
    stream_member,
)
from backend.backup.dbcheck import snapshot_problems
from backend.backup.encrypted_zip import UNREADABLE
from backend.backup.encrypted_zip import open_backup as open_zip
from backend.backup.errors import BackupInvalid
from backend.backup.fsutil import require_free_space
from backend.backup.legacy import backups as legacy_backups
from backend.backup.manifest import DATABASE_ENTRY, MANIFEST_NAME, Entry, Manifest, parse_manifest
from backend.backup.rebuild import ARCHIVE_DATABASE, rebuild
from backend.backup.set_crypto import SetKey
from backend.backup.set_verify import (
    DamagedFile,
    copy_database,
    manifest_problems,
    read_checked,
    stored_path,
)
from backend.backup.verify import MAX_MANIFEST_BYTES, _structure_problems
from backend.config import Settings, sqlite_url
from backend.errors import NotFound, ValidationError
from backend.fileio import file_sha256, remove_path
from backend.i18n import gettext
from backend.jobs import Progress, Reporter, Step
from backend.runtime import open_installation
from backend.storage import UnsafePath, resolve_under

log = logging.getLogger(__name__)

WORK_PREFIX = "patient-"
STALE_AFTER_S = 3 * 3600
# An encrypted backup, opened, holds its key (or passphrase) and its decrypted database: not
# for longer than a restore takes.
ENCRYPTED_STALE_AFTER_S = 30 * 60
KEEP_OPEN = 3
CHUNK = 1024 * 1024


@dataclass
class OpenedBackup:
    """A backup ready to give one patient back. `database` is of our newest schema. Image
    files are read from the zip (`manifest` set; `passphrase` opens an encrypted one), from
    the set (`manifest` and `set_dir` set; `key` for an encrypted set) or from `image_root`
    (an earlier app's backup, imported into the scratch folder)."""

    token: str
    archive: Path
    kind: str
    folder: Path
    database: Path
    stamp: tuple[int, int]
    created_at: str | None
    manifest: Manifest | None = None
    image_root: Path | None = None
    reading: str | None = None
    warnings: list[str] = field(default_factory=list)
    passphrase: str | None = field(default=None, repr=False)
    set_dir: Path | None = None
    key: SetKey | None = field(default=None, repr=False)
    opened_at: float = field(default_factory=time.monotonic)

    def engine(self) -> Engine:
        """A connection pool on the rebuilt database (the caller disposes of it)."""
        return create_engine(sqlite_url(self.database))

    def summary(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "path": str(self.archive),
            "name": bs.backup_label(self.archive) if self.set_dir else self.archive.name,
            "kind": self.kind,
            "created_at": self.created_at,
            "reading": self.reading,
            "warnings": list(self.warnings),
        }

    def still_the_same(self) -> None:
        """The archive is still the file that was opened (not replaced or changed since)."""
        try:
            stat = self.archive.stat()
        except OSError as exc:
            raise ValidationError(
                gettext("The backup {name} is no longer there.", name=self.archive.name),
                field="path",
            ) from exc
        if (stat.st_size, stat.st_mtime_ns) != self.stamp or not self.database.is_file():
            raise ValidationError(
                gettext(
                    "The backup {name} changed since it was opened: open it again.",
                    name=self.archive.name,
                ),
                field="path",
            )

    def has_file(self, relative: str) -> bool:
        if self.manifest is not None:
            return relative in self.manifest.entries
        assert self.image_root is not None
        try:
            return resolve_under(self.image_root, relative).is_file()
        except UnsafePath:
            return False

    @contextlib.contextmanager
    def open_files(self) -> Iterator[zipfile.ZipFile | None]:
        """The zip opened once for many `copy_file` calls (None for a folder or a set)."""
        if self.manifest is None or self.set_dir is not None:
            yield None
            return
        with open_zip(self.archive, self.passphrase) as archive:
            yield archive

    def copy_file(
        self,
        relative: str,
        target: Path,
        expected: tuple[int, str],
        on_bytes: Callable[[int], None] | None = None,
        *,
        archive: zipfile.ZipFile | None = None,
    ) -> None:
        """Write the backup's file `relative` to the new file `target`, which must then be
        `expected` (size, sha256) as the backup's image row says (and, for our zip, as the
        manifest says). Raises BackupInvalid, leaving no `target`, when it is not. `archive`:
        the zip as `open_files` opened it."""
        if self.manifest is None:
            self._copy_from_folder(relative, target, expected, on_bytes)
        elif self.set_dir is not None:
            self._copy_from_set(relative, target, expected, on_bytes)
        elif archive is None:
            with self.open_files() as opened:
                assert opened is not None
                self._copy_from_zip(opened, relative, target, expected, on_bytes)
        else:
            self._copy_from_zip(archive, relative, target, expected, on_bytes)

    def _manifest_entry(self, relative: str, expected: tuple[int, str]) -> Entry:
        """The manifest's entry for ``relative``, refused unless it has the size and checksum
        the image row names (a backup whose files and rows disagree restores nothing)."""
        assert self.manifest is not None
        entry = self.manifest.entries.get(relative)
        if entry is None or (entry.size, entry.sha256) != expected:
            raise BackupInvalid(
                [
                    gettext(
                        "{name} is not in the backup as its image record describes it.",
                        name=relative[:120],
                    )
                ]
            )
        return entry

    def _copy_from_zip(
        self,
        archive: zipfile.ZipFile,
        relative: str,
        target: Path,
        expected: tuple[int, str],
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        entry = self._manifest_entry(relative, expected)
        info = archive.getinfo(relative)
        if info.file_size != entry.size:
            raise BackupInvalid([gettext("{name} is damaged.", name=relative[:120])])
        try:
            _path, size, digest = extract_member(
                archive, info, target.parent, target.name, on_bytes=on_bytes
            )
        except UnsafeArchive as exc:
            raise BackupInvalid([str(exc)]) from exc
        if (size, digest) != expected:
            target.unlink(missing_ok=True)
            raise BackupInvalid(
                [
                    gettext(
                        "{name} does not match its checksum in the manifest: damaged.",
                        name=relative[:120],
                    )
                ]
            )

    def _copy_from_set(
        self,
        relative: str,
        target: Path,
        expected: tuple[int, str],
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        entry = self._manifest_entry(relative, expected)
        try:
            with open(target, "xb") as writing:
                read_checked(
                    stored_path(self.archive, relative, entry.sha256),
                    entry.size,
                    entry.sha256,
                    writing.write,
                    on_bytes,
                    key=self.key,
                )
        except DamagedFile as exc:
            target.unlink(missing_ok=True)
            raise BackupInvalid([f"{relative[:120]}: {exc}"]) from exc
        except BaseException:
            target.unlink(missing_ok=True)
            raise

    def _copy_from_folder(
        self,
        relative: str,
        target: Path,
        expected: tuple[int, str],
        on_bytes: Callable[[int], None] | None,
    ) -> None:
        assert self.image_root is not None
        source = resolve_under(self.image_root, relative)
        with open(source, "rb") as reading, open(target, "xb") as writing:
            while block := reading.read(CHUNK):
                writing.write(block)
                if on_bytes is not None:
                    on_bytes(len(block))
        if (target.stat().st_size, file_sha256(target)) != expected:
            target.unlink(missing_ok=True)
            raise BackupInvalid([gettext("{name} is damaged.", name=relative[:120])])


_opened: dict[str, OpenedBackup] = {}
_lock = threading.Lock()


def open_backup(
    settings: Settings,
    archive: Path,
    progress: Reporter,
    reading: dict[str, Any] | None = None,
    passphrase: str | None = None,
) -> OpenedBackup:
    """Open `archive` (our zip, one backup of a set, or a backup of the earlier app) to
    restore one patient from it; `reading` is how an earlier app's backup's teeth are read
    (`reading_choices`), `passphrase` opens an encrypted one (PassphraseNeeded,
    WrongPassphrase). Raises BackupInvalid when the backup is damaged or hostile; nothing live
    is touched."""
    _forget_stale()
    archive = bs.normalized(Path(archive))
    stat = archive.stat()
    kind = kinds.detect_kind(archive)
    token = secrets.token_hex(8)
    folder = settings.backups_dir / ".work" / f"{WORK_PREFIX}{token}"
    folder.mkdir(parents=True)
    try:
        if kind == kinds.BACKUP:
            opened = _open_zip(archive, kind, folder, token, progress, passphrase)
        elif kind == kinds.SET_BACKUP:
            opened = _open_set(archive, folder, token, progress, passphrase)
        elif kind == kinds.BACKUP_SET:
            raise BackupInvalid(
                [gettext("This is a whole backup set: choose one of its backups to restore.")]
            )
        elif kind in kinds.LEGACY_KINDS:
            opened = _open_legacy(settings, archive, kind, folder, token, progress, reading or {})
        else:
            raise BackupInvalid(
                [
                    gettext(
                        "This file is not a backup of Dental Images nor of the earlier app: "
                        "there is no patient to restore from it."
                    )
                ]
            )
        opened.stamp = (stat.st_size, stat.st_mtime_ns)
    except BaseException:
        remove_path(folder)
        raise
    with _lock:
        _opened[token] = opened
        for old in sorted(_opened.values(), key=lambda o: o.opened_at)[:-KEEP_OPEN]:
            _discard(old.token)
    log.info("backup %s opened to restore one patient (%s)", archive, kind)
    return opened


def opened_backup(token: Any) -> OpenedBackup:
    """The backup opened under `token`; NotFound when it was closed or never opened."""
    with _lock:
        found = _opened.get(token) if isinstance(token, str) else None
    if found is None or not found.folder.is_dir():
        raise NotFound(gettext("This backup is no longer open: choose it again."))
    return found


def close_backup(token: str) -> None:
    with _lock:
        _discard(token)


def _discard(token: str) -> None:
    found = _opened.pop(token, None)
    if found is not None:
        remove_path(found.folder)


def _forget_stale() -> None:
    now = time.monotonic()
    with _lock:
        for opened in list(_opened.values()):
            encrypted = opened.key is not None or opened.passphrase is not None
            if now - opened.opened_at > (ENCRYPTED_STALE_AFTER_S if encrypted else STALE_AFTER_S):
                _discard(opened.token)


def _open_zip(
    archive: Path,
    kind: str,
    folder: Path,
    token: str,
    progress: Reporter,
    passphrase: str | None,
) -> OpenedBackup:
    progress.update(message=gettext("Checking the backup"))
    size = archive.stat().st_size
    try:
        with open_zip(archive, passphrase) as opened:
            problems = archive_problems(opened, size)
            if problems:
                raise BackupInvalid(problems)
            manifest = _manifest(opened)
            problems = _structure_problems(opened, manifest)
            if problems:
                raise BackupInvalid(problems)
            info = opened.getinfo(DATABASE_ENTRY)
            require_room([(info, folder)])
            progress.update(message=gettext("Reading the backup's database"))
            try:
                _path, nbytes, digest = extract_member(opened, info, folder, ARCHIVE_DATABASE)
            except UnsafeArchive as exc:
                raise BackupInvalid([str(exc)]) from exc
    except UNREADABLE as exc:
        if isinstance(exc, BackupInvalid | ValidationError):
            raise
        raise BackupInvalid([gettext("The backup cannot be read ({exc}).", exc=exc)]) from exc
    expected = manifest.entries[DATABASE_ENTRY]
    if (nbytes, digest) != (expected.size, expected.sha256):
        raise BackupInvalid(
            [gettext("The backup's database does not match its checksum: it is damaged.")]
        )
    database, warnings = _rebuilt(folder, manifest)
    return OpenedBackup(
        token=token,
        archive=archive,
        kind=kind,
        folder=folder,
        database=database,
        stamp=(0, 0),
        created_at=manifest.created_at,
        manifest=manifest,
        warnings=warnings,
        passphrase=passphrase,
    )


def _open_set(
    backup_dir: Path, folder: Path, token: str, progress: Reporter, passphrase: str | None
) -> OpenedBackup:
    progress.update(message=gettext("Checking the backup"))
    set_dir = backup_dir.parent.parent
    key = bs.set_key(set_dir, passphrase)
    manifest = bs.read_manifest(backup_dir, key)
    problems = manifest_problems(manifest)
    if problems:
        raise BackupInvalid(problems)
    entry = manifest.entries[DATABASE_ENTRY]
    require_free_space(folder, entry.size, gettext("the backup's database"))
    progress.update(message=gettext("Reading the backup's database"))
    try:
        copy_database(backup_dir, entry, key, folder / ARCHIVE_DATABASE)
    except DamagedFile as exc:
        raise BackupInvalid([str(exc)]) from exc
    database, warnings = _rebuilt(folder, manifest)
    return OpenedBackup(
        token=token,
        archive=backup_dir,
        kind=kinds.SET_BACKUP,
        folder=folder,
        database=database,
        stamp=(0, 0),
        created_at=manifest.created_at,
        manifest=manifest,
        warnings=warnings,
        set_dir=set_dir,
        key=key,
    )


def _rebuilt(folder: Path, manifest: Manifest) -> tuple[Path, list[str]]:
    """The backup's database (copied to ARCHIVE_DATABASE in `folder`) rebuilt into our own
    schema and checked against the manifest; returns it and the warnings."""
    database = folder / DATABASE_ENTRY
    rebuild(folder / ARCHIVE_DATABASE, database)
    (folder / ARCHIVE_DATABASE).unlink()
    problems, warnings = snapshot_problems(database, manifest, manifest.schema_version)
    if problems:
        raise BackupInvalid(problems)
    return database, warnings


def _manifest(archive: zipfile.ZipFile) -> Manifest:
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError as exc:
        raise BackupInvalid([gettext("The backup has no manifest.json.")]) from exc
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BackupInvalid([gettext("manifest.json is larger than any real manifest.")])
    chunks: list[bytes] = []
    try:
        stream_member(archive, info, chunks.append)
        return parse_manifest(b"".join(chunks))
    except (UnsafeArchive, ValueError) as exc:
        raise BackupInvalid([str(exc)]) from exc


def _open_legacy(
    settings: Settings,
    archive: Path,
    kind: str,
    folder: Path,
    token: str,
    progress: Reporter,
    reading: dict[str, Any],
) -> OpenedBackup:
    """The earlier app's backup, imported whole into a scratch installation of our own (its
    patients, treatments and images read exactly as a full import would read them)."""
    from backend.migration import importer

    warnings = legacy_backups._checked(
        archive, Step(progress, 1, 2, gettext("checking the backup")), settings.backups_dir
    )
    scratch = Settings(data_dir=folder / "data", db_url=sqlite_url(folder / "data" / "dental.db"))
    scratch_runtime = open_installation(scratch)
    try:
        with legacy_backups.staged_source(scratch_runtime, archive, kind) as source_folder:
            source = importer.open_source(source_folder)
            chosen = legacy_backups._reading_used(importer, source, scratch_runtime, reading)
            progress.update(message=gettext("Step 2 of 2, reading the earlier app's data"))
            shown = progress if isinstance(progress, Progress) else None  # Cancel reaches it
            report = importer.import_legacy(scratch_runtime, source, **reading, progress=shown)
    finally:
        scratch_runtime.close()
    imported = report.as_dict()
    for note in imported.get("notes", []):
        warnings.append(str(note))
    for name in ("thumbnails", "logs", "backups"):
        shutil.rmtree(scratch.data_dir / name, ignore_errors=True)
    return OpenedBackup(
        token=token,
        archive=archive,
        kind=kind,
        folder=folder,
        database=scratch.data_dir / "dental.db",
        stamp=(0, 0),
        created_at=None,
        image_root=scratch.image_store_root,
        reading=chosen,
        warnings=warnings,
    )
