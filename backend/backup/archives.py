"""The backup files the program knows: those in backups/ of the data folder and in the
remembered backup folder (listed, downloaded), and those uploaded from a browser for Verify or
Restore, each staged in its own folder under backups/incoming/ until the job that used it last
has ended."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from backend.backup import backup_set, kinds
from backend.backup.create import SAFETY_PREFIX
from backend.config import Settings
from backend.errors import Forbidden, NotFound
from backend.fileio import remove_path, remove_stale, safe_file_name
from backend.i18n import gettext
from backend.storage import clean_stem

log = logging.getLogger(__name__)

LISTED = 50
INCOMING = "incoming"
STALE_AFTER_S = 86_400


def backup_folders(settings: Settings, remembered: str | None) -> list[Path]:
    folders = [settings.backups_dir]
    if remembered and Path(remembered) != settings.backups_dir:
        folders.append(Path(remembered))
    return folders


def list_archives(folders: list[Path]) -> list[dict[str, Any]]:
    """The newest backup files in `folders`, newest first, with the backups of the backup sets
    there (their size is what each added to its set; they have no download)."""
    found: list[dict[str, Any]] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.glob("*.zip"):
            if path.name.startswith(".") or path.is_symlink() or not path.is_file():
                continue
            stat = path.stat()
            facts = kinds.zip_facts(path)
            found.append(
                {
                    "name": path.name,
                    "path": str(path),
                    "folder": str(folder),
                    "size_bytes": stat.st_size,
                    "modified": datetime.fromtimestamp(stat.st_mtime).isoformat(timespec="seconds"),
                    "safety": path.name.startswith(SAFETY_PREFIX),
                    "download_url": f"/api/backups/{path.name}/download",
                    "kind": "zip",
                    # ours, the earlier app's, one that cannot be opened, or another zip
                    "contents": facts.kind,
                    "encrypted": facts.encrypted,
                    "includes_images": facts.includes_images,
                }
            )
        for item in backup_set.list_set_backups(folder):
            stamp = item.pop("modified_ts")
            item["modified"] = datetime.fromtimestamp(stamp).isoformat(timespec="seconds")
            found.append(item)
    found.sort(key=lambda item: item["modified"], reverse=True)
    return found[:LISTED]


def find_archive(folders: list[Path], name: str) -> Path:
    """The backup file called `name` in one of `folders`; nothing else can be named."""
    plain = (
        name
        and name == Path(name).name
        and "\\" not in name
        and not name.startswith(".")
        and name.lower().endswith(".zip")
    )
    if plain:
        for folder in folders:
            candidate = folder / name
            if candidate.is_symlink() or (
                candidate.is_file() and not _stored_in(candidate, folder)
            ):
                raise Forbidden(
                    gettext(
                        "{name} in {folder} is a link to a file elsewhere, not a backup stored "
                        "there; links are never served. Copy the backup file itself into the "
                        "folder to download it.",
                        name=name,
                        folder=folder,
                    ),
                    field="name",
                )
            if candidate.is_file():
                return candidate
    raise NotFound(
        gettext("No backup called '{name}' in the backup folders.", name=name), field="name"
    )


def _stored_in(path: Path, folder: Path) -> bool:
    """Whether `path` is a file of `folder` itself once every link is resolved (a junction or
    a linked parent would lead elsewhere)."""
    return path.resolve().parent == folder.resolve()


# ----- uploaded backup files


def incoming_dir(settings: Settings) -> Path:
    return settings.backups_dir / INCOMING


def incoming_path(settings: Settings, original_name: str | None) -> Path:
    """A fresh path under backups/incoming/ for an uploaded backup file, keeping its name
    (cleaned); uploads older than a day are cleared."""
    folder = incoming_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    clear_stale_uploads(settings)
    original = Path(original_name or "backup.zip")
    extension = original.suffix.lower()
    if extension not in (".zip", ".db", ".json"):
        extension = ".zip"
    own = folder / secrets.token_hex(6)
    own.mkdir()
    # A device name (CON.zip, NUL.db) is no file on Windows: safe_file_name rewrites it.
    return own / safe_file_name(f"{clean_stem(original.name)}{extension}")


def clear_stale_uploads(settings: Settings) -> int:
    """Remove uploads left for more than a day (a flow abandoned after its preview, or a
    program that was closed mid-job). Returns how many were removed."""
    return remove_stale(incoming_dir(settings), "*", STALE_AFTER_S)


def discard_upload(settings: Settings, path: Path) -> bool:
    """Remove `path` with its own folder when it is an upload staged by `incoming_path`;
    any other file (one chosen on this computer) is never touched. True when removed."""
    incoming = incoming_dir(settings).resolve()
    own = path.resolve().parent
    if own.parent != incoming:
        return False
    try:
        remove_path(own)
    except OSError as exc:  # the stale sweep takes it later
        log.warning("the uploaded backup %s could not be removed: %s", path, exc)
        return False
    return True
