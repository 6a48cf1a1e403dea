"""Scheduled backups: when one is due and when the main screen should warn (pure functions of
the settings, the history and the time), which old backups to remove, and the thread that
checks every minute."""

from __future__ import annotations

import logging
import re
import threading
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from backend.backup import state
from backend.backup.create import DEFAULT_PREFIX
from backend.backup.encrypted_zip import BAD_ZIP, open_backup
from backend.backup.manifest import IMAGES_PREFIX, MANIFEST_NAME, ManifestError, parse_manifest
from backend.backup.passphrase import PassphraseNeeded, WrongPassphrase
from backend.db import session_scope
from backend.errors import Conflict
from backend.fileio import remove_path
from backend.i18n import gettext
from backend.jobs import Job
from backend.models import Patient
from backend.storage import clean_stem

log = logging.getLogger(__name__)

PERIODS = {"daily": timedelta(days=1), "weekly": timedelta(days=7)}
GRACE = timedelta(hours=2)
RETRY_AFTER = timedelta(hours=1)
UNSCHEDULED_WARNING_AFTER = timedelta(days=30)
CHECK_EVERY_S = 60.0


def latest_slot(config: state.BackupSettings, now: datetime) -> datetime | None:
    """The most recent moment (local time, not after `now`) a scheduled backup was due."""
    if config.schedule not in PERIODS:
        return None
    hour, minute = (int(part) for part in config.time.split(":"))
    slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if config.schedule == "weekly":
        slot -= timedelta(days=(now.weekday() - config.weekday) % 7)
    while slot > now:
        slot -= PERIODS[config.schedule]
    return slot


def is_due(
    config: state.BackupSettings,
    last_success: datetime | None,
    last_attempt: datetime | None,
    now: datetime,
) -> bool:
    """True when no good backup was made since the latest scheduled moment, and no attempt in
    the last hour (a failed backup is retried hourly, not every minute)."""
    slot = latest_slot(config, now)
    if slot is None or (last_success is not None and last_success >= slot):
        return False
    return last_attempt is None or now - last_attempt >= RETRY_AFTER


def next_run(
    config: state.BackupSettings, last_success: datetime | None, now: datetime
) -> datetime | None:
    """When the next scheduled backup will run (now, if one is due)."""
    slot = latest_slot(config, now)
    if slot is None:
        return None
    if last_success is None or last_success < slot:
        return now
    return slot + PERIODS[config.schedule]


def warning(
    config: state.BackupSettings,
    last_success: datetime | None,
    last_error: tuple[datetime, str] | None,
    now: datetime,
    *,
    has_data: bool,
) -> str | None:
    """What the main screen says when backups are not what they should be, or None."""
    if last_error is not None and (last_success is None or last_error[0] > last_success):
        return gettext(
            "The last scheduled backup failed ({time}): {error} Open Settings → Backup to fix it.",
            time=f"{last_error[0]:%Y-%m-%d %H:%M}",
            error=last_error[1],
        )
    if not has_data:
        return None
    if config.schedule in PERIODS:
        allowed = PERIODS[config.schedule] + GRACE
        schedule_text = (
            gettext("the daily schedule")
            if config.schedule == "daily"
            else gettext("the weekly schedule")
        )
    else:
        allowed = UNSCHEDULED_WARNING_AFTER
        schedule_text = gettext("30 days")
    if last_success is None:
        return gettext("No backup has been made yet. Open Settings → Backup and press Back up now.")
    if now - last_success > allowed:
        return gettext(
            "The last good backup is from {time}, older than {schedule} allows. "
            "Open Settings → Backup and press Back up now.",
            time=f"{last_success:%Y-%m-%d %H:%M}",
            schedule=schedule_text,
        )
    return None


def prune_backups(
    folder: Path, clinic: str, keep: int, passphrase: str | None = None
) -> list[Path]:
    """Delete all but the newest `keep` complete backups (with images) of this clinic in
    `folder` (names `<clinic>-backup-<date>-<time>[-n].zip`). Database-only backups do not count
    and are kept, so that N complete backups always remain; safety backups, other files and
    archives whose manifest cannot be read are never touched. An encrypted backup's manifest
    is read with `passphrase`; one that it does not open (made before the passphrase changed)
    counts as complete when its directory lists image files."""
    stem = clean_stem(clinic) if clinic.strip() else DEFAULT_PREFIX
    pattern = re.compile(re.escape(stem) + r"-backup-(\d{8}-\d{6})(?:-(\d+))?\.zip$")
    dated = []
    for path in folder.glob(f"{stem}-backup-*.zip"):
        matched = pattern.match(path.name)
        if matched and _holds_images(path, passphrase):
            dated.append(((matched.group(1), int(matched.group(2) or 1)), path))
    ours = [path for _when, path in sorted(dated)]
    removed = ours[:-keep] if keep > 0 else []
    for path in removed:
        remove_path(path)
        log.info("old backup removed (keeping the newest %d): %s", keep, path)
    return removed


def _holds_images(archive: Path, passphrase: str | None) -> bool:
    try:
        with open_backup(archive, passphrase) as opened:
            return parse_manifest(opened.read(MANIFEST_NAME)).includes_images
    except (PassphraseNeeded, WrongPassphrase):
        with zipfile.ZipFile(archive) as listed:
            return any(name.startswith(IMAGES_PREFIX) for name in listed.namelist())
    except BAD_ZIP:
        return False
    except (OSError, KeyError, ValueError, RuntimeError, ManifestError):
        return False


class BackupScheduler:
    """A daemon thread that starts the scheduled backup job when one is due. `start_backup`
    starts the job (raising Conflict while another whole-store job runs)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        start_backup: Callable[[], Job],
        *,
        interval_s: float = CHECK_EVERY_S,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._sessions = sessions
        self._start_backup = start_backup
        self._interval = interval_s
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="backup-scheduler", daemon=True)

    def start(self) -> BackupScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:
                log.exception("backup scheduler check failed; trying again in a minute")

    def tick(self) -> Job | None:
        """Start the scheduled backup if it is due; returns its job, or None."""
        with session_scope(self._sessions) as session:
            config = state.read_backup_settings(session)
            success = state.last_success(session)
            attempt = state.last_attempt(session)
            now = self._clock()
            due = is_due(
                config,
                success.local_time() if success else None,
                _local(attempt) if attempt else None,
                now,
            )
            if not due:
                return None
            try:
                job = self._start_backup()
            except Conflict as exc:
                log.info("scheduled backup waits: %s", exc.message)
                return None
            state.record_attempt(session)
        log.info("scheduled backup started (job %s)", job.id)
        return job


def _local(utc_naive: datetime) -> datetime:
    return state.BackupRecord(utc_naive, {}).local_time()


def has_data(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(Patient)))
