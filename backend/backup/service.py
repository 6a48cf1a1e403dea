"""What the API, the command line and the scheduler start: a backup with its bookkeeping
(the remembered folder, the last good backup or the failure to show, old backups pruned)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from backend.backup import passphrase, schedule, state
from backend.backup.create import DEFAULT_PREFIX, BackupResult, create_backup
from backend.backup.fsutil import refuse_data_tree
from backend.backup.legacy import import_marker
from backend.backup.set_create import SetBackupResult, create_set_backup
from backend.backup.set_prune import prune_set
from backend.config import Settings
from backend.db import session_scope
from backend.errors import AppError
from backend.jobs import Cancelled, Job, Progress
from backend.runtime import Runtime

log = logging.getLogger(__name__)


def run_backup(
    runtime: Runtime,
    progress: Progress,
    *,
    folder: str | None = None,
    include_images: bool = True,
    scheduled: bool = False,
    kind: str | None = None,
    secret: str | None = None,
) -> dict[str, Any]:
    """Back up into `folder` (else the remembered folder, else backups/ in the data folder).
    A chosen folder is remembered once a backup there succeeded; a scheduled backup prunes the
    folder (or its set) to the newest N and records a failure for the main screen to show.
    `kind` is "zip" or "set"; by default a scheduled backup follows the schedule's mode and
    any other is a zip. A database-only backup is always a zip. With a backup passphrase set,
    the backup is encrypted with `secret` or the passphrase this PC's credential store keeps
    (backend.backup.passphrase.for_backup), as a zip (WinZip AES) or in an encrypted set."""
    with session_scope(runtime.sessions) as session:
        config = state.read_backup_settings(session)
    chosen = Path(folder or config.folder or runtime.settings.backups_dir).expanduser()
    refuse_data_tree(chosen, runtime.settings)  # also a folder remembered before this rule
    in_set = include_images and (kind or (config.mode if scheduled else "zip")) == state.SET_MODE
    result: BackupResult | SetBackupResult
    try:
        with session_scope(runtime.sessions) as session:
            key = passphrase.for_backup(session, secret, scheduled=scheduled)
        if in_set:
            result = create_set_backup(
                runtime,
                chosen,
                progress=progress,
                prefix=config.clinic or DEFAULT_PREFIX,
                passphrase=key,
            )
        else:
            result = create_backup(
                runtime,
                chosen,
                include_images=include_images,
                progress=progress,
                prefix=config.clinic or DEFAULT_PREFIX,
                passphrase=key,
            )
    except Cancelled:
        raise
    except Exception as exc:
        if scheduled:
            message = exc.message if isinstance(exc, AppError) else str(exc)
            with session_scope(runtime.sessions) as session:
                state.record_failure(session, message)
            log.error("scheduled backup failed: %s", message)
        raise
    summary = result.as_dict()
    with session_scope(runtime.sessions) as session:
        if include_images:
            state.record_success(
                session,
                {
                    "path": summary["path"],
                    # what it restores (a set backup's own size_bytes is what it added)
                    "size_bytes": result.total_bytes
                    if isinstance(result, SetBackupResult)
                    else result.size_bytes,
                    "scheduled": scheduled,
                    "files": result.manifest.counts["files"],
                    "kind": summary.get("kind", "zip"),
                },
            )
        if folder and str(chosen.resolve()) != (config.folder or ""):
            state.remember_folder(session, str(chosen.resolve()))
    if scheduled and isinstance(result, SetBackupResult):
        summary["pruned"] = prune_set(result.path.parent.parent, config.keep, result.key)
    elif scheduled:
        pruned = schedule.prune_backups(chosen, config.clinic, config.keep, key)
        summary["pruned"] = [p.name for p in pruned]
    return summary


def start_backup_job(
    runtime: Runtime,
    *,
    folder: str | None = None,
    include_images: bool = True,
    scheduled: bool = False,
    kind: str | None = None,
    secret: str | None = None,
) -> Job:
    """Start the backup as a whole-store job (Conflict while another one runs). A backup
    started by hand checks the passphrase before it starts (PassphraseNeeded, WrongPassphrase),
    so that the person is asked at once."""
    if not scheduled:
        with session_scope(runtime.sessions) as session:
            passphrase.for_backup(session, secret)
    return runtime.jobs.start(
        "backup",
        lambda progress: run_backup(
            runtime,
            progress,
            folder=folder,
            include_images=include_images,
            scheduled=scheduled,
            kind=kind,
            secret=secret,
        ),
    )


def backup_status(
    session: Session,
    settings: Settings,
    now: datetime | None = None,
    *,
    restore_running: bool = False,
) -> dict[str, Any]:
    """The schedule, the last good backup, the last failure, an import of the earlier app's
    backup that was cut off, and the warning for the main screen (None when all is well).
    `restore_running`: a restore or import holds the store lock now, so an import record of a
    program that may still be running is that running import's, not a cut-off one."""
    now = now or datetime.now()
    unfinished = import_marker.unfinished(session)
    if unfinished and restore_running and import_marker.may_be_running(unfinished):
        unfinished = None
    config = state.read_backup_settings(session)
    success = state.last_success(session)
    error = state.last_error(session)
    success_at = success.local_time() if success else None
    upcoming = schedule.next_run(config, success_at, now)
    return {
        "settings": config.as_dict(),
        "encryption": passphrase.status(session),
        "folder": config.folder or str(settings.backups_dir),
        "default_folder": str(settings.backups_dir),
        "last_success": success.as_dict() if success else None,
        "last_error": error.as_dict() if error else None,
        "next_run": upcoming.isoformat(timespec="minutes") if upcoming else None,
        "unfinished_import": unfinished,
        "warning": import_marker.warning(unfinished)
        if unfinished
        else schedule.warning(
            config,
            success_at,
            (error.local_time(), str(error.details.get("message", ""))) if error else None,
            now,
            has_data=schedule.has_data(session),
        ),
    }


def start_scheduler(runtime: Runtime) -> schedule.BackupScheduler:
    """Start the thread that runs scheduled backups (the desktop and serve entries call this)."""
    return schedule.BackupScheduler(
        runtime.sessions, lambda: start_backup_job(runtime, scheduled=True)
    ).start()
