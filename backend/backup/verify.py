"""Checking an archive completely, without touching any data: zip structure, entry names and
types, declared sizes, the manifest (whose sizes must be the zip's), every byte of every entry
counted against its declared size and checked against its checksum, and the database inside.
Every problem is reported in its own sentence."""

from __future__ import annotations

import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.backup import backup_set, kinds
from backend.backup.archive_safety import (
    DEFAULT_LIMITS,
    ArchiveLimits,
    UnsafeArchive,
    archive_problems,
    layout_problems,
    room_problem,
    stream_member,
)
from backend.backup.dbcheck import snapshot_problems
from backend.backup.encrypted_zip import BAD_ZIP, UNREADABLE, is_encrypted, open_backup
from backend.backup.errors import BackupInvalid
from backend.backup.legacy import json_export
from backend.backup.manifest import (
    DATABASE_ENTRY,
    IMAGES_PREFIX,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    parse_manifest,
)
from backend.backup.rebuild import ARCHIVE_DATABASE, rebuild
from backend.i18n import gettext, lazy_gettext
from backend.jobs import Progress, Reporter
from backend.untrusted_db import OverBudget, open_untrusted

MAX_MANIFEST_BYTES = 512 * 1024 * 1024
BROKEN_ZIP = lazy_gettext(
    "The file is not a complete zip archive: it may have been cut short (copied before it was "
    "finished, or the disk was full) or damaged."
)


@dataclass
class VerifyReport:
    path: Path
    kind: str
    size_bytes: int = 0
    encrypted: bool = False
    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": self.path.name,
            "kind": self.kind,
            "ok": self.ok,
            "size_bytes": self.size_bytes,
            "encrypted": self.encrypted,
            "backup": self.manifest.summary() if self.manifest else None,
            "problems": self.problems[:200],
            "warnings": self.warnings[:50],
        }


def verify_archive(
    path: Path,
    *,
    progress: Reporter | None = None,
    limits: ArchiveLimits = DEFAULT_LIMITS,
    work_dir: Path | None = None,
    own_totals: bool = True,
    passphrase: str | None = None,
) -> VerifyReport:
    """Check the archive at `path` completely. `own_totals=False` when the caller's progress
    already counts these bytes (a backup verifying what it wrote). An encrypted backup needs
    its `passphrase`: PassphraseNeeded without one, WrongPassphrase for a wrong one (raised,
    since they are no fault of the archive)."""
    progress = progress or Progress()
    path = Path(path)
    if path.is_dir() or backup_set.normalized(path) != path:
        from backend.backup.set_verify import verify_set_path  # it builds on this module

        return verify_set_path(path, progress=progress, work_dir=work_dir, passphrase=passphrase)
    if not path.is_file():
        return VerifyReport(
            path, kinds.UNKNOWN, problems=[gettext("There is no file at {path}.", path=path)]
        )
    report = VerifyReport(path, kinds.detect_kind(path), size_bytes=path.stat().st_size)
    if report.kind in kinds.LEGACY_KINDS:
        _verify_legacy(report, limits, work_dir, progress)
    elif report.kind == kinds.BROKEN_ZIP:
        report.problems.append(str(BROKEN_ZIP))
    elif report.kind == kinds.UNKNOWN:
        report.problems.append(_unknown_problem(path, report.size_bytes))
    else:
        _verify_backup(report, limits, work_dir, progress, own_totals, passphrase)
    return report


def _unknown_problem(path: Path, size: int) -> str:
    if size == 0:
        return gettext(
            "The file is empty (0 bytes): this is not a backup of Dental Images. A backup that "
            "was being copied or saved when something failed can end up like this; use another."
        )
    with open(path, "rb") as handle:
        is_zip = handle.read(2) == b"PK"
    if not is_zip and zipfile.is_zipfile(path):  # a zip with something in front of it
        try:
            with zipfile.ZipFile(path) as archive:
                prefixed = layout_problems(archive)
        except UNREADABLE:
            prefixed = []
        if prefixed:
            return prefixed[0]
    if is_zip:
        return gettext(
            "This zip is not a backup of Dental Images (it has no manifest.json), nor one of the "
            "earlier app (it has no dental_clinic.db)."
        )
    return gettext(
        "This is not a backup of Dental Images: it is not a zip archive, nor a database or "
        "export of the earlier app."
    )


