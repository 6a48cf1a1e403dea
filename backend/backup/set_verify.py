"""Checking a backup of a set, or a whole set, without touching any data: the header, every
manifest (entry names as for a zip), every file the manifests name read once and checked
against its size and checksum, and every backup's database through the same rebuild a restore
does. A file is read only up to its declared size: one byte more is a problem, not a read. In
an encrypted set every file is also authenticated chunk by chunk as it is decrypted."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.backup import backup_set as bs
from backend.backup import set_crypto
from backend.backup.archive_safety import CHUNK, name_problem
from backend.backup.dbcheck import snapshot_problems
from backend.backup.errors import BackupInvalid
from backend.backup.manifest import DATABASE_ENTRY, IMAGES_PREFIX, Entry, Manifest
from backend.backup.rebuild import rebuild
from backend.backup.verify import VerifyReport, start_file_checks
from backend.fileio import long_path
from backend.i18n import gettext, ngettext
from backend.jobs import Progress, Reporter

# The associated data of an encrypted image file: its checksum, checked once decrypted, already
# ties its content to the manifest.
FILE_ROLE = "file"


class DamagedFile(Exception):
    """A file of the set that is missing, not a plain file, or not what its manifest says."""


@dataclass
class SetVerifyReport(VerifyReport):
    """A whole set: `backups` lists each complete backup with whether it is whole."""

    backups: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "backups": self.backups}


def stored_path(backup_dir: Path, name: str, sha256: str) -> Path:
    """Where the bytes of entry `name` (with that checksum) of a set backup are."""
    if name == DATABASE_ENTRY:
        return backup_dir / DATABASE_ENTRY
    return bs.file_path(backup_dir.parent.parent, sha256)


def read_checked(
    path: Path,
    size: int,
    sha256: str,
    sink: Callable[[bytes], object] = lambda _b: None,
    on_bytes: Callable[[int], None] | None = None,
    key: set_crypto.SetKey | None = None,
    role: str | None = None,
) -> None:
    """Stream the file `path` into `sink` (decrypted with the set's `key`, the file's `role`
    FILE_ROLE unless named), stopping at the first byte beyond `size`; DamagedFile unless
    it holds exactly `size` bytes with checksum `sha256`."""
    try:
        info = os.lstat(long_path(path))
    except OSError as exc:
        raise DamagedFile(gettext("{path} is missing.", path=path)) from exc
    if not stat.S_ISREG(info.st_mode):
        raise DamagedFile(gettext("{path} is not a plain file.", path=path))
    if key is not None and info.st_size != set_crypto.stored_size(size):
        raise DamagedFile(gettext("{path} is not the size its manifest says: damaged.", path=path))
    digest = hashlib.sha256()
    read = 0
    with open(long_path(path), "rb") as handle:
        for block in _blocks(handle, size, key, role or FILE_ROLE):
            read += len(block)
            if read > size:
                raise DamagedFile(
                    gettext("{path} is larger than its manifest says: damaged.", path=path)
                )
            digest.update(block)
            sink(block)
            if on_bytes is not None:
                on_bytes(len(block))
    if read != size or digest.hexdigest() != sha256:
        raise DamagedFile(
            gettext("{path} does not match its checksum in the manifest: damaged.", path=path)
        )


def _blocks(handle: Any, size: int, key: set_crypto.SetKey | None, role: str) -> Iterator[bytes]:
    if key is None:
        read = 0
        while block := handle.read(min(CHUNK, size - read + 1)):
            read += len(block)
            yield block
        return
    try:
        yield from set_crypto.decrypted_chunks(handle, key, role)
    except set_crypto.Undecryptable as exc:
        raise DamagedFile(
            gettext(
                "{path} does not decrypt with this set's key: it was changed or damaged.",
                path=handle.name,
            )
        ) from exc


def manifest_problems(manifest: Manifest) -> list[str]:
    problems = []
    for name in manifest.entries:
        if name == DATABASE_ENTRY:
            continue
        problem = name_problem(name)
        if problem is None and not name.startswith(IMAGES_PREFIX):
            problem = gettext("The manifest names {name}, which no backup holds.", name=name[:120])
        if problem:
            problems.append(problem)
    return problems


def copy_database(
    backup_dir: Path, entry: Entry, key: set_crypto.SetKey | None, target: Path
) -> None:
    """Write the backup's database (decrypted with `key`) to the new file `target`, checked
    against its manifest `entry` on the way; DamagedFile when it is not that file."""
    with open(target, "xb") as handle:
        read_checked(
            backup_dir / DATABASE_ENTRY,
            entry.size,
            entry.sha256,
            handle.write,
            key=key,
            role=DATABASE_ENTRY,
        )


def database_problems(
    backup_dir: Path,
    manifest: Manifest,
    work_dir: Path | None,
    *,
    rebuilt: bool = True,
    key: set_crypto.SetKey | None = None,
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the backup's database, copied (checked) into a scratch folder
    and rebuilt there as a restore would. Without `rebuilt` (a backup checking the snapshot it
    has just taken itself, which is no stranger's file) the copy is checked as it is: its
    integrity, schema and counts, and its rows against the manifest."""
    entry = manifest.entries[DATABASE_ENTRY]
    with tempfile.TemporaryDirectory(prefix="dental-verify-", dir=work_dir) as folder:
        copied = Path(folder) / "archive.sqlite"
        try:
            copy_database(backup_dir, entry, key, copied)
        except DamagedFile as exc:
            return [str(exc)], []
        if not rebuilt:
            return snapshot_problems(copied, manifest, manifest.schema_version)
        rebuilt_path = Path(folder) / DATABASE_ENTRY
        try:
            result = rebuild(copied, rebuilt_path)
        except BackupInvalid as exc:
            return exc.problems, []
        problems, warnings = snapshot_problems(rebuilt_path, manifest, manifest.schema_version)
        if not problems and result.revision != manifest.schema_version:
            problems.append(gettext("The database's schema differs from the one in the manifest."))
    return problems, warnings


