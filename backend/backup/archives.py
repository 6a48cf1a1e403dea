"""The backup files the program knows: those in backups/ of the data folder and in the
remembered backup folder (listed, downloaded). Files uploaded from a browser are staged by
backend.backup.uploads."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from backend.backup import backup_set, kinds
from backend.backup.create import SAFETY_PREFIX
from backend.config import Settings
from backend.errors import Forbidden, NotFound
from backend.i18n import gettext

LISTED = 50


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
