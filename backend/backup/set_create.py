"""Making a backup in a set: the same database snapshot and plan as a zip backup, but only the
files the set does not hold yet are read and copied (an image is immutable, so the file its row
names by checksum, already in the set, is that file; nothing else of the store is read). The
new files are written to the set's work folder, flushed to disk together, and only then given
their names under files/ (so a name there is always a complete, durable file); then the
database snapshot, a summary and the manifest are written into a hidden folder, the new files
and the database are read back and checked, and the folder gets its final name last. A kill at
any instant leaves the set's complete backups as they were; what it had published is reused by
the next backup or removed by pruning.

With a passphrase, the backup goes to an encrypted set (backend.backup.set_crypto): the files
are encrypted as they are copied in, and the checksums and sizes in the manifest are those of
the plain bytes. A set is wholly plain or wholly encrypted with one passphrase: when the
passphrase is set, changed or removed, the next backup starts a new set beside the old one,
named by its time (`<clinic>-<YYYYMMDD-HHMMSS>-backup-set`), and the old set stays readable.

The image tree is not frozen with hard links as for a zip: the files already in the set need no
reading, and a new file deleted or moved while the backup runs is handled as the zip backup
does where there are no hard links (its row's file where it is now, or its row left out)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from backend.backup import backup_set as bs
from backend.backup import set_crypto
from backend.backup.archive_safety import CHUNK
from backend.backup.create import (
    FREEZE_PREFIX,
    STALE_AFTER_S,
    FilesNotFound,
    _live_database_size,
    _live_path,
    _plan,
    _Planned,
    require_verified,
)
from backend.backup.errors import BackupInvalid
from backend.backup.fsutil import ensure_writable_folder, require_free_space
from backend.backup.manifest import (
    DATABASE_ENTRY,
    MANIFEST_NAME,
    Entry,
    Manifest,
    manifest_made_here,
)
from backend.backup.passphrase import WrongPassphrase
from backend.backup.set_verify import FILE_ROLE, verify_set_backup
from backend.backup.snapshot import snapshot_database
from backend.fileio import (
    fsync_dir,
    long_path,
    publish,
    publish_dir,
    remove_path,
    remove_stale,
    sync_all,
    sync_folders,
    write_flushed,
)
from backend.i18n import gettext
from backend.jobs import Progress, Reporter
from backend.models import Image
from backend.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass
class SetBackupResult:
    path: Path
    size_bytes: int  # what this backup added to the set
    manifest: Manifest
    added_files: int
    total_bytes: int
    warnings: list[str] = field(default_factory=list)
    key: set_crypto.SetKey | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "name": bs.backup_label(self.path),
            "folder": str(self.path.parent.parent.parent),
            "set": str(self.path.parent.parent),
            "kind": bs.SET_BACKUP,
            "size_bytes": self.size_bytes,
            "added_files": self.added_files,
            "total_bytes": self.total_bytes,
            "encrypted": self.key is not None,
            "backup": self.manifest.summary(),
            "warnings": self.warnings,
        }


def create_set_backup(
    runtime: Runtime,
    folder: Path,
    *,
    progress: Reporter | None = None,
    prefix: str = bs.DEFAULT_PREFIX,
    passphrase: str | None = None,
) -> SetBackupResult:
    """Add a verified backup (with images) to the set `<clinic>-backup-set` in `folder` (or
    the newest set there that the passphrase, or its absence, fits), making the set first if
    needed; encrypted with `passphrase` when one is given. Refuses up front when the folder is
    missing, read-only or too full for what this backup adds."""
    progress = progress or Progress()
    settings = runtime.settings
    folder = Path(folder).expanduser().resolve()
    ensure_writable_folder(folder)
    set_dir, key = _chosen_set(folder, prefix, passphrase)
    remove_stale(set_dir / bs.WORK_DIR, "*", STALE_AFTER_S)
    remove_stale(set_dir / bs.BACKUPS_DIR, ".*", STALE_AFTER_S)
    remove_stale(settings.image_store_root, f"{FREEZE_PREFIX}*", STALE_AFTER_S)
    remove_stale(settings.backups_dir / ".work", "*", STALE_AFTER_S)
    started_at = datetime.now()
    token = secrets.token_hex(6)
    work = settings.backups_dir / ".work" / token
    incoming = set_dir / bs.WORK_DIR / token
    stamp = f"{started_at:%Y%m%d-%H%M%S}"
    part = set_dir / bs.BACKUPS_DIR / f".{stamp}.{token}.part"
    try:
        work.mkdir(parents=True)
        incoming.mkdir()
        part.mkdir()
        progress.update(message=gettext("Preparing the backup"))
        snapshot = work / DATABASE_ENTRY
        require_free_space(work, _live_database_size(runtime), gettext("the database snapshot"))
        since = time.time()
        snapshot_database(runtime.engine, snapshot)
        plan = _plan(runtime, snapshot, None, since)
        known = _known_checksums(set_dir, key)
        reused, to_copy = _split(set_dir, plan, known, key)
        new_bytes = sum(size for _p, size in to_copy)
        require_free_space(set_dir, new_bytes + 2 * snapshot.stat().st_size, gettext("this backup"))
        progress.update(
            total=len(to_copy) + 1,
            current=0,
            bytes_total=2 * new_bytes + snapshot.stat().st_size,
            bytes_done=0,
            message=gettext("Copying the new images and the database"),
        )
        entries: dict[str, Entry] = dict(reused)
        not_found = FilesNotFound()
        copied: dict[str, Path] = {}  # checksum -> its copy in the work folder
        for planned, _size in to_copy:
            stored = _copy_in(runtime, incoming, planned, progress, key)
            if stored is not None:
                entries[planned.entry], temp = stored
                if entries[planned.entry].sha256 in copied:
                    temp.unlink()  # the same bytes under another name
                else:
                    copied[entries[planned.entry].sha256] = temp
            else:
                not_found.note(runtime, planned)
            progress.advance(1)
        not_found.drop_from(runtime, snapshot)
        added = _publish_files(set_dir, copied)
        manifest, added_bytes = _write_backup(
            part, snapshot, entries, not_found.missing, added, progress, key
        )
        progress.advance(1)
        # The hidden folder lies in backups/ like a complete one: it is checked where it is.
        report = verify_set_backup(
            part, progress=progress, work_dir=work, own_totals=False, rehash=added, key=key
        )
        require_verified(report)
        fsync_dir(part)
        final = publish_dir(part, set_dir / bs.BACKUPS_DIR, stamp)
    finally:
        remove_path(part)
        remove_path(incoming)
        remove_path(work)
    log.info(
        "set backup written and verified: %s (%d new files, %d bytes added)",
        final,
        len(added),
        added_bytes,
    )
    warnings = (
        [
            f"{len(not_found.missing)} images had no file in the store when the backup was made "
            "(see Check the data); the backup holds their records only."
        ]
        if not_found.missing
        else []
    )
    return SetBackupResult(
        final, added_bytes, manifest, len(added), manifest.total_bytes, warnings, key
    )


def _chosen_set(
    folder: Path, prefix: str, passphrase: str | None
) -> tuple[Path, set_crypto.SetKey | None]:
    """The set this backup goes to and its key: the clinic's set, or the newest of its sets
    made since, that is plain without a passphrase or opens with it; else a new one."""
    base = folder / bs.set_name(prefix)
    stem = base.name[: -len(bs.SET_SUFFIX)]
    later = re.compile(
        re.escape(stem) + r"-(\d{8}-\d{6})(?:-(\d+))?" + re.escape(bs.SET_SUFFIX) + "$"
    )
    found = [(later.match(child.name), child) for child in folder.iterdir()]
    candidates = [
        child
        for match, child in sorted(
            ((m, c) for m, c in found if m), key=lambda mc: (mc[0][1], int(mc[0][2] or 1))
        )
    ][::-1]
    for candidate in [*candidates, base]:
        if not bs.is_set_dir(candidate):
            continue
        try:
            encrypted = bs.read_header(candidate).encryption is not None
        except BackupInvalid:
            continue  # a set this program cannot read is left as it is
        if encrypted != (passphrase is not None):
            continue
        try:
            return candidate, bs.open_or_create(candidate, passphrase)
        except WrongPassphrase:
            continue  # made with an earlier passphrase
    fresh = base
    if base.exists():
        stamp = f"{stem}-{datetime.now():%Y%m%d-%H%M%S}"
        fresh = folder / f"{stamp}{bs.SET_SUFFIX}"
        number = 1
        while fresh.exists():
            number += 1
            fresh = folder / f"{stamp}-{number}{bs.SET_SUFFIX}"
        log.info("a new backup set is started, %s: the passphrase differs from the others'", fresh)
    return fresh, bs.open_or_create(fresh, passphrase)


def _known_checksums(set_dir: Path, key: set_crypto.SetKey | None) -> dict[str, Entry]:
    """path -> entry of the newest complete backup (for files no row gives a checksum for)."""
    backups = bs.complete_backups(set_dir)
    if not backups:
        return {}
    try:
        return bs.image_entries(bs.read_manifest(backups[-1], key))
    except Exception:  # an unreadable newest manifest only costs re-reading its files
        log.warning("the newest backup's manifest in %s cannot be read", set_dir)
        return {}


def _split(
    set_dir: Path,
    plan: list[_Planned],
    known: dict[str, Entry],
    key: set_crypto.SetKey | None,
) -> tuple[dict[str, Entry], list[tuple[_Planned, int]]]:
    """The entries the set already holds (same checksum, same size, the file still in the
    store), and the files to copy with their sizes."""
    reused: dict[str, Entry] = {}
    to_copy: list[tuple[_Planned, int]] = []
    for planned in plan:
        held = _held(set_dir, planned.sha256, key) if planned.sha256 else None
        if held is not None:  # the row's own file, by its checksum: the store is not read
            reused[planned.entry] = Entry(size=held, sha256=str(planned.sha256))
            continue
        try:
            size = planned.source.stat().st_size
        except OSError:
            to_copy.append((planned, 0))  # vanished: _copy_in looks for where it went
            continue
        sha = planned.sha256
        if not sha and planned.entry in known and known[planned.entry].size == size:
            sha = known[planned.entry].sha256
        if sha and _held(set_dir, sha, key) == size:
            reused[planned.entry] = Entry(size=size, sha256=sha)
        else:
            to_copy.append((planned, size))
    return reused, to_copy


def _held(set_dir: Path, sha256: str, key: set_crypto.SetKey | None) -> int | None:
    """The (plain) size of the set's file with this checksum, or None when the set lacks it."""
    try:
        size = os.stat(long_path(bs.file_path(set_dir, sha256))).st_size
    except OSError:
        return None
    return size if key is None else set_crypto.plain_size(size)


