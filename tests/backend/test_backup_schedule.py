"""Scheduled backups: when one is due, when the main screen warns, which old files go, and the
scheduler starting the job."""

from __future__ import annotations

import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.backup import schedule, state
from backend.backup.errors import FolderNotUsable
from backend.backup.manifest import MANIFEST_NAME, Entry, Manifest
from backend.backup.schedule import BackupScheduler, is_due, latest_slot, next_run, warning
from backend.backup.state import BackupSettings
from backend.errors import Conflict, ValidationError
from backend.jobs import Job, Progress

DAILY = BackupSettings(schedule="daily", time="19:00")
WEEKLY = BackupSettings(schedule="weekly", time="08:30", weekday=4)  # Fridays
NOW = datetime(2025, 3, 12, 20, 15)  # a Wednesday evening


def test_the_latest_slot_of_a_daily_schedule_is_today_once_the_time_has_passed():
    assert latest_slot(DAILY, NOW) == datetime(2025, 3, 12, 19, 0)
    assert latest_slot(DAILY, NOW.replace(hour=9)) == datetime(2025, 3, 11, 19, 0)
    assert latest_slot(BackupSettings(), NOW) is None


def test_the_latest_slot_of_a_weekly_schedule_is_last_friday():
    assert latest_slot(WEEKLY, NOW) == datetime(2025, 3, 7, 8, 30)
    assert latest_slot(WEEKLY, datetime(2025, 3, 14, 8, 29)) == datetime(2025, 3, 7, 8, 30)
    assert latest_slot(WEEKLY, datetime(2025, 3, 14, 8, 30)) == datetime(2025, 3, 14, 8, 30)


@pytest.mark.parametrize(
    ("last_success", "last_attempt", "due"),
    [
        (None, None, True),
        (datetime(2025, 3, 12, 19, 5), None, False),
        (datetime(2025, 3, 11, 19, 5), None, True),
        (datetime(2025, 3, 11, 19, 5), datetime(2025, 3, 12, 19, 30), False),  # retried hourly
        (datetime(2025, 3, 11, 19, 5), datetime(2025, 3, 12, 19, 10), True),
    ],
)
def test_a_daily_backup_is_due_once_per_day_and_retried_hourly(last_success, last_attempt, due):
    assert is_due(DAILY, last_success, last_attempt, NOW) is due


def test_nothing_is_due_without_a_schedule():
    assert not is_due(BackupSettings(), None, None, NOW)


def test_next_run_is_now_when_due_else_the_next_slot():
    assert next_run(DAILY, None, NOW) == NOW
    assert next_run(DAILY, datetime(2025, 3, 12, 19, 1), NOW) == datetime(2025, 3, 13, 19, 0)
    assert next_run(BackupSettings(), None, NOW) is None


def test_the_main_screen_warns_when_the_last_good_backup_is_too_old():
    fresh = NOW - timedelta(hours=20)
    stale = NOW - timedelta(days=1, hours=3)
    assert warning(DAILY, fresh, None, NOW, has_data=True) is None
    assert "older than the daily schedule allows" in warning(DAILY, stale, None, NOW, has_data=True)
    assert warning(WEEKLY, stale, None, NOW, has_data=True) is None
    assert "No backup has been made yet" in warning(DAILY, None, None, NOW, has_data=True)
    assert warning(DAILY, None, None, NOW, has_data=False) is None


def test_without_a_schedule_the_warning_comes_after_thirty_days():
    assert warning(BackupSettings(), NOW - timedelta(days=29), None, NOW, has_data=True) is None
    said = warning(BackupSettings(), NOW - timedelta(days=31), None, NOW, has_data=True)
    assert "older than 30 days allows" in said


def test_a_failed_scheduled_backup_is_shown_until_a_good_one_follows():
    failed = (NOW - timedelta(hours=1), "The folder E:\\Backups does not exist.")
    said = warning(DAILY, NOW - timedelta(hours=25), failed, NOW, has_data=True)
    assert "The last scheduled backup failed" in said and "E:\\Backups" in said
    assert warning(DAILY, NOW - timedelta(minutes=5), failed, NOW, has_data=True) is None


def _archive(path: Path, *, images: bool) -> None:
    """A zip with a well-formed manifest (pruning reads only the manifest)."""
    manifest = Manifest(
        app_version="1",
        created_at="2025-03-01T19:00:00Z",
        source_machine="desk",
        schema_version="0003",
        includes_images=images,
        counts={"patients": 0, "treatments": 0, "images": 0, "files": 0, "image_bytes": 0},
        entries={"database.sqlite": Entry(1, "0" * 64)},
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST_NAME, manifest.to_bytes())
        archive.writestr("database.sqlite", b"x")


