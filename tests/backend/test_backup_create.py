"""Making a backup: one zip with a manifest of every entry, verified before it gets its final
name; refused up front when the folder cannot take it; cancellable; consistent while uploads go
on."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import threading
import zipfile

import pytest

from backend.backup import create, fsutil
from backend.backup.create import create_backup
from backend.backup.errors import BackupFailed, FolderNotUsable, NotEnoughSpace
from backend.backup.restore import restore_backup
from backend.backup.verify import VerifyReport
from backend.config import load_settings
from backend.jobs import Cancelled, Progress
from backend.startup import open_runtime
from backend.usecases import images, patients
from backend.usecases.check import check_store
from backend.usecases.images import Upload, add_images
from tests.backup_data import files, populate
from tests.helpers import image_bytes


def test_the_archive_holds_manifest_database_and_image_tree_but_no_thumbnails(runtime):
    populate(runtime, patients_count=2)
    assert any(runtime.settings.thumbnails_dir.rglob("*.jpg"))

    result = create_backup(runtime, runtime.settings.backups_dir)

    assert re.fullmatch(r"dental-images-backup-\d{8}-\d{6}\.zip", result.path.name)
    with zipfile.ZipFile(result.path) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.testzip() is None
        stored = {i.filename: i.compress_type for i in archive.infolist()}
    on_disk = files(runtime.settings.images_dir)
    assert names == {"manifest.json", "database.sqlite"} | {f"dental_images/{n}" for n in on_disk}
    assert not any("thumbnail" in n for n in names)
    for name, facts in manifest["entries"].items():
        if name.startswith("dental_images/"):
            assert facts["sha256"] == on_disk[name.removeprefix("dental_images/")]
    assert manifest["format"] == "dental-images-backup" and manifest["format_version"] == 1
    assert manifest["counts"] == {
        "patients": 2,
        "treatments": 2,
        "images": 6,
        "files": 6,
        "image_bytes": result.manifest.counts["image_bytes"],
    }
    assert manifest["includes_images"] is True and manifest["schema_version"]
    assert manifest["source_machine"] and manifest["created_at"].endswith("Z")
    assert stored["database.sqlite"] == zipfile.ZIP_DEFLATED
    assert {stored[n] for n in names if n.endswith(".jpg")} == {zipfile.ZIP_STORED}


@pytest.mark.skipif(
    shutil.which("unzip") is None,
    reason="needs Info-ZIP's unzip, which Windows does not have (the Linux suite runs it)",
)
def test_another_zip_tool_finds_the_archive_sound(runtime):
    populate(runtime, patients_count=1)
    result = create_backup(runtime, runtime.settings.backups_dir)
    assert subprocess.run(["unzip", "-tq", str(result.path)], capture_output=True).returncode == 0


def test_the_database_snapshot_has_no_leases_and_is_one_self_contained_file(runtime, tmp_path):
    populate(runtime, patients_count=1)
    result = create_backup(runtime, runtime.settings.backups_dir)
    with zipfile.ZipFile(result.path) as archive:
        (tmp_path / "snap.sqlite").write_bytes(archive.read("database.sqlite"))
    import sqlite3

    with sqlite3.connect(tmp_path / "snap.sqlite") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert connection.execute("SELECT COUNT(*) FROM store_locks").fetchone()[0] == 0
        assert connection.execute("SELECT COUNT(*) FROM patients").fetchone()[0] == 1


def test_a_database_only_backup_is_the_same_format_without_images(runtime):
    populate(runtime, patients_count=1)
    result = create_backup(runtime, runtime.settings.backups_dir, include_images=False)
    with zipfile.ZipFile(result.path) as archive:
        assert set(archive.namelist()) == {"manifest.json", "database.sqlite"}
    assert result.manifest.includes_images is False and result.manifest.counts["images"] == 3


def test_two_backups_in_one_second_get_two_names(runtime, monkeypatch):
    monkeypatch.setattr(create, "archive_name", lambda prefix, when: "same-backup.zip")
    first = create_backup(runtime, runtime.settings.backups_dir).path
    second = create_backup(runtime, runtime.settings.backups_dir).path
    assert (first.name, second.name) == ("same-backup.zip", "same-backup-2.zip")


def test_a_missing_folder_is_refused_with_what_to_do(runtime, tmp_path):
    with pytest.raises(FolderNotUsable) as caught:
        create_backup(runtime, tmp_path / "unplugged disk")
    assert "Connect the disk or choose another folder" in caught.value.message


def test_a_folder_that_cannot_be_written_is_refused(runtime, monkeypatch, tmp_path):
    def refuse(self, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fsutil.Path, "write_bytes", refuse)
    with pytest.raises(FolderNotUsable) as caught:
        create_backup(runtime, tmp_path)
    assert "cannot write to" in caught.value.message and "permission" in caught.value.message


def test_not_enough_space_is_refused_before_writing(runtime, monkeypatch, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    populate(runtime, patients_count=1)
    monkeypatch.setattr(fsutil, "free_bytes", lambda folder: 10_000)
    with pytest.raises(NotEnoughSpace) as caught:
        create_backup(runtime, dest)
    assert "Not enough free space" in caught.value.message
    assert "Free up space there or choose another folder" in caught.value.message
    assert list(dest.iterdir()) == []


def test_a_cancelled_backup_leaves_no_file(runtime, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    populate(runtime, patients_count=2)
    progress = Progress()
    original = progress.advance

    def cancel_after_some(items=1, nbytes=0):
        original(items, nbytes)
        if progress.current >= 3:
            progress._cancel.set()

    progress.advance = cancel_after_some
    with pytest.raises(Cancelled):
        create_backup(runtime, dest, progress=progress)
    assert list(dest.iterdir()) == []
    assert not (runtime.settings.backups_dir / ".work").exists() or not any(
        (runtime.settings.backups_dir / ".work").iterdir()
    )
    assert not list(runtime.settings.data_dir.glob(".backup-freeze-*"))


def test_an_archive_that_does_not_verify_is_never_given_its_final_name(
    runtime, monkeypatch, tmp_path
):
    dest = tmp_path / "dest"
    dest.mkdir()
    populate(runtime, patients_count=1)
    monkeypatch.setattr(
        create,
        "verify_archive",
        lambda path, **_: VerifyReport(path, "backup", problems=["The disk returned other bytes."]),
    )
    with pytest.raises(BackupFailed) as caught:
        create_backup(runtime, dest)
    assert "did not verify" in caught.value.message and "other bytes" in caught.value.message
    assert list(dest.iterdir()) == []


def test_progress_counts_files_and_bytes_through_writing_and_verifying(runtime, tmp_path):
    populate(runtime, patients_count=2)
    progress = Progress()
    create_backup(runtime, tmp_path, progress=progress)
    report = progress.as_dict()
    assert report["current"] == report["total"] == 7
    assert report["bytes_done"] == report["bytes_total"] > 0


def _uploads_and_deletes(runtime, stop: threading.Event, patient_id: str) -> None:
    n = 0
    with runtime.sessions() as session:
        while not stop.is_set():
            n += 1
            [result] = add_images(
                session,
                runtime.store,
                patient_id,
                "19",
                "clinical",
                [Upload(f"during {n}.png", image_bytes("PNG", (40 + n % 50, 30)))],
            )
            if n % 3 == 0:
                images.delete_image(session, runtime.store, result.image.id)


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_backup_taken_while_uploads_run_restores_to_a_consistent_state(
    runtime, tmp_path, monkeypatch, hard_links
):
    populate(runtime, patients_count=4, images_each=6)
    if not hard_links:  # a share without hard links: rows of files deleted meanwhile are dropped
        monkeypatch.setattr(create.os, "link", _no_links)
    with runtime.sessions() as session:
        busy = patients.create_patient(session, {"full_name": "Busy Patient"})
    stop = threading.Event()
    worker = threading.Thread(target=_uploads_and_deletes, args=(runtime, stop, busy.id))
    worker.start()
    try:
        results = [create_backup(runtime, tmp_path) for _ in range(3)]
    finally:
        stop.set()
        worker.join(30)

    for result in results:
        fresh = open_runtime(load_settings(tmp_path / f"fresh-{result.path.stem}"))
        try:
            restore_backup(fresh, result.path)
            with fresh.sessions() as session:
                report = check_store(session, fresh.store)
            assert report.ok, report.problems()
            assert report.rows == result.manifest.counts["images"]
        finally:
            fresh.close()


def _no_links(source, target):
    raise OSError(1, "Operation not permitted")


def test_every_entry_checksum_is_the_checksum_of_its_bytes(runtime):
    populate(runtime, patients_count=1)
    result = create_backup(runtime, runtime.settings.backups_dir)
    with zipfile.ZipFile(result.path) as archive:
        for name, entry in result.manifest.entries.items():
            assert hashlib.sha256(archive.read(name)).hexdigest() == entry.sha256
