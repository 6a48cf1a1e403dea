"""The migration of legacy data found at this installation's own places: once, after a verified
backup, journaled, with emptied legacy folders removed and the outcome recorded."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from collections import namedtuple
from pathlib import Path

import pytest
from sqlalchemy import event, select

from backend import app_state, fileio
from backend.config import load_settings
from backend.migration import state
from backend.migration.runner import run_migration
from backend.models import Image, MigrationJournal
from backend.moving import mover, safety
from backend.moving.mover import Mover, Placement, recover
from backend.startup import open_runtime
from backend.storage import file_sha256, image_folder, legacy_patient_folder
from backend.usecases.images import Upload, add_images
from tests.helpers import disk_snapshot, image_bytes
from tests.legacy_data import build_legacy, check_imported


@pytest.fixture
def legacy_home(tmp_path):
    """A data folder that still holds the earlier app's database and image trees."""
    data = build_legacy(tmp_path / "data", notation="fdi")
    runtime = open_runtime(load_settings(tmp_path / "data"))
    yield runtime, data
    runtime.close()


def test_the_start_up_check_finds_legacy_data(legacy_home):
    runtime, _data = legacy_home
    check = runtime.migration_check
    assert check.needed and any("dental_clinic.db" in r for r in check.reasons)
    assert any("name-based" in r for r in check.reasons)


def test_migration_moves_everything_into_the_layout_after_a_backup(legacy_home):
    runtime, data = legacy_home
    report = run_migration(runtime)
    with runtime.sessions() as session:
        check_imported(session, runtime.settings.image_store_root, data)
    moved = [p for p in data.legacy_files if p not in data.unreferenced]
    backup = Path(report.backup)
    manifest = json.loads((backup / "manifest.json").read_text(encoding="utf-8"))
    assert backup.name.startswith("pre-migration-") and (backup / "database" / "dental.db").exists()
    kept = {Path(f["original"]) for f in manifest["files"]}
    assert kept == {p for p in moved if not p.exists()}  # every retired original is kept
    for entry in manifest["files"]:
        assert entry["linked"] and (backup / entry["kept_as"]).stat().st_size == entry["size"]
    # emptied legacy folders are gone; a folder still holding a stray file stays
    images = runtime.settings.images_dir
    layla = next(p for p, n in data.patients.items() if n == "Layla Haddad")
    # her file no row names came across as a patient-level image; the stray of no patient stays
    assert not (images / legacy_patient_folder("Layla Haddad", layla) / "xray").exists()
    assert (images / "Nobody_Known" / "xray").is_dir()
    assert not (images / legacy_patient_folder("ليلى حداد", "x") / "clinical").exists()
    arabic = next(p for p, n in data.patients.items() if n == "ليلى حداد")
    upload_images = runtime.settings.data_dir / "public" / "upload" / "dental_images"
    assert any(upload_images / arabic in f.parents for f in data.legacy_files)
    assert not (upload_images / arabic).exists()  # held her x-rays before the migration
    assert all(p.exists() for p in data.unreferenced)


def test_once_complete_the_next_start_does_nothing(legacy_home, tmp_path, monkeypatch):
    """The next start decides from the record alone: it looks for no legacy data and writes
    nothing (how fast that is, is measured by `python -m tests.bench startup`)."""
    runtime, data = legacy_home
    # the row that is no image is a lasting failure: reported, and not retried at every start
    report = run_migration(runtime)
    assert report.failed == len(data.failing) and report.retryable == 0
    runtime.close()

    def not_at_this_start(*_args, **_kwargs):
        raise AssertionError("a start after a complete migration looked again or wrote")

    monkeypatch.setattr(state, "_changed", not_at_this_start)
    monkeypatch.setattr(state, "record_state", not_at_this_start)
    again = open_runtime(load_settings(tmp_path / "data"))
    try:
        assert not again.migration_check.needed
        assert again.migration_check.state == state.COMPLETE
    finally:
        again.close()