def _copy_in(
    runtime: Runtime,
    incoming: Path,
    planned: _Planned,
    progress: Reporter,
    key: set_crypto.SetKey | None,
) -> tuple[Entry, Path] | None:
    """Copy one file into the work folder (its entry and the copy), or, if it vanished since
    the plan, its row's file from where it is now; None when there is no file for it."""
    sources = [planned.source]
    if planned.row_id is not None:
        sources.append(_moved(runtime, planned.row_id))
    for source in sources:
        try:
            return _store(incoming, source, progress, key)
        except FileNotFoundError:
            continue
    return None


def _moved(runtime: Runtime, row_id: str) -> Path:
    with runtime.sessions() as session:
        image = session.get(Image, row_id)
        if image is None:
            return runtime.settings.images_dir / ".gone"
        return _live_path(runtime, image.relative_path)


def _store(
    incoming: Path, source: Path, progress: Reporter, key: set_crypto.SetKey | None
) -> tuple[Entry, Path]:
    """Copy `source` into the work folder (encrypted with `key`), hashing its plain bytes on
    the way (flushed later, with all)."""
    temp = incoming / secrets.token_hex(8)
    with open(long_path(source), "rb") as reading, open(long_path(temp), "xb") as writing:
        entry = _copy_sealed(reading, writing, key, FILE_ROLE, progress)
    return entry, temp