def verify_set_backup(
    path: Path,
    *,
    progress: Reporter | None = None,
    work_dir: Path | None = None,
    own_totals: bool = True,
    rehash: Iterable[str] | None = None,
    key: set_crypto.SetKey | None = None,
) -> VerifyReport:
    """Check one backup of a set completely: what a restore of it reads (an encrypted set's
    with its `key`). `rehash` (a backup checking what it has just written) limits the checksum
    reading to those checksums (the other files are checked for their presence and size) and
    checks its own database snapshot without rebuilding it."""
    progress = progress or Progress()
    report = VerifyReport(path, bs.SET_BACKUP)
    try:
        header = bs.read_header(path.parent.parent)
        report.encrypted = header.encryption is not None
        report.manifest = manifest = bs.read_manifest(path, key)
    except BackupInvalid as exc:
        report.problems += exc.problems
        return report
    report.problems += manifest_problems(manifest)
    if report.problems:
        return report
    wanted = set(rehash) if rehash is not None else None
    report.size_bytes = manifest.total_bytes
    if own_totals:
        start_file_checks(progress, manifest)
    for name, entry in manifest.entries.items():
        if name == DATABASE_ENTRY:
            continue
        where = stored_path(path, name, entry.sha256)
        try:
            if wanted is None or entry.sha256 in wanted:
                read_checked(
                    where,
                    entry.size,
                    entry.sha256,
                    on_bytes=lambda n: progress.advance(0, n),
                    key=key,
                )
            else:
                _present(where, entry.size if key is None else set_crypto.stored_size(entry.size))
        except DamagedFile as exc:
            report.problems.append(f"{name[:120]}: {exc}")
        if own_totals:
            progress.advance(1)
    if not report.problems:
        problems, warnings = database_problems(
            path, manifest, work_dir, rebuilt=rehash is None, key=key
        )
        report.problems += problems
        report.warnings += warnings
    return report


def _present(path: Path, size: int) -> None:
    try:
        info = os.lstat(long_path(path))
    except OSError as exc:
        raise DamagedFile(gettext("{path} is missing.", path=path)) from exc
    if not stat.S_ISREG(info.st_mode) or info.st_size != size:
        raise DamagedFile(gettext("{path} is not the file its manifest names.", path=path))


