"""Backup files uploaded from a browser for Verify or Restore, each staged in its own folder
under backups/incoming/ until the job that used it last has ended."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from backend.config import Settings
from backend.fileio import remove_path, remove_stale, safe_file_name
from backend.storage import clean_stem

log = logging.getLogger(__name__)

INCOMING = "incoming"
STALE_AFTER_S = 86_400


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