def _verify_backup(
    report: VerifyReport,
    limits: ArchiveLimits,
    work_dir: Path | None,
    progress: Reporter,
    own_totals: bool,
    passphrase: str | None,
) -> None:
    try:
        with open_backup(report.path, passphrase) as archive:
            report.encrypted = is_encrypted(archive)
            report.problems += archive_problems(archive, report.size_bytes, limits)
            if report.problems:
                return
            report.manifest = _read_manifest(archive, report)
            if report.manifest is None:
                return
            report.problems += _structure_problems(archive, report.manifest)
            if report.problems:
                return
            _check_every_entry(archive, report.manifest, report, progress, own_totals)
            if report.problems:
                return
            _check_database(archive, report, work_dir)
    except BAD_ZIP as exc:
        report.problems.append(f"{BROKEN_ZIP} ({exc})")
    except (OSError, ValueError) as exc:  # ValueError: a garbled name
        report.problems.append(f"{BROKEN_ZIP} ({exc})")


def _read_manifest(archive: zipfile.ZipFile, report: VerifyReport) -> Manifest | None:
    info = archive.getinfo(MANIFEST_NAME)
    if info.file_size > MAX_MANIFEST_BYTES:
        report.problems.append(gettext("manifest.json is larger than any real manifest."))
        return None
    chunks: list[bytes] = []
    try:
        stream_member(archive, info, chunks.append)
        return parse_manifest(b"".join(chunks))
    except (UnsafeArchive, ManifestError) as exc:
        report.problems.append(str(exc))
        return None


def _structure_problems(archive: zipfile.ZipFile, manifest: Manifest) -> list[str]:
    problems = []
    infos = {info.filename: info for info in archive.infolist()}
    for name, info in infos.items():
        if name == MANIFEST_NAME:
            continue
        if info.is_dir() or not (name == DATABASE_ENTRY or name.startswith(IMAGES_PREFIX)):
            problems.append(
                gettext("The archive holds {name}, which no backup holds.", name=repr(name[:120]))
            )
        elif name not in manifest.entries:
            problems.append(
                gettext(
                    "The archive holds {name}, which its manifest does not list.",
                    name=repr(name[:120]),
                )
            )
        elif info.file_size != manifest.entries[name].size:
            problems.append(
                gettext(
                    "{name} is {size} bytes in the archive but {listed} in the manifest.",
                    name=name[:120],
                    size=info.file_size,
                    listed=manifest.entries[name].size,
                )
            )
    for name in manifest.entries:
        if name not in infos:
            problems.append(
                gettext(
                    "{name} is listed in the manifest but missing from the archive.",
                    name=name[:120],
                )
            )
    return problems


def start_file_checks(progress: Reporter, manifest: Manifest) -> None:
    """Sets a verify job's totals to the manifest's files and bytes, before any is read."""
    progress.update(
        total=len(manifest.entries),
        current=0,
        bytes_total=manifest.total_bytes,
        bytes_done=0,
        message=gettext("Checking every file of the backup"),
    )


def _check_every_entry(
    archive: zipfile.ZipFile,
    manifest: Manifest,
    report: VerifyReport,
    progress: Reporter,
    own_totals: bool,
) -> None:
    if own_totals:
        start_file_checks(progress, manifest)
    else:
        progress.update(message=gettext("Verifying the backup"))
    for name, expected in manifest.entries.items():
        try:
            size, digest = stream_member(
                archive,
                archive.getinfo(name),
                lambda _block: None,
                on_bytes=lambda n: progress.advance(0, n),
            )
        except UnsafeArchive as exc:
            report.problems.append(str(exc))
            continue
        if (size, digest) != (expected.size, expected.sha256):
            report.problems.append(
                gettext(
                    "{name} does not match its checksum in the manifest: the archive is damaged.",
                    name=name[:120],
                )
            )
        if own_totals:
            progress.advance(1)


