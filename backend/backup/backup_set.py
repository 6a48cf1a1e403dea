"""A backup set: one folder that holds many backups, each file stored once. The layout is plain
folders and files that can be read without the program (see the README); in an encrypted
set (backend.backup.set_crypto) the files with patient data in them are encrypted:

    <clinic>-backup-set/
      set.json                       format "dental-images-backup-set", format_version, created_at
      files/<sha256[:2]>/<sha256>    every image file once, named by the SHA-256 of its bytes
      backups/<YYYYMMDD-HHMMSS>/     one complete backup each:
        manifest.json                the zip backup's manifest (entries {name: {size, sha256}});
                                     an image entry's bytes are files/<sha[:2]>/<sha>
        database.sqlite              the consistent database snapshot of that backup
        summary.json                 what it holds and what it added, for the list

A backup folder is complete once it has its final name (it is renamed from a hidden `.part`
folder after everything in it was written and flushed); hidden names (`.…`) are work in
progress or leftovers of a killed run and are never read as backups. Files are only ever added
under their final name once complete (their name is their checksum), and only removed when no
remaining manifest names them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend import __version__
from backend.backup import set_crypto
from backend.backup.errors import BackupInvalid
from backend.backup.manifest import (
    DATABASE_ENTRY,
    MANIFEST_NAME,
    Manifest,
    ManifestError,
    parse_manifest,
)
from backend.fileio import write_json_atomic
from backend.i18n import gettext
from backend.models import utcnow
from backend.storage import clean_stem

SET_FORMAT = "dental-images-backup-set"
SET_FORMAT_VERSION = 1
HEADER_NAME = "set.json"
FILES_DIR = "files"
BACKUPS_DIR = "backups"
WORK_DIR = ".work"
SUMMARY_NAME = "summary.json"
SET_SUFFIX = "-backup-set"
DEFAULT_PREFIX = "dental-images"
# Kinds, as backend.backup.kinds names them.
SET_BACKUP = "set-backup"
BACKUP_SET = "backup-set"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BACKUP_NAME = re.compile(r"^\d{8}-\d{6}(-\d+)?$")
MAX_MANIFEST_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class SetHeader:
    """set.json. `encryption` is None for a plain set, else its scheme and parameters
    (backend.backup.set_crypto; a scheme this program does not know is refused, not misread)."""

    created_at: str
    app_version: str
    format_version: int = SET_FORMAT_VERSION
    encryption: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": SET_FORMAT,
            "format_version": self.format_version,
            "created_at": self.created_at,
            "app_version": self.app_version,
            "encryption": self.encryption,
            "layout": {
                "files": "files/<first two hex digits of sha256>/<sha256>",
                "backups": "backups/<YYYYMMDD-HHMMSS>/ (manifest.json, database.sqlite, "
                "summary.json)",
            },
        }


def set_name(prefix: str) -> str:
    stem = clean_stem(prefix) if prefix and prefix.strip() else DEFAULT_PREFIX
    return f"{stem}{SET_SUFFIX}"


def file_path(set_dir: Path, sha256: str) -> Path:
    """Where the file with this checksum is kept in the set."""
    return set_dir / FILES_DIR / sha256[:2] / sha256


def is_set_dir(path: Path) -> bool:
    return path.is_dir() and (path / HEADER_NAME).is_file()


def set_of_backup(path: Path) -> Path | None:
    """The set holding the backup folder `path`, or None when `path` is not one."""
    parent = path.parent
    if parent.name == BACKUPS_DIR and is_set_dir(parent.parent) and not path.name.startswith("."):
        return parent.parent
    return None


def is_set_backup(path: Path) -> bool:
    return path.is_dir() and set_of_backup(path) is not None and (path / MANIFEST_NAME).is_file()


def normalized(path: Path) -> Path:
    """A set backup named by its manifest.json is named by its folder, and a set by its
    set.json (what a file dialog can pick)."""
    if path.name == MANIFEST_NAME and path.is_file() and set_of_backup(path.parent) is not None:
        return path.parent
    if path.name == HEADER_NAME and path.is_file() and is_set_dir(path.parent):
        return path.parent
    return path


def kind_of_dir(path: Path) -> str | None:
    if is_set_backup(path):
        return SET_BACKUP
    if is_set_dir(path):
        return BACKUP_SET
    return None


def read_header(set_dir: Path) -> SetHeader:
    """Read and check set.json; BackupInvalid with a sentence when it is not usable here."""
    try:
        data = json.loads((set_dir / HEADER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BackupInvalid(
            [gettext("The backup set's set.json cannot be read ({exc}).", exc=exc)]
        ) from exc
    if not isinstance(data, dict) or data.get("format") != SET_FORMAT:
        raise BackupInvalid([gettext("set.json does not describe a Dental Images backup set.")])
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BackupInvalid([gettext("set.json has no valid format version.")])
    if version > SET_FORMAT_VERSION:
        raise BackupInvalid(
            [
                gettext(
                    "This backup set uses format {version}, made by a newer version of the "
                    "program; update the program, then use it.",
                    version=version,
                )
            ]
        )
    encryption = data.get("encryption")
    if encryption is not None:
        try:
            set_crypto.check_scheme(encryption)
        except (ValueError, TypeError, KeyError) as exc:
            raise BackupInvalid(
                [
                    gettext(
                        "This backup set is encrypted in a way this version of the program "
                        "cannot read."
                    )
                ]
            ) from exc
    return SetHeader(
        created_at=str(data.get("created_at", "")),
        app_version=str(data.get("app_version", "")),
        format_version=version,
        encryption=encryption,
    )


def is_encrypted(set_dir: Path) -> bool:
    """Whether the set at `set_dir` says it is encrypted (False when it cannot be read)."""
    try:
        return read_header(set_dir).encryption is not None
    except BackupInvalid:
        return False


def set_key(set_dir: Path, passphrase: str | None) -> set_crypto.SetKey | None:
    """The key of the set at `set_dir` (None for a plain set): BackupInvalid when its header
    cannot be used, PassphraseNeeded / WrongPassphrase as set_crypto.unlock."""
    header = read_header(set_dir)
    if header.encryption is None:
        return None
    return set_crypto.unlock(header.encryption, passphrase)


def open_or_create(set_dir: Path, passphrase: str | None = None) -> set_crypto.SetKey | None:
    """Make the set at `set_dir` (header first, then its folders) when it is not there yet,
    encrypted when a passphrase is given; returns its key (None for a plain set)."""
    set_dir.mkdir(exist_ok=True)
    key: set_crypto.SetKey | None = None
    if not (set_dir / HEADER_NAME).exists():
        encryption = None
        if passphrase is not None:
            encryption, key = set_crypto.new_encryption(passphrase)
        header = SetHeader(
            created_at=utcnow().isoformat(timespec="seconds") + "Z",
            app_version=__version__,
            encryption=encryption,
        )
        write_json_atomic(set_dir / HEADER_NAME, header.as_dict())
    if key is None:
        key = set_key(set_dir, passphrase)
    for name in (FILES_DIR, BACKUPS_DIR, WORK_DIR):
        (set_dir / name).mkdir(exist_ok=True)
    return key


def complete_backups(set_dir: Path) -> list[Path]:
    """The set's complete backups, oldest first (their names are their times)."""
    folder = set_dir / BACKUPS_DIR
    if not folder.is_dir():
        return []
    found = [
        entry
        for entry in folder.iterdir()
        if _BACKUP_NAME.match(entry.name) and entry.is_dir() and not entry.is_symlink()
    ]
    return sorted(found, key=_order)


