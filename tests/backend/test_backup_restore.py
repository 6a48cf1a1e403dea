"""Backup then restore, on SQLite and on PostgreSQL: the same rows, the same bytes, the same
treatment links; failures after the swap roll back by themselves."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select

from backend.backup import journal, restore
from backend.backup.create import SAFETY_PREFIX, create_backup
from backend.backup.errors import BackupInvalid, RestoreFailed
from backend.backup.restore import preview_restore, prune_safety_backups, restore_backup
from backend.backup.state import update_backup_settings
from backend.backup.verify import verify_archive
from backend.config import sqlite_url
from backend.db import create_db_engine
from backend.models import Image
from backend.paths import migrations_dir
from backend.usecases import patients
from tests.backup_data import files, populate, rows, state_of, write_archive
from tests.helpers import image_bytes


def wipe_and_change(runtime) -> None:
    """Delete every patient (files too) and add one the backup does not know."""
    with runtime.sessions() as session:
        for patient in patients.search_patients(session, limit=500):
            patients.delete_patient(session, runtime.store, patient.id)
        patients.create_patient(session, {"full_name": "Added after the backup"})


def leftovers(settings) -> list[str]:
    """Anything a restore leaves behind besides backups: staging, set-aside data, journal."""
    found = [p.name for p in settings.data_dir.iterdir() if p.name.startswith(".restore")]
    found += [p.name for p in settings.backups_dir.iterdir() if p.suffix in (".json", ".part")]
    if (settings.backups_dir / ".work").exists():
        found += [p.name for p in (settings.backups_dir / ".work").iterdir()]
    return found


def test_round_trip_gives_identical_rows_byte_identical_files_and_links(runtime):
    populate(runtime)
    before_rows, before_files = state_of(runtime)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    wipe_and_change(runtime)
    assert rows(runtime)["patients"] != before_rows["patients"]

    result = restore_backup(runtime, archive)

    assert rows(runtime) == before_rows
    assert files(runtime.settings.images_dir) == before_files
    assert result["restored"]["patients"] == 3 and result["restored"]["images"] == 9
    with runtime.sessions() as session:
        linked = session.scalars(select(Image).where(Image.treatment_id.is_not(None))).all()
        assert len(linked) == 6
        assert all(image.treatment.tooth == image.tooth == "14" for image in linked)
    assert leftovers(runtime.settings) == []
    assert journal.load_journal(runtime.settings) is None


def test_the_current_data_is_kept_in_a_verified_safety_backup_first(runtime):
    populate(runtime, patients_count=1)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    wipe_and_change(runtime)
    changed_rows, changed_files = state_of(runtime)

    safety = Path(restore_backup(runtime, archive)["safety_backup"])

    assert safety.name.startswith(SAFETY_PREFIX) and verify_archive(safety).ok
    restore_backup(runtime, safety)
    assert (rows(runtime), files(runtime.settings.images_dir)) == (changed_rows, changed_files)


def test_the_preview_says_what_is_in_the_backup_and_what_it_replaces(runtime):
    populate(runtime, patients_count=2)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    wipe_and_change(runtime)
    before = state_of(runtime)

    preview = preview_restore(runtime, archive)

    assert preview["backup"]["counts"]["patients"] == 2
    assert preview["backup"]["counts"]["images"] == 6
    assert preview["current"]["patients"] == 1
    assert "replaced" in preview["replaces"][0] and "safety backup" in preview["replaces"][-1]
    assert state_of(runtime) == before


def test_a_database_only_backup_restores_the_records_and_leaves_the_image_folder(runtime):
    populate(runtime, patients_count=1)
    before_rows = rows(runtime)
    archive = create_backup(runtime, runtime.settings.backups_dir, include_images=False).path
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Later"})
    images_now = files(runtime.settings.images_dir)

    restore_backup(runtime, archive)

    assert rows(runtime) == before_rows
    assert files(runtime.settings.images_dir) == images_now


def test_a_failure_after_the_swap_rolls_back_by_itself(runtime, monkeypatch):
    populate(runtime, patients_count=2)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    wipe_and_change(runtime)
    before = state_of(runtime)

    def broken_check(*_args):
        raise RuntimeError("injected failure after the swap")

    monkeypatch.setattr(restore, "_check_restored", broken_check)
    with pytest.raises(RestoreFailed) as caught:
        restore_backup(runtime, archive)

    assert "undone" in caught.value.message and "injected" in caught.value.message
    assert state_of(runtime) == before
    assert leftovers(runtime.settings) == []
    with runtime.sessions() as session:  # the live program works on the old data
        assert [p.full_name for p in patients.search_patients(session)] == [
            "Added after the backup"
        ]


def test_a_failure_while_staging_changes_nothing(runtime, monkeypatch):
    populate(runtime, patients_count=1)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    wipe_and_change(runtime)
    before = state_of(runtime)

    def refuse(*_args):
        raise BackupInvalid(["The staged database is not right."])

    monkeypatch.setattr(restore, "prepare_database", refuse)
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, archive)

    assert state_of(runtime) == before
    assert leftovers(runtime.settings) == []


def _database_at(path: Path, revision: str):
    engine = create_db_engine(sqlite_url(path))
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    command.upgrade(config, revision)
    engine.dispose()


def _old_rows(database: Path, folder: str, names: list[str]) -> None:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(
            "INSERT INTO patients (id, serial_number, full_name, date_added, created_at,"
            " updated_at) VALUES ('6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11', '7', 'Old Schema',"
            " '2025-01-01', '2025-01-01', '2025-01-01')"
        )
        connection.execute(
            "INSERT INTO treatments (id, patient_id, tooth, treatment_type, status, priority,"
            " created_at, updated_at) VALUES ('t-1', '6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11',"
            " '8', 'Filling', 'planned', 1, '2025-01-01', '2025-01-01')"
        )
        for n, name in enumerate(names):
            data = image_bytes("PNG", (30 + n, 20))
            connection.execute(
                "INSERT INTO images (id, patient_id, tooth, image_type, folder_path, file_name,"
                " treatment_id, created_at, updated_at, size_bytes, sha256, width, height,"
                " format) VALUES (?, '6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11', '8', 'before', ?,"
                " ?, 't-1', '2025-01-01', '2025-01-01', ?, ?, 30, 20, 'PNG')",
                (f"i-{n}", folder, name, len(data), hashlib.sha256(data).hexdigest()),
            )
        connection.commit()
        connection.execute("PRAGMA journal_mode=DELETE")  # the whole database in the one file


def test_a_backup_from_an_older_schema_is_upgraded_and_its_paths_corrected(runtime, tmp_path):
    database = tmp_path / "old.sqlite"
    _database_at(database, "0001")
    patient = "6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11"
    right = f"dental_images/{patient}/8/before/"
    _old_rows(database, right.replace("/", "\\"), ["a-1.png", "b-2.png"])
    images = {
        f"{right}a-1.png": image_bytes("PNG", (30, 20)),
        # the second file sits in the wrong folder: found by name and checksum, put in place
        f"dental_images/{patient}/8/after/b-2.png": image_bytes("PNG", (31, 20)),
    }
    archive = tmp_path / "old-backup.zip"
    write_archive(
        archive,
        database,
        images,
        schema_version="0001",
        counts={"patients": 1, "treatments": 1, "images": 2},
    )

    result = restore_backup(runtime, archive)

    assert "3 image paths were corrected." in result["warnings"]
    with runtime.sessions() as session:
        restored = session.scalars(select(Image).order_by(Image.file_name)).all()
        assert [i.folder_path for i in restored] == [right, right]
        assert all(i.treatment_id == "t-1" for i in restored)
        for image in restored:
            assert runtime.store.path_of(image.relative_path).read_bytes() == images.get(
                image.relative_path, images[f"dental_images/{patient}/8/after/b-2.png"]
            )


def test_a_restore_keeps_this_installations_backup_schedule(runtime):
    with runtime.sessions() as session:
        update_backup_settings(session, {"schedule": "daily", "keep": 3})
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        update_backup_settings(session, {"schedule": "weekly", "keep": 9})

    restore_backup(runtime, archive)

    with runtime.sessions() as session:
        from backend.backup.state import read_backup_settings

        kept = read_backup_settings(session)
    assert (kept.schedule, kept.keep) == ("weekly", 9)


def test_only_the_newest_three_safety_backups_are_kept(tmp_path):
    for stamp in ("20250101-100000", "20250102-100000", "20250103-100000", "20250104-100000"):
        (tmp_path / f"{SAFETY_PREFIX}-backup-{stamp}.zip").write_bytes(b"x")
    (tmp_path / "clinic-backup-20240101-100000.zip").write_bytes(b"x")

    removed = prune_safety_backups(tmp_path)

    assert [p.name for p in removed] == [f"{SAFETY_PREFIX}-backup-20250101-100000.zip"]
    assert (tmp_path / "clinic-backup-20240101-100000.zip").exists()


def test_a_backup_from_before_taken_sources_gets_them_derived(runtime, tmp_path):
    database = tmp_path / "old.sqlite"
    _database_at(database, "0007")
    patient = "6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11"
    folder = f"dental_images/{patient}/8/before/"
    _old_rows(database, folder, ["a-1.png", "b-2.png"])
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("UPDATE images SET taken_date = '2024-01-02' WHERE id = 'i-0'")
        connection.commit()
        connection.execute("PRAGMA journal_mode=DELETE")
    images = {
        f"{folder}a-1.png": image_bytes("PNG", (30, 20)),
        f"{folder}b-2.png": image_bytes("PNG", (31, 20)),
    }
    archive = tmp_path / "old-backup.zip"
    write_archive(
        archive,
        database,
        images,
        schema_version="0007",
        counts={"patients": 1, "treatments": 1, "images": 2},
    )

    restore_backup(runtime, archive)

    with runtime.sessions() as session:
        restored = session.scalars(select(Image).order_by(Image.file_name)).all()
        assert [(i.file_name, i.taken_source) for i in restored] == [
            ("a-1.png", "set"),  # dated by a person
            ("b-2.png", "upload"),  # no date: its upload's stands for it
        ]