def verify_set(
    set_dir: Path,
    *,
    progress: Reporter | None = None,
    work_dir: Path | None = None,
    key: set_crypto.SetKey | None = None,
) -> SetVerifyReport:
    """Check a whole set: every manifest, every file's checksum once (however many backups
    name it), every backup's database. Leftovers of killed runs are noted, not problems."""
    progress = progress or Progress()
    report = SetVerifyReport(set_dir, bs.BACKUP_SET)
    try:
        report.encrypted = bs.read_header(set_dir).encryption is not None
    except BackupInvalid as exc:
        report.problems += exc.problems
        return report
    backups = bs.complete_backups(set_dir)
    if not backups:
        report.problems.append(gettext("The backup set holds no complete backup."))
        return report
    manifests: dict[Path, Manifest] = {}
    sizes: dict[str, int] = {}
    users: dict[str, list[Path]] = {}
    for backup in backups:
        try:
            manifest = bs.read_manifest(backup, key)
        except BackupInvalid as exc:
            report.problems += [f"{backup.name}: {problem}" for problem in exc.problems]
            continue
        manifests[backup] = manifest
        report.problems += [f"{backup.name}: {p}" for p in manifest_problems(manifest)]
        for entry in bs.image_entries(manifest).values():
            if sizes.setdefault(entry.sha256, entry.size) != entry.size:
                report.problems.append(
                    gettext(
                        "{name}: the file {sha256} has two different sizes in the set's manifests.",
                        name=backup.name,
                        sha256=entry.sha256,
                    )
                )
            users.setdefault(entry.sha256, []).append(backup)
    damaged: set[Path] = set()
    progress.update(
        total=len(sizes) + len(manifests),
        current=0,
        bytes_total=sum(sizes.values())
        + sum(m.entries[DATABASE_ENTRY].size for m in manifests.values()),
        bytes_done=0,
        message=gettext("Checking every file of the backup set"),
    )
    for sha256, size in sizes.items():
        try:
            read_checked(
                bs.file_path(set_dir, sha256),
                size,
                sha256,
                on_bytes=lambda n: progress.advance(0, n),
                key=key,
            )
        except DamagedFile as exc:
            report.problems.append(str(exc))
            damaged.update(users[sha256])
        progress.advance(1)
    for backup, manifest in manifests.items():
        problems, warnings = database_problems(backup, manifest, work_dir, key=key)
        report.problems += [f"{backup.name}: {p}" for p in problems]
        report.warnings += [f"{backup.name}: {w}" for w in warnings]
        if problems:
            damaged.add(backup)
        progress.advance(1, manifest.entries[DATABASE_ENTRY].size)
    for backup in backups:
        manifest_or_none = manifests.get(backup)
        summary = bs.read_summary(backup) or {}
        report.backups.append(
            {
                "name": backup.name,
                "path": str(backup),
                "ok": manifest_or_none is not None and backup not in damaged,
                "created_at": manifest_or_none.created_at if manifest_or_none else None,
                "added_bytes": summary.get("added_bytes"),
            }
        )
    if manifests:
        report.manifest = manifests[max(manifests, key=lambda p: backups.index(p))]
    report.size_bytes = sum(sizes.values())
    leftovers = _leftovers(set_dir)
    if leftovers:
        report.warnings.append(
            ngettext(
                "{n} leftover of an unfinished backup or pruning is in the set; the next backup "
                "removes it.",
                "{n} leftovers of unfinished backups or prunings are in the set; the next backup "
                "removes them.",
                leftovers,
            )
        )
    return report


def _leftovers(set_dir: Path) -> int:
    folder = set_dir / bs.BACKUPS_DIR
    hidden = [p for p in folder.iterdir() if p.name.startswith(".")] if folder.is_dir() else []
    work = set_dir / bs.WORK_DIR
    return len(hidden) + (len(list(work.iterdir())) if work.is_dir() else 0)


def verify_set_path(
    path: Path,
    *,
    progress: Reporter | None = None,
    work_dir: Path | None = None,
    passphrase: str | None = None,
) -> VerifyReport:
    """verify_archive for a folder: a backup of a set, or a whole set. An encrypted set needs
    its passphrase (PassphraseNeeded, WrongPassphrase: raised, as for an encrypted zip)."""
    path = bs.normalized(path)
    if bs.is_set_backup(path) or bs.is_set_dir(path):
        set_dir = path if bs.is_set_dir(path) else path.parent.parent
        try:
            key = bs.set_key(set_dir, passphrase)
        except BackupInvalid as exc:
            kind = bs.BACKUP_SET if set_dir == path else bs.SET_BACKUP
            return VerifyReport(path, kind, problems=exc.problems)
        if set_dir == path:
            return verify_set(path, progress=progress, work_dir=work_dir, key=key)
        return verify_set_backup(path, progress=progress, work_dir=work_dir, key=key)
    return VerifyReport(
        path,
        "unknown",
        problems=[
            gettext(
                "{path} is a folder, but neither a backup set nor one backup of a set.", path=path
            )
        ],
    )