def _copy_sealed(
    reading: IO[bytes],
    writing: IO[bytes],
    key: set_crypto.SetKey | None,
    role: str,
    progress: Reporter,
) -> Entry:
    """Copy `reading` to `writing`, encrypted with `key` for `role` when there is one; the
    entry (size and checksum) is of the plain bytes."""
    digest = hashlib.sha256()
    size = 0
    sink: set_crypto.EncryptingWriter | IO[bytes] = (
        writing if key is None else set_crypto.EncryptingWriter(writing, key, role)
    )
    while block := reading.read(CHUNK):
        digest.update(block)
        sink.write(block)
        size += len(block)
        progress.advance(0, len(block))
    if isinstance(sink, set_crypto.EncryptingWriter):
        sink.close()
    return Entry(size=size, sha256=digest.hexdigest())


def _publish_files(set_dir: Path, copied: dict[str, Path]) -> set[str]:
    """Flush the copies to disk (one sync for all), then give each its name under files/ (never
    over a file there: the set already had those bytes). Returns the checksums published."""
    sync_all(list(copied.values()))
    added = set()
    for sha, temp in copied.items():
        target = bs.file_path(set_dir, sha)
        target.parent.mkdir(exist_ok=True)
        if _publish_file(temp, target):
            added.add(sha)
        else:
            temp.unlink(missing_ok=True)
    sync_folders(bs.file_path(set_dir, sha).parent for sha in added)
    return added


