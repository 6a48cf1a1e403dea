"""A record, in the database, that an import of the earlier app's backup has started and not
yet ended. A kill or a power cut leaves it behind, and the main screen then says that the import
is incomplete and how to complete it (restoring the same backup again adds only what is missing)
or go back (the safety backup made just before it)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from backend import app_state, processes
from backend.i18n import gettext

KEY = app_state.LEGACY_IMPORT_IN_PROGRESS


def mark_started(sessions: sessionmaker[Session], archive: Path, safety_backup: Path) -> None:
    value = {
        "archive": str(archive),
        "safety_backup": str(safety_backup),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": processes.this_host(),
        "pid": os.getpid(),
        "process_started": processes.process_start_time(),
    }
    with sessions.begin() as session:
        app_state.put_json(session, KEY, value)


def clear(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        app_state.remove(session, KEY)


def unfinished(session: Session) -> dict[str, Any] | None:
    """The import that started and never ended, if any: archive, safety_backup, started."""
    value = app_state.get_json(session, KEY)
    if value is None:
        return None
    return {key: str(value.get(key, "")) for key in ("archive", "safety_backup", "started")} | {
        "host": str(value.get("host", "")),
        "pid": value.get("pid") if isinstance(value.get("pid"), int) else None,
        "process_started": value.get("process_started")
        if isinstance(value.get("process_started"), str)
        else None,
    }


def may_be_running(marker: dict[str, Any]) -> bool:
    """Whether the program that recorded the import may still be running it: on another PC
    (its lease tells), or here in a process that is alive. A killed one's lease outlives it by
    up to a lease time, so the lease alone cannot tell."""
    if marker["host"] != processes.this_host():
        return True
    pid = marker["pid"]
    if pid == os.getpid():
        return True
    return processes.running_here(marker["host"], pid, marker.get("process_started"))


def warning(marker: dict[str, Any]) -> str:
    """What the main screen says about an import that was cut off."""
    archive = Path(marker["archive"]).name or gettext("the earlier app's backup")
    safety_backup = Path(marker["safety_backup"]).name
    try:
        started = f"{datetime.fromisoformat(marker['started']).astimezone():%Y-%m-%d %H:%M}"
    except ValueError:
        return gettext(
            "The import of {archive} did not finish (the program was closed or the computer "
            "went off). What was imported is kept; restore the same backup again to complete it "
            "(nothing is added twice), or restore the safety backup {safety_backup} to go back. "
            "Open Settings → Backup.",
            archive=archive,
            safety_backup=safety_backup,
        )
    return gettext(
        "The import of {archive} on {started} did not finish (the program was closed or the "
        "computer went off). What was imported is kept; restore the same backup again to "
        "complete it (nothing is added twice), or restore the safety backup {safety_backup} to "
        "go back. Open Settings → Backup.",
        archive=archive,
        started=started,
        safety_backup=safety_backup,
    )