def test_migration_without_hard_links_copies_every_file_whole(legacy_home, monkeypatch):
    runtime, data = legacy_home

    def no_hard_links(*_args, **_kwargs):
        raise OSError(errno.EPERM, "hard links are not supported here")

    monkeypatch.setattr(mover.os, "link", no_hard_links)  # as on FAT or many shares
    report = run_migration(runtime)
    monkeypatch.undo()

    assert report.imported == len(data.expected) and report.retryable == 0
    with runtime.sessions() as session:
        check_imported(session, runtime.settings.image_store_root, data)
    leftovers = [p for p in runtime.settings.images_dir.rglob(".mig-*")]
    assert leftovers == []


def test_a_second_migration_run_by_hand_changes_nothing(legacy_home):
    runtime, data = legacy_home
    run_migration(runtime)
    images = runtime.settings.image_store_root / "dental_images"
    files_before = disk_snapshot(images)
    assert len(files_before) >= len(data.expected)
    with runtime.sessions() as session:
        rows_before = sorted(
            (r.id, r.relative_path, r.sha256) for r in session.scalars(select(Image))
        )

    again = run_migration(runtime)

    assert again.imported == 0
    assert disk_snapshot(images) == files_before
    with runtime.sessions() as session:
        rows_after = sorted(
            (r.id, r.relative_path, r.sha256) for r in session.scalars(select(Image))
        )
        check_imported(session, runtime.settings.image_store_root, data)
    assert rows_after == rows_before


def test_an_empty_installation_records_that_nothing_waits(runtime):
    assert not runtime.migration_check.needed
    with runtime.sessions() as session:
        recorded = app_state.get_json(session, state.STATE_KEY)
    assert recorded["state"] == state.COMPLETE and recorded["found"] == "nothing to migrate"


def test_a_database_of_uncertain_notation_waits_for_the_person(tmp_path):
    build_legacy(tmp_path / "data", notation="universal", tables="new")
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "dental_clinic.db") as db:
        db.execute("UPDATE tooth_treatments SET tooth_number = 21")
        db.execute("UPDATE tooth_treatment_images SET tooth_number = 12")
    runtime = open_runtime(load_settings(tmp_path / "data"))
    try:
        report = run_migration(runtime)
        assert report.imported == 0 and "not certain" in report.notes[0]
        with runtime.sessions() as session:
            assert app_state.get_json(session, state.STATE_KEY)["state"] == state.NEEDS_NOTATION
        assert run_migration(runtime, notation="universal").imported > 0
    finally:
        runtime.close()


def test_a_dry_run_changes_nothing(legacy_home):
    runtime, data = legacy_home
    report = run_migration(runtime, dry_run=True)
    assert report.imported == len(data.expected)
    assert all(p.exists() for p in data.legacy_files)
    with runtime.sessions() as session:
        assert session.scalars(select(Image)).first() is None


def test_not_enough_space_is_refused_with_a_clear_message(legacy_home, monkeypatch):
    runtime, data = legacy_home
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(safety.shutil, "disk_usage", lambda _p: usage(10**9, 10**9, 1000))
    with pytest.raises(safety.NotEnoughSpace, match="Not enough free space"):
        run_migration(runtime)
    assert all(p.exists() for p in data.legacy_files)
    assert not any(runtime.settings.backups_dir.iterdir())


def test_backup_names_are_never_reused(runtime, tmp_path):
    (tmp_path / "f.png").write_bytes(b"x")
    item = safety.SafetyItem(tmp_path / "f.png", tmp_path, file_sha256(tmp_path / "f.png"), 1)
    first = safety.make_safety_backup(runtime.settings, runtime.engine, [item])
    second = safety.make_safety_backup(runtime.settings, runtime.engine, [item])
    assert first != second and first.exists() and second.exists()


def test_a_partial_backup_left_by_a_killed_run_is_removed_by_a_later_one(runtime, tmp_path):
    backups = runtime.settings.backups_dir
    backups.mkdir(parents=True, exist_ok=True)
    stale = backups / f".{safety.PREFIX}dead.partial"
    fresh = backups / f".{safety.PREFIX}live.partial"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "database").mkdir()
    old = time.time() - safety.STALE_AFTER_S - 60
    os.utime(stale, (old, old))
    (tmp_path / "f.png").write_bytes(b"x")
    item = safety.SafetyItem(tmp_path / "f.png", tmp_path, file_sha256(tmp_path / "f.png"), 1)
    safety.make_safety_backup(runtime.settings, runtime.engine, [item])
    assert not stale.exists()
    assert fresh.exists()  # may belong to a run still going