def _cannot_check(no_room: str) -> str:
    return gettext("The database inside cannot be checked. {reason}", reason=no_room)


def _check_database(archive: zipfile.ZipFile, report: VerifyReport, work_dir: Path | None) -> None:
    """The archive's database goes through the same rebuild a restore does (into a scratch
    folder, removed whatever happens): what verify accepts is what a restore copies."""
    assert report.manifest is not None
    with tempfile.TemporaryDirectory(prefix="dental-verify-", dir=work_dir) as folder:
        snapshot = Path(folder) / ARCHIVE_DATABASE
        info = archive.getinfo(DATABASE_ENTRY)
        if no_room := room_problem([(info, Path(folder))]):
            report.problems.append(_cannot_check(no_room))
            return
        with open(snapshot, "wb") as handle:
            stream_member(archive, info, handle.write)
        rebuilt_path = Path(folder) / DATABASE_ENTRY
        try:
            rebuilt = rebuild(snapshot, rebuilt_path)
        except BackupInvalid as exc:
            report.problems += exc.problems
            return
        problems, warnings = snapshot_problems(
            rebuilt_path, report.manifest, report.manifest.schema_version
        )
        if not problems and rebuilt.revision != report.manifest.schema_version:
            problems.append(gettext("The database's schema differs from the one in the manifest."))
    report.problems += problems
    report.warnings += warnings


def _verify_legacy(
    report: VerifyReport, limits: ArchiveLimits, work_dir: Path | None, progress: Reporter
) -> None:
    report.warnings.append(
        gettext(
            "This is a backup of the earlier app. It has no manifest, so only its own checks "
            "(zip checksums, database integrity) apply; restoring it imports its data."
        )
    )
    if report.kind == kinds.LEGACY_JSON:
        export, problems = json_export.examine_export(report.path)
        report.problems += problems
        summary = json_export.not_kept_summary(export)  # None for an empty export
        report.warnings += [summary] if summary else []
        return
    if report.kind == kinds.LEGACY_DB:
        report.problems += _legacy_db_problems(report.path)
        return
    try:
        with zipfile.ZipFile(report.path) as archive:
            report.problems += archive_problems(archive, report.size_bytes, limits)
            if report.problems:
                return
            files = [info for info in archive.infolist() if not info.is_dir()]
            progress.update(
                total=len(files),
                bytes_total=sum(info.file_size for info in files),
                message=gettext("Checking every file of the backup"),
            )
            for info in files:
                try:
                    stream_member(
                        archive, info, lambda _b: None, on_bytes=lambda n: progress.advance(0, n)
                    )
                except UnsafeArchive as exc:
                    report.problems.append(str(exc))
                progress.advance(1)
            if report.problems:
                return
            with tempfile.TemporaryDirectory(prefix="dental-verify-", dir=work_dir) as folder:
                database = Path(folder) / kinds.LEGACY_DB_NAME
                info = archive.getinfo(kinds.LEGACY_DB_NAME)
                if no_room := room_problem([(info, Path(folder))]):
                    report.problems.append(_cannot_check(no_room))
                    return
                with open(database, "wb") as handle:
                    stream_member(archive, info, handle.write)
                report.problems += _legacy_db_problems(database)
    except UNREADABLE as exc:
        report.problems.append(f"{BROKEN_ZIP} ({exc})")


def _legacy_db_problems(path: Path) -> list[str]:
    try:
        with open_untrusted(path) as database:
            result = [row[0] for row in database.all("PRAGMA integrity_check(20)")]
            tables = {name for kind, name, _t, _s in database.objects() if kind == "table"}
    except OverBudget as exc:
        return [gettext("The earlier app's database cannot be used. {reason}", reason=exc)]
    except sqlite3.DatabaseError as exc:
        return [gettext("The earlier app's database cannot be read ({reason}).", reason=exc)]
    if result != ["ok"]:
        return [
            gettext(
                "The earlier app's database is damaged ({reason}).", reason="; ".join(result[:3])
            )
        ]
    if "patients" not in tables:
        return [gettext("The database has no patients table: it is not one of the earlier app.")]
    return []