def test_pruning_keeps_the_newest_complete_backups_of_this_clinic_only(tmp_path):
    names = [f"North_Clinic-backup-2025030{d}-190000.zip" for d in range(1, 6)]
    names.insert(4, "North_Clinic-backup-20250304-190000-2.zip")  # a second one that second
    database_only = "North_Clinic-backup-20250302-120000.zip"
    others = ["safety-before-restore-backup-20250101-100000.zip", "North_Clinic-notes.zip"]
    for name in names:
        _archive(tmp_path / name, images=True)
    _archive(tmp_path / database_only, images=False)
    for name in others:
        (tmp_path / name).write_bytes(b"x")
    broken = tmp_path / "North_Clinic-backup-20250201-190000.zip"
    broken.write_bytes(b"PK not really")

    removed = schedule.prune_backups(tmp_path, "North Clinic", keep=2)

    assert sorted(p.name for p in removed) == sorted(names[:4])
    kept = sorted([*names[4:], database_only, broken.name, *others])
    assert sorted(p.name for p in tmp_path.iterdir()) == kept


def test_settings_are_checked_before_anything_is_stored(session):
    with pytest.raises(ValidationError) as caught:
        state.update_backup_settings(session, {"schedule": "daily", "time": "7pm"})
    assert caught.value.field == "time"
    with pytest.raises(ValidationError):
        state.update_backup_settings(session, {"keep": 0})
    with pytest.raises(ValidationError):
        state.update_backup_settings(session, {"folder": "relative/folder"})
    assert state.read_backup_settings(session) == BackupSettings()
    saved = state.update_backup_settings(session, {"schedule": "weekly", "weekday": "4"})
    assert (saved.schedule, saved.weekday) == ("weekly", 4)


def _job() -> Job:
    return Job(id="j", kind="backup", progress=Progress())


def test_the_scheduler_starts_a_due_backup_once_and_records_the_attempt(runtime):
    with runtime.sessions() as session:
        state.update_backup_settings(session, {"schedule": "daily", "time": "00:00"})
    started = []
    scheduler = BackupScheduler(runtime.sessions, lambda: started.append(_job()) or started[-1])

    assert scheduler.tick() is started[0]
    assert scheduler.tick() is None  # attempted a moment ago: retried only after an hour
    with runtime.sessions() as session:
        assert state.last_attempt(session) is not None


def test_the_scheduler_waits_while_another_whole_store_job_runs(runtime):
    with runtime.sessions() as session:
        state.update_backup_settings(session, {"schedule": "daily", "time": "00:00"})

    def busy():
        raise Conflict("A restore is running.")

    assert BackupScheduler(runtime.sessions, busy).tick() is None
    with runtime.sessions() as session:
        assert state.last_attempt(session) is None


def test_a_schedule_into_a_folder_that_does_not_exist_is_refused_and_nothing_changes(
    session, tmp_path
):
    for missing in (str(tmp_path / "nonexistent" / "zzz"), str(tmp_path / "unplugged disk")):
        with pytest.raises(FolderNotUsable) as caught:
            state.update_backup_settings(session, {"schedule": "daily", "folder": missing})
        assert caught.value.field == "folder"
        assert "does not exist" in caught.value.message and "choose another" in caught.value.message
    assert state.read_backup_settings(session) == BackupSettings()
    assert not (tmp_path / "unplugged disk").exists()  # refused, not created


@pytest.mark.skipif(
    sys.platform != "linux",
    reason="needs Linux /proc, a folder nobody may write into: Windows folders have no such "
    "attribute (only access lists, which a test account cannot take from itself)",
)
def test_a_folder_that_cannot_be_written_is_refused(session):
    with pytest.raises(FolderNotUsable) as caught:
        state.update_backup_settings(session, {"folder": "/proc"})
    assert caught.value.field == "folder" and "cannot write" in caught.value.message
    assert state.read_backup_settings(session) == BackupSettings()


def test_an_existing_folder_or_none_is_saved_and_an_unplugged_disk_can_be_switched_off(
    session, tmp_path
):
    assert state.update_backup_settings(session, {"schedule": "daily"}).folder is None
    disk = tmp_path / "usb"
    disk.mkdir()
    saved = state.update_backup_settings(session, {"schedule": "weekly", "folder": str(disk)})
    assert saved.folder == str(disk)
    disk.rmdir()  # the drive is unplugged
    with pytest.raises(FolderNotUsable):
        state.update_backup_settings(session, {"time": "18:00"})
    # the form sends every field, the unchanged folder too
    form = {**saved.as_dict(), "schedule": "off"}
    assert state.update_backup_settings(session, form).schedule == "off"