def test_an_unreadable_legacy_place_does_not_stop_the_start(tmp_path, monkeypatch):
    legacy_root = tmp_path / "old-app"
    legacy_root.mkdir()
    (legacy_root / "dental_images").write_text(
        "a file where the folder of images was expected", encoding="utf-8"
    )
    monkeypatch.setenv("DENTAL_IMAGES_LEGACY_ROOTS", str(legacy_root))
    runtime = open_runtime(load_settings(data_dir=tmp_path / "home"))
    try:
        assert runtime.migration_check is not None
    finally:
        runtime.close()


def _placement(runtime, patient, tmp_path, data: bytes) -> Placement:
    source = tmp_path / "legacy.png"
    source.write_bytes(data)
    row = {
        "id": "6f1f3c1e-0000-4000-8000-000000000001",
        "patient_id": patient.id,
        "tooth": "8",
        "image_type": "xray",
        "size_bytes": len(data),
        "sha256": file_sha256(source),
        "width": 64,
        "height": 48,
        "format": "PNG",
    }
    return Placement(
        source,
        image_folder(patient.id, "8", "xray"),
        "legacy",
        "png",
        row["sha256"],
        len(data),
        row["id"],
        "test",
        row=row,
        retire_source=True,
    )


def test_recovery_finishes_a_move_whose_file_was_placed(runtime, patient, tmp_path, monkeypatch):
    item = _placement(runtime, patient, tmp_path, image_bytes("PNG"))
    mover = Mover(runtime.sessions, runtime.store, "migration")
    monkeypatch.setattr(Mover, "_commit_rows", lambda *a: (_ for _ in ()).throw(SystemExit()))
    with pytest.raises(SystemExit):
        mover.place([item])
    monkeypatch.undo()
    assert item.source.exists()
    result = recover(runtime.sessions, runtime.store)
    assert result.finished == 1 and not item.source.exists()
    with runtime.sessions() as session:
        image = session.get(Image, item.image_id)
        assert runtime.store.path_of(image.relative_path).read_bytes() == image_bytes("PNG")
        assert session.scalars(select(MigrationJournal)).first() is None


def test_recovery_undoes_a_move_that_never_published(runtime, patient, tmp_path, monkeypatch):
    item = _placement(runtime, patient, tmp_path, image_bytes("PNG"))
    mover = Mover(runtime.sessions, runtime.store, "migration")
    monkeypatch.setattr(Mover, "_materialize", lambda *a: (_ for _ in ()).throw(SystemExit()))
    with pytest.raises(SystemExit):
        mover.place([item])
    monkeypatch.undo()
    result = recover(runtime.sessions, runtime.store)
    assert result.undone == 1 and item.source.exists()
    with runtime.sessions() as session:
        assert session.get(Image, item.image_id) is None


def test_our_images_found_in_a_name_based_folder_are_put_back(runtime, session, patient):
    [stored] = add_images(
        session, runtime.store, patient.id, "14", "xray", [Upload("a.png", image_bytes("PNG"))]
    )
    place = runtime.store.path_of(stored.image.relative_path)
    legacy = runtime.settings.images_dir / legacy_patient_folder(patient.full_name, patient.id)
    (legacy / "xray").mkdir(parents=True)
    shutil.move(place, legacy / "xray" / place.name)
    report = run_migration(runtime)
    assert report.imported == 1 and place.read_bytes() == image_bytes("PNG")
    assert not legacy.exists()


def _no_links(*_args, **_kwargs):
    raise OSError(errno.EPERM, "no hard links on this disk")