def _publish_file(temp: Path, target: Path) -> bool:
    return publish(temp, target, others_may_publish=False)


def _write_backup(
    part: Path,
    snapshot: Path,
    entries: dict[str, Entry],
    missing: list[str],
    added: set[str],
    progress: Reporter,
    key: set_crypto.SetKey | None,
) -> tuple[Manifest, int]:
    """Write the backup's database, summary and (last) manifest into `part` (the database
    and manifest encrypted with `key`); returns the manifest and the bytes this backup added to
    the set."""
    database = part / DATABASE_ENTRY
    with open(snapshot, "rb") as reading, open(long_path(database), "xb") as writing:
        database_entry = _copy_sealed(reading, writing, key, DATABASE_ENTRY, progress)
        writing.flush()
        os.fsync(writing.fileno())
    manifest = manifest_made_here(
        snapshot,
        images=dict(sorted(entries.items())),
        database=database_entry,
        includes_images=True,
        missing_files=missing,
    )
    added_bytes = database_entry.size + _added_image_bytes(manifest, added)
    data = json.loads(manifest.to_bytes())
    data["backup_set"] = {
        "files": "../../files/<first two hex digits of sha256>/<sha256>",
        "added_files": len(added),
        "added_bytes": added_bytes,
    }
    summary = {
        "created_at": manifest.created_at,
        "includes_images": True,
        "counts": manifest.counts,
        "added_files": len(added),
        "added_bytes": added_bytes,
        "total_bytes": manifest.total_bytes,
    }
    write_flushed(part / bs.SUMMARY_NAME, json.dumps(summary, indent=1).encode("utf-8"))
    # The manifest is written last: a folder without one is never a backup.
    raw = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    if key is not None:
        sealed = io.BytesIO()
        set_crypto.encrypt_bytes(raw, key, MANIFEST_NAME, sealed)
        raw = sealed.getvalue()
    write_flushed(part / MANIFEST_NAME, raw)
    return manifest, added_bytes


def _added_image_bytes(manifest: Manifest, added: set[str]) -> int:
    sizes = {e.sha256: e.size for n, e in manifest.entries.items() if n != DATABASE_ENTRY}
    return sum(sizes[sha] for sha in added if sha in sizes)
