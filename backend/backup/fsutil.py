"""Refusing a backup or restore folder early, with what to do: one that is missing or
read-only, or whose disk is too full. The file writes themselves are `backend.fileio`'s."""

from __future__ import annotations

import os
from pathlib import Path

from backend.backup.errors import FolderNotUsable, NotEnoughSpace
from backend.config import Settings
from backend.fileio import free_bytes, human_size, write_refused
from backend.i18n import gettext

MARGIN_BYTES = 64 * 1024 * 1024


def ensure_writable_folder(folder: Path) -> None:
    """Refuse a folder that is missing or cannot be written, saying what to do."""
    if not folder.is_dir():
        raise FolderNotUsable(
            gettext(
                "The folder {folder} does not exist or cannot be reached. Connect the disk or "
                "choose another folder.",
                folder=folder,
            ),
            field="folder",
        )
    refused = write_refused(folder)
    if refused is not None:
        raise FolderNotUsable(
            gettext(
                "The program cannot write to {folder} ({value}). Choose another folder, or ask "
                "whoever manages this computer for permission to write there.",
                folder=folder,
                value=refused.strerror or refused,
            ),
            field="folder",
        ) from refused


def require_free_space(folder: Path, needed: int, what: str, *, field: str = "folder") -> None:
    """Refuse when `folder`'s disk has less than `needed` bytes (plus a margin) free."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        raise NotEnoughSpace(
            gettext(
                "Not enough free space for {what}: it needs about {needed} on the disk holding "
                "{folder}, and {free} is free. Free up space there or choose another folder (for "
                "example an external disk).",
                what=what,
                needed=human_size(needed),
                folder=folder,
                free=human_size(free),
            ),
            field=field,
        )


def data_tree_problem(folder: Path, settings: Settings) -> str | None:
    """Why `folder` may not hold backups: it is the data folder itself, or lies in the data
    folder outside its backups/ (the image tree, the thumbnails: what a restore replaces and
    what a backup copies), or in the image tree of a shared images folder. None when it may."""
    target = _comparable(folder)
    data = _comparable(settings.data_dir)
    backups = _comparable(settings.backups_dir)
    images_root = _comparable(settings.image_store_root)
    images = _comparable(settings.images_dir)
    if target in (data, images_root):
        return gettext(
            "{folder} is the program's data folder itself. Choose a folder outside it (best on "
            "another disk), or leave the folder empty to use its backups folder.",
            folder=folder,
        )
    inside_images = target == images or images in target.parents
    inside_data = data in target.parents and not (target == backups or backups in target.parents)
    if inside_images or inside_data:
        return gettext(
            "{folder} lies inside the program's data folder ({data}), among the images and "
            "files a restore replaces. Choose a folder outside it (best on another disk), or "
            "leave the folder empty to use its backups folder.",
            folder=folder,
            data=settings.data_dir,
        )
    return None


def refuse_data_tree(folder: Path, settings: Settings) -> None:
    """Raise FolderNotUsable (field "folder") when `folder` is in the data tree (see
    data_tree_problem)."""
    problem = data_tree_problem(folder, settings)
    if problem:
        raise FolderNotUsable(problem, field="folder")


def _comparable(path: Path) -> Path:
    """The path as the file system compares it: links resolved, case folded on Windows."""
    return Path(os.path.normcase(Path(path).expanduser().resolve()))
