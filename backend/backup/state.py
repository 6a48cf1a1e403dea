"""The backup schedule and history, kept in the database's app_state table (every PC using the
same database sees the same schedule and the same last good backup)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend import app_state
from backend import validation as check
from backend.backup.fsutil import ensure_writable_folder
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.models import utcnow

SCHEDULE, TIME, WEEKDAY, KEEP, FOLDER, CLINIC, MODE = (
    app_state.BACKUP_SCHEDULE,
    app_state.BACKUP_TIME,
    app_state.BACKUP_WEEKDAY,
    app_state.BACKUP_KEEP,
    app_state.BACKUP_FOLDER,
    app_state.BACKUP_CLINIC,
    app_state.BACKUP_MODE,
)
LAST_SUCCESS, LAST_ERROR, LAST_ATTEMPT = (
    app_state.BACKUP_LAST_SUCCESS,
    app_state.BACKUP_LAST_ERROR,
    app_state.BACKUP_LAST_ATTEMPT,
)
SCHEDULES = ("off", "daily", "weekly")
# What a scheduled backup writes: a backup in the incremental set, or a full zip each time.
SET_MODE, ZIP_MODE = "set", "zip"
MODES = (SET_MODE, ZIP_MODE)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class BackupSettings:
    """`time` is the local time of day a scheduled backup is due; `weekday` (0 = Monday) its
    day for a weekly one; the newest `keep` backups in the folder (or in its set) are kept;
    `mode` says whether a scheduled backup goes into the incremental set or is a full zip."""

    schedule: str = "off"
    time: str = "19:00"
    weekday: int = 0
    keep: int = 7
    folder: str | None = None
    clinic: str = ""
    mode: str = SET_MODE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BackupRecord:
    """A past backup (or failure) as stored: when (UTC), and what."""

    at: datetime
    details: dict[str, Any]

    def local_time(self) -> datetime:
        return self.at.replace(tzinfo=UTC).astimezone().replace(tzinfo=None)

    def as_dict(self) -> dict[str, Any]:
        return {**self.details, "at": self.at.isoformat() + "Z"}


def _values(session: Session) -> dict[str, str]:
    return app_state.with_prefix(session, app_state.BACKUP_PREFIX)


def read_backup_settings(session: Session) -> BackupSettings:
    stored = _values(session)
    default = BackupSettings()
    try:
        return _cleaned(
            {
                "schedule": stored.get(SCHEDULE, default.schedule),
                "time": stored.get(TIME, default.time),
                "weekday": stored.get(WEEKDAY, default.weekday),
                "keep": stored.get(KEEP, default.keep),
                "folder": stored.get(FOLDER),
                "clinic": stored.get(CLINIC, default.clinic),
                "mode": stored.get(MODE, default.mode),
            }
        )
    except ValidationError:
        return default


def _cleaned(values: Mapping[str, Any]) -> BackupSettings:
    schedule = check.choice(values.get("schedule"), "schedule", SCHEDULES)
    time = str(values.get("time") or "").strip()
    if not _TIME.match(time):
        raise ValidationError(
            gettext("The time must look like 19:00 (24-hour clock)."), field="time"
        )
    weekday = check.optional_int(values.get("weekday"), "weekday", minimum=0, maximum=6) or 0
    keep = check.optional_int(values.get("keep"), "keep", minimum=1, maximum=365) or 7
    folder = check.text(check.path_text(values.get("folder"), "folder"), "folder", max_length=1000)
    if folder and not Path(folder).expanduser().is_absolute():
        raise ValidationError(
            gettext("Choose a full folder path (for example D:\\Backups)."), field="folder"
        )
    clinic = check.text(values.get("clinic"), "clinic", max_length=80) or ""
    mode = check.choice(values.get("mode"), "mode", MODES, default=SET_MODE)
    return BackupSettings(schedule, time, weekday, keep, folder, clinic, mode)


def update_backup_settings(session: Session, changes: Mapping[str, Any]) -> BackupSettings:
    """Check every change (one bad value changes nothing), store them, return the settings.
    A chosen folder must exist and be writable when the schedule is on or the folder changes
    (FolderNotUsable, field "folder"); no folder means the data folder's backups/."""
    check.only_known_fields(changes, set(BackupSettings.__dataclass_fields__))
    stored = read_backup_settings(session)
    merged = {**stored.as_dict(), **changes}
    cleaned = _cleaned(merged)
    # Turning the schedule off must still work while the remembered disk is unplugged (the form
    # sends the unchanged folder with every save).
    if cleaned.folder and (cleaned.schedule != "off" or cleaned.folder != stored.folder):
        ensure_writable_folder(Path(cleaned.folder).expanduser())
    keys = {
        SCHEDULE: cleaned.schedule,
        TIME: cleaned.time,
        WEEKDAY: str(cleaned.weekday),
        KEEP: str(cleaned.keep),
        CLINIC: cleaned.clinic,
        FOLDER: cleaned.folder,
        MODE: cleaned.mode,
    }
    for key, value in keys.items():
        _put(session, key, value)
    session.commit()
    return cleaned


def remember_folder(session: Session, folder: str) -> None:
    _put(session, FOLDER, folder)
    session.commit()


def _put(session: Session, key: str, value: str | None) -> None:
    app_state.put(session, key, value)


def _outcome(raw: str | None) -> BackupRecord | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return BackupRecord(datetime.fromisoformat(data.pop("at")), data)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def last_success(session: Session) -> BackupRecord | None:
    """The newest verified backup that holds the images too."""
    return _outcome(_values(session).get(LAST_SUCCESS))


def last_error(session: Session) -> BackupRecord | None:
    """The newest failed scheduled backup."""
    return _outcome(_values(session).get(LAST_ERROR))


def last_attempt(session: Session) -> datetime | None:
    raw = _values(session).get(LAST_ATTEMPT)
    try:
        return datetime.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def record_success(session: Session, details: dict[str, Any]) -> None:
    _put(session, LAST_SUCCESS, json.dumps({**details, "at": utcnow().isoformat()}))
    session.commit()


def record_failure(session: Session, message: str) -> None:
    _put(session, LAST_ERROR, json.dumps({"message": message, "at": utcnow().isoformat()}))
    session.commit()


def record_attempt(session: Session) -> None:
    _put(session, LAST_ATTEMPT, utcnow().isoformat())
    session.commit()
