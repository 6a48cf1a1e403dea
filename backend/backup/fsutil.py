"""Refusing a backup or restore folder early, with what to do: one that is missing or
read-only, or whose disk is too full. The file writes themselves are `backend.fileio`'s."""

from __future__ import annotations

import secrets
from pathlib import Path

from backend.backup.errors import FolderNotUsable, NotEnoughSpace
from backend.fileio import free_bytes, human_size

MARGIN_BYTES = 64 * 1024 * 1024


def ensure_writable_folder(folder: Path) -> None:
    """Refuse a folder that is missing or cannot be written, saying what to do."""
    if not folder.is_dir():
        raise FolderNotUsable(
            f"The folder {folder} does not exist or cannot be reached. Connect the disk or "
            "choose another folder.",
            field="folder",
        )
    probe = folder / f".dental-images-write-test-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"")
    except OSError as exc:
        raise FolderNotUsable(
            f"The program cannot write to {folder} ({exc.strerror or exc}). Choose another "
            "folder, or ask whoever manages this computer for permission to write there.",
            field="folder",
        ) from exc
    probe.unlink(missing_ok=True)


def require_free_space(folder: Path, needed: int, what: str, *, field: str = "folder") -> None:
    """Refuse when `folder`'s disk has less than `needed` bytes (plus a margin) free."""
    free = free_bytes(folder)
    if free < needed + MARGIN_BYTES:
        raise NotEnoughSpace(
            f"Not enough free space for {what}: it needs about {human_size(needed)} on the disk "
            f"holding {folder}, and {human_size(free)} is free. Free up space there or choose "
            "another folder (for example an external disk).",
            field=field,
        )