class _Order:
    """What the mover does, in order: flushes of copied files, folder syncs, commits (with
    SQLite's synchronous level at that moment: 2 is FULL) and deletions."""

    def __init__(self, runtime, monkeypatch) -> None:
        self.events: list[tuple] = []
        real_sync, real_sync_dir, real_fsync, real_unlink = (
            fileio.sync_folders,
            fileio.fsync_dir,
            fileio.fsync_file,
            fileio.unlink,
        )

        def sync_folders(folders):
            folders = set(folders)
            self.events.append(("sync", frozenset(folders)))
            real_sync(folders)

        def fsync_dir(folder):
            self.events.append(("sync", frozenset({Path(folder)})))
            real_sync_dir(folder)

        def fsync_file(path):
            self.events.append(("flush", Path(path)))
            real_fsync(path)

        def unlink(path, **kwargs):
            self.events.append(("unlink", Path(path)))
            return real_unlink(path, **kwargs)

        monkeypatch.setattr(fileio, "sync_folders", sync_folders)
        monkeypatch.setattr(fileio, "fsync_dir", fsync_dir)
        monkeypatch.setattr(fileio, "fsync_file", fsync_file)
        monkeypatch.setattr(fileio, "unlink", unlink)
        self.sqlite = runtime.engine.dialect.name == "sqlite"

        def on_commit(connection):
            level = None
            if self.sqlite:
                raw = connection.connection.dbapi_connection
                level = raw.execute("PRAGMA synchronous").fetchone()[0]
            self.events.append(("commit", level))

        event.listen(runtime.engine, "commit", on_commit)
        self._listener = (runtime.engine, on_commit)

    def stop(self) -> None:
        event.remove(self._listener[0], "commit", self._listener[1])

    def index(self, wanted, start: int = 0) -> int:
        return next(i for i, e in enumerate(self.events) if i >= start and wanted(e))

    def durable_commit(self, e) -> bool:
        return e[0] == "commit" and (e[1] == 2 or not self.sqlite)


@pytest.mark.parametrize("hard_links", [True, False])
def test_an_original_is_retired_only_after_its_new_place_is_durable(
    runtime, patient, tmp_path, monkeypatch, hard_links
):
    if not hard_links:
        monkeypatch.setattr(mover.os, "link", _no_links)
    item = _placement(runtime, patient, tmp_path, image_bytes("PNG"))
    order = _Order(runtime, monkeypatch)
    try:
        [outcome] = Mover(runtime.sessions, runtime.store, "migration").place([item])
    finally:
        order.stop()
    assert outcome.error is None and outcome.retired == item.source
    dest = runtime.store.path_of(outcome.relative_path)
    retired = order.index(lambda e: e == ("unlink", item.source))
    synced = order.index(lambda e: e[0] == "sync" and dest.parent in e[1])
    # The commit that names the new place follows the sync (on PostgreSQL every commit is
    # durable, so an earlier one, such as the journal's, proves nothing).
    durable = order.index(order.durable_commit, start=synced)
    assert synced < durable < retired
    if not hard_links:  # the copy's bytes reached the disk before it got its name
        flushed = order.index(lambda e: e[0] == "flush")
        assert flushed < synced
    if order.sqlite:  # only the batch's rows commit at FULL; the connection goes back to NORMAL
        with runtime.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1


def test_recovery_retires_an_original_only_after_a_durable_commit(
    runtime, patient, tmp_path, monkeypatch
):
    item = _placement(runtime, patient, tmp_path, image_bytes("PNG"))
    mover = Mover(runtime.sessions, runtime.store, "migration")
    monkeypatch.setattr(Mover, "_commit_rows", lambda *a: (_ for _ in ()).throw(SystemExit()))
    with pytest.raises(SystemExit):
        mover.place([item])
    monkeypatch.undo()
    order = _Order(runtime, monkeypatch)
    try:
        assert recover(runtime.sessions, runtime.store).finished == 1
    finally:
        order.stop()
    retired = order.index(lambda e: e == ("unlink", item.source))
    dest = runtime.store.path_of(item.folder)
    synced = order.index(lambda e: e[0] == "sync" and dest in e[1])
    # As for a first run: the commit that counts follows the sync of the new place (on
    # PostgreSQL every commit is durable, so any earlier one proves nothing).
    assert synced < order.index(order.durable_commit, start=synced) < retired


def test_a_name_taken_in_another_case_is_not_reused(runtime, patient, tmp_path):
    item = _placement(runtime, patient, tmp_path, image_bytes("PNG"))
    folder = runtime.store.path_of(item.folder)
    folder.mkdir(parents=True)
    (folder / "LEGACY.PNG").write_bytes(b"another file")  # one name with legacy.png on NTFS
    [outcome] = Mover(runtime.sessions, runtime.store, "migration").place([item])
    assert outcome.error is None and outcome.relative_path == item.folder + "legacy-2.png"
    assert (folder / "LEGACY.PNG").read_bytes() == b"another file"