def _order(path: Path) -> tuple[str, int]:
    """`20260102-190000` before `20260102-190000-2` before `20260102-190001`."""
    return path.name[:15], int(path.name[16:] or 1)


def read_manifest(backup_dir: Path, key: set_crypto.SetKey | None = None) -> Manifest:
    """The manifest of one backup of a set (decrypted with the set's `key` when it has one);
    BackupInvalid when it cannot be used."""
    try:
        if key is None:
            raw = (backup_dir / MANIFEST_NAME).read_bytes()
        else:
            with open(backup_dir / MANIFEST_NAME, "rb") as handle:
                raw = set_crypto.decrypt_bytes(handle, key, MANIFEST_NAME, MAX_MANIFEST_BYTES)
    except set_crypto.Undecryptable as exc:
        raise BackupInvalid(
            [
                gettext(
                    "{name}: manifest.json does not decrypt with this set's key: it was changed "
                    "or damaged.",
                    name=backup_dir.name,
                )
            ]
        ) from exc
    except OSError as exc:
        raise BackupInvalid(
            [
                gettext(
                    "{name} has no readable manifest.json ({exc}).", name=backup_dir.name, exc=exc
                )
            ]
        ) from exc
    try:
        return parse_manifest(raw)
    except ManifestError as exc:
        raise BackupInvalid([str(exc)]) from exc


def image_entries(manifest: Manifest) -> dict[str, Any]:
    return {name: entry for name, entry in manifest.entries.items() if name != DATABASE_ENTRY}


def read_summary(backup_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((backup_dir / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def backup_label(backup_dir: Path) -> str:
    """How a set backup is named to a person: `<set>/<time>`."""
    return f"{backup_dir.parent.parent.name}/{backup_dir.name}"


def list_set_backups(folder: Path) -> list[dict[str, Any]]:
    """Every complete backup of every set in `folder`, for the list of backup files."""
    found: list[dict[str, Any]] = []
    try:
        children = [c for c in folder.iterdir() if c.name.endswith(SET_SUFFIX)]
    except OSError:
        return []
    for set_dir in children:
        if not is_set_dir(set_dir):
            continue
        encrypted = is_encrypted(set_dir)
        for backup in complete_backups(set_dir):
            summary = read_summary(backup) or {}
            try:
                modified = os.stat(backup / MANIFEST_NAME).st_mtime
            except OSError:
                continue
            found.append(
                {
                    "name": backup_label(backup),
                    "path": str(backup),
                    "folder": str(folder),
                    "size_bytes": int(summary.get("added_bytes", 0)),
                    "added_bytes": int(summary.get("added_bytes", 0)),
                    "added_files": int(summary.get("added_files", 0)),
                    "total_bytes": int(summary.get("total_bytes", 0)),
                    "modified_ts": modified,
                    "safety": False,
                    "kind": SET_BACKUP,
                    "contents": "backup",
                    "encrypted": encrypted,
                    "includes_images": True,
                    "download_url": None,
                }
            )
    return found
