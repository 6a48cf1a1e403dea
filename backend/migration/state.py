"""The migration's recorded state, and the check at every start that must cost milliseconds on
an up-to-date store: one app_state read, one journal probe and a few stats, never a walk."""

from __future__ import annotations

import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend import app_state
from backend.config import IMAGES_DIRNAME, Settings
from backend.i18n import gettext
from backend.legacy.database import DB_NAME
from backend.legacy.paths import ROOT_CANDIDATES
from backend.models import MigrationJournal, utcnow

log = logging.getLogger(__name__)

STATE_KEY = app_state.MIGRATION_STATE
REPORT_KEY = app_state.MIGRATION_REPORT
COMPLETE, INCOMPLETE, NEEDS_NOTATION = "complete", "incomplete", "needs_notation"


@dataclass
class StartupCheck:
    """Whether the migration has work, and why (`reasons` are sentences for the log)."""

    needed: bool
    state: str | None
    reasons: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "needed": self.needed,
            "state": self.state,
            "reasons": list(self.reasons),
            "elapsed_ms": round(self.elapsed_ms, 2),
        }


def watched_places(settings: Settings) -> list[Path]:
    """What the check stats: our image folder, the legacy roots, and where an earlier app's
    database or image folder may appear in them."""
    places = [settings.images_dir, settings.data_dir / DB_NAME]
    for root in (settings.data_dir, *settings.legacy_roots):
        for suffix in ROOT_CANDIDATES:
            base = root.joinpath(*suffix)
            places += [base / IMAGES_DIRNAME, base / DB_NAME]
    return list(dict.fromkeys(places))


def fingerprint(settings: Settings) -> dict[str, str]:
    """{place: "mtime_ns:size" or "-"} of the watched places."""
    prints = {}
    for place in watched_places(settings):
        try:
            stat = os.stat(place)
            prints[str(place)] = f"{stat.st_mtime_ns}:{stat.st_size}"
        except OSError:
            prints[str(place)] = "-"
    return prints


def record_state(session: Session, settings: Settings, state: str, **facts: Any) -> None:
    """Record the outcome of a run (or of a check that found nothing) with the fingerprint of
    the watched places as they are now."""
    app_state.put_json(
        session,
        STATE_KEY,
        {
            "state": state,
            "at": utcnow().isoformat(),
            "fingerprint": fingerprint(settings),
            "name_based": _name_based_folders(settings.images_dir),
            **facts,
        },
    )
    session.commit()


def _name_based_folders(images_dir: Path) -> list[str]:
    """Top-level folders of our image tree that are not patient ids (one directory read)."""
    try:
        entries = list(os.scandir(images_dir))
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            uuid.UUID(entry.name)
        except ValueError:
            found.append(entry.name)
    return found


def _changed(settings: Settings, recorded: dict[str, Any] | None) -> list[str]:
    """Sentences for each sign of legacy data among the watched places that changed since
    the last recorded run (or all of them when none was recorded)."""
    before = (recorded or {}).get("fingerprint", {})
    now = fingerprint(settings)
    changed = {place for place, value in now.items() if before.get(place) != value}
    reasons = []
    for place in sorted(changed):
        path = Path(place)
        if now[place] == "-":
            continue
        if path.name == DB_NAME:
            reasons.append(gettext("the earlier app's database is at {path}", path=path))
        elif path == settings.images_dir:
            seen = set((recorded or {}).get("name_based", ()))
            legacy = [name for name in _name_based_folders(path) if name not in seen]
            if legacy:
                reasons.append(
                    gettext(
                        "{legacy_count} name-based legacy folders in {path}",
                        legacy_count=len(legacy),
                        path=path,
                    )
                )
        elif path.parent != settings.data_dir and _holds_anything(path):
            reasons.append(gettext("legacy images in {path}", path=path))
    return reasons


def _holds_anything(folder: Path) -> bool:
    """False for an empty folder and for one that cannot be read (a file, no permission): the
    start must never fail on a legacy place it only looks at."""
    try:
        return any(folder.iterdir())
    except OSError:
        return False


def startup_check(settings: Settings, sessions: sessionmaker[Session]) -> StartupCheck:
    """Decide, cheaply, whether the migration has work. When nothing is found that is recorded,
    so that the next start decides from the record alone."""
    started = time.perf_counter()
    with sessions() as session:
        recorded = app_state.get_json(session, STATE_KEY)
        pending = session.scalar(select(MigrationJournal.id).limit(1)) is not None
        state = recorded.get("state") if recorded else None
        reasons = (
            [gettext("file moves interrupted by a crash are to be finished")] if pending else []
        )
        if state == INCOMPLETE:
            reasons.append(gettext("the last migration left files to retry"))
        if not (
            recorded is not None
            and state in (COMPLETE, NEEDS_NOTATION)
            and recorded["fingerprint"] == fingerprint(settings)
        ):
            reasons += _changed(settings, recorded)
            if not reasons and state != NEEDS_NOTATION:
                record_state(session, settings, COMPLETE, found="nothing to migrate")
                state = COMPLETE
    check = StartupCheck(bool(reasons), state, reasons, (time.perf_counter() - started) * 1000)
    if check.needed:
        log.info("migration needed: %s", "; ".join(reasons))
    else:
        log.debug("nothing to migrate (checked in %.1f ms)", check.elapsed_ms)
    return check
