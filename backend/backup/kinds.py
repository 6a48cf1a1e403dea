"""What kind of backup file this is: ours (a zip with a manifest), or one of the earlier app's
(a zip with `dental_clinic.db` at its root, a bare SQLite file, a JSON export)."""

from __future__ import annotations

import functools
import zipfile
from dataclasses import dataclass
from pathlib import Path

from backend.backup import backup_set
from backend.backup.manifest import IMAGES_PREFIX, MANIFEST_NAME

BACKUP = "backup"
LEGACY_ZIP = "legacy-zip"
LEGACY_DB = "legacy-db"
LEGACY_JSON = "legacy-json"
BROKEN_ZIP = "broken-zip"
UNKNOWN = "unknown"
LEGACY_KINDS = (LEGACY_ZIP, LEGACY_DB, LEGACY_JSON)
LEGACY_DB_NAME = "dental_clinic.db"
SET_BACKUP = backup_set.SET_BACKUP
BACKUP_SET = backup_set.BACKUP_SET

_SQLITE_MAGIC = b"SQLite format 3\x00"


def detect_kind(path: Path) -> str:
    """One of BACKUP, LEGACY_ZIP, LEGACY_DB, LEGACY_JSON, BROKEN_ZIP (starts like a zip but
    cannot be opened as one: cut short or damaged) or UNKNOWN. Reads only a few bytes and the
    zip's central directory. A folder is SET_BACKUP (one backup of a set), BACKUP_SET (a
    whole set) or UNKNOWN."""
    if path.is_dir():
        return backup_set.kind_of_dir(path) or UNKNOWN
    with open(path, "rb") as handle:
        head = handle.read(64)
    if head.startswith(_SQLITE_MAGIC):
        return LEGACY_DB
    if head.startswith(b"PK"):
        return read_zip_facts(path).kind
    if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] in (b"{", b"["):
        return LEGACY_JSON
    return UNKNOWN


@dataclass(frozen=True)
class ZipFacts:
    """What the list of backup files says of a zip, from its central directory alone (no
    passphrase needed: entry names and their encryption flag are not encrypted)."""

    kind: str  # BACKUP, LEGACY_ZIP, BROKEN_ZIP or UNKNOWN
    encrypted: bool = False
    includes_images: bool = True


def zip_facts(path: Path) -> ZipFacts:
    """The facts of the zip at `path` for the list of backup files, read once per version of
    the file (its size and time; a check of one file reads it afresh with `read_zip_facts`)."""
    try:
        stat = path.stat()
    except OSError:
        return ZipFacts(BROKEN_ZIP)
    return _cached_zip_facts(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _cached_zip_facts(path: str, _size: int, _mtime_ns: int) -> ZipFacts:
    return read_zip_facts(Path(path))


def read_zip_facts(path: Path) -> ZipFacts:
    """The facts of the zip at `path`, read from its central directory now."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError):
        return ZipFacts(BROKEN_ZIP)
    names = {entry.filename.replace("\\", "/") for entry in entries}
    if MANIFEST_NAME in names:
        kind = BACKUP
    elif LEGACY_DB_NAME in names:
        kind = LEGACY_ZIP
    else:
        kind = UNKNOWN
    return ZipFacts(
        kind,
        encrypted=any(entry.flag_bits & 0x1 for entry in entries),
        includes_images=kind != BACKUP or any(n.startswith(IMAGES_PREFIX) for n in names),
    )
