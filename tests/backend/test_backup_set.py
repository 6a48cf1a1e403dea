"""Incremental backup sets, on SQLite and on PostgreSQL: the first backup copies every file,
the next ones only what is new; every backup restores on its own exactly like a zip; pruning
keeps the newest N without breaking one; verify reads every file once and names damage."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from backend.backup import backup_set as bs
from backend.backup.errors import BackupInvalid
from backend.backup.restore import archive_path, preview_restore, restore_backup
from backend.backup.set_create import create_set_backup
from backend.backup.set_prune import prune_set, sweep
from backend.backup.verify import verify_archive
from backend.errors import ValidationError
from backend.jobs import Progress
from backend.usecases import patients, trash
from backend.usecases.images import Upload, add_images
from tests.backup_data import files, populate, state_of
from tests.helpers import image_bytes


def stored_files(set_dir: Path) -> set[str]:
    return {p.name for p in (set_dir / bs.FILES_DIR).glob("*/*")}


def add_patient_with_images(runtime, name: str, count: int) -> None:
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": name})
        add_images(
            session,
            runtime.store,
            patient.id,
            "21",
            "after",
            [
                Upload(f"{name} {n}.png", image_bytes("PNG", (70 + n, 50), (n * 20, 90, 40)))
                for n in range(count)
            ],
        )


def test_first_backup_copies_everything_and_the_next_only_what_is_new(runtime, tmp_path):
    populate(runtime)
    first = create_set_backup(runtime, tmp_path)
    set_dir = tmp_path / "dental-images-backup-set"
    assert first.path.parent == set_dir / "backups"
    assert json.loads((set_dir / "set.json").read_text(encoding="utf-8"))["format_version"] == 1
    live = files(runtime.settings.images_dir)
    assert first.added_files == len(set(live.values())) == len(stored_files(set_dir))
    assert first.manifest.counts["files"] == len(live) == 9

    add_patient_with_images(runtime, "Later", 2)
    second = create_set_backup(runtime, tmp_path)

    assert second.added_files == 2
    assert second.size_bytes < first.size_bytes
    assert second.manifest.counts["files"] == 11
    assert len(stored_files(set_dir)) == first.added_files + 2
    assert [p.name for p in bs.complete_backups(set_dir)] == [first.path.name, second.path.name]
    # Readable without the program: the manifest names each file's checksum, files/ holds it.
    manifest = json.loads((second.path / "manifest.json").read_text(encoding="utf-8"))
    for name, entry in manifest["entries"].items():
        if name != "database.sqlite":
            stored = set_dir / "files" / entry["sha256"][:2] / entry["sha256"]
            assert stored.stat().st_size == entry["size"]
    assert verify_archive(set_dir).ok


def test_every_backup_of_a_set_restores_on_its_own(runtime, tmp_path):
    populate(runtime)
    first_state = state_of(runtime)
    first = create_set_backup(runtime, tmp_path)
    add_patient_with_images(runtime, "Second day", 3)
    second_state = state_of(runtime)
    second = create_set_backup(runtime, tmp_path)
    with runtime.sessions() as session:
        for patient in patients.search_patients(session, limit=50):
            patients.delete_patient(session, runtime.store, patient.id)

    preview = preview_restore(runtime, first.path / "manifest.json")
    assert preview["backup"]["counts"]["files"] == 9
    result = restore_backup(runtime, archive_path(str(first.path / "manifest.json")))
    assert state_of(runtime) == first_state
    assert Path(result["safety_backup"]).suffix == ".zip"

    restore_backup(runtime, second.path)
    assert state_of(runtime) == second_state


def test_pruning_keeps_the_newest_and_removes_only_files_no_backup_needs(runtime, tmp_path):
    populate(runtime, patients_count=2)
    create_set_backup(runtime, tmp_path)
    add_patient_with_images(runtime, "Gone later", 2)
    create_set_backup(runtime, tmp_path)
    with runtime.sessions() as session:
        (gone,) = [p for p in patients.search_patients(session) if p.full_name == "Gone later"]
        patients.delete_patient(session, runtime.store, gone.id)
        trash.purge(session, runtime.store, everything=True)  # a trashed patient is backed up
    third_state = state_of(runtime)
    third = create_set_backup(runtime, tmp_path)
    set_dir = third.path.parent.parent
    assert third.added_files == 0
    held = stored_files(set_dir)

    oldest = bs.complete_backups(set_dir)[0].name
    assert prune_set(set_dir, 2) == [oldest]
    assert len(bs.complete_backups(set_dir)) == 2
    assert stored_files(set_dir) == held  # the second backup still names the deleted files
    prune_set(set_dir, 1)
    assert bs.complete_backups(set_dir) == [third.path]
    assert len(stored_files(set_dir)) == len(held) - 2
    assert verify_archive(set_dir).ok
    with runtime.sessions() as session:
        for patient in patients.search_patients(session, limit=50):
            patients.delete_patient(session, runtime.store, patient.id)
    restore_backup(runtime, third.path)
    assert state_of(runtime) == third_state


def test_verify_reads_every_file_once_and_names_damage(runtime, tmp_path):
    populate(runtime, patients_count=2)
    first = create_set_backup(runtime, tmp_path)
    add_patient_with_images(runtime, "New", 1)
    second = create_set_backup(runtime, tmp_path)
    set_dir = second.path.parent.parent
    progress = Progress()
    report = verify_archive(set_dir, progress=progress)
    assert report.ok and report.kind == bs.BACKUP_SET
    shown = progress.as_dict()
    unique = len(list((set_dir / "files").glob("*/*")))
    assert shown["total"] == shown["current"] == unique + 2  # every file once, two databases
    assert shown["bytes_done"] == shown["bytes_total"] > report.size_bytes
    assert report.size_bytes == sum(
        p.stat().st_size for p in (set_dir / "files").glob("*/*")
    )  # each file counted once though both backups name most of them
    assert [b["ok"] for b in report.as_dict()["backups"]] == [True, True]

    new_sha = next(
        e.sha256
        for n, e in second.manifest.entries.items()
        if n not in first.manifest.entries and n != "database.sqlite"
    )
    damaged = bs.file_path(set_dir, new_sha)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))

    report = verify_archive(set_dir)
    assert not report.ok and new_sha in report.problems[0]
    assert [b["ok"] for b in report.as_dict()["backups"]] == [True, False]
    assert verify_archive(first.path).ok
    assert not verify_archive(second.path).ok
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, second.path)


def test_a_hostile_manifest_is_refused_before_anything_is_read(runtime, tmp_path):
    populate(runtime, patients_count=1)
    backup = create_set_backup(runtime, tmp_path)
    manifest_path = backup.path / "manifest.json"
    data = json.loads(manifest_path.read_text(encoding="utf-8"))
    _name, entry = next((n, e) for n, e in data["entries"].items() if n != "database.sqlite")
    data["entries"]["dental_images/../../outside.png"] = entry
    manifest_path.write_text(json.dumps(data), encoding="utf-8")
    report = verify_archive(backup.path)
    assert not report.ok and "outside" in report.problems[0]
    assert not (runtime.settings.data_dir / "outside.png").exists()
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, backup.path)


def test_a_set_of_a_newer_format_or_encrypted_is_refused_with_a_reason(runtime, tmp_path):
    populate(runtime, patients_count=1)
    backup = create_set_backup(runtime, tmp_path)
    header = backup.path.parent.parent / "set.json"
    data = json.loads(header.read_text(encoding="utf-8"))
    header.write_text(json.dumps({**data, "format_version": 2}), encoding="utf-8")
    assert "newer version" in verify_archive(backup.path).problems[0]
    header.write_text(json.dumps({**data, "encryption": {"scheme": "x"}}), encoding="utf-8")
    assert "encrypted" in verify_archive(backup.path).problems[0]


def test_a_whole_set_is_verified_but_not_restored(runtime, tmp_path):
    populate(runtime, patients_count=1)
    backup = create_set_backup(runtime, tmp_path)
    set_dir = backup.path.parent.parent
    assert archive_path(str(set_dir), whole_set=True) == set_dir.resolve()
    with pytest.raises(ValidationError, match="whole backup set"):
        archive_path(str(set_dir))
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, set_dir)


def test_leftovers_of_a_killed_backup_stay_invisible_and_are_swept(runtime, tmp_path):
    populate(runtime, patients_count=1)
    backup = create_set_backup(runtime, tmp_path)
    set_dir = backup.path.parent.parent
    # What a kill leaves: a hidden part folder, a file no manifest names, a work file.
    part = set_dir / "backups" / ".20990101-000000.abc.part"
    part.mkdir()
    (part / "database.sqlite").write_bytes(b"half")
    orphan = bs.file_path(set_dir, "ab" * 32)
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"orphan")
    assert bs.complete_backups(set_dir) == [backup.path]
    assert verify_archive(set_dir).ok
    assert sweep(set_dir) == 0 and orphan.exists()  # a part folder may be a backup at work
    old = 1_000_000_000
    os.utime(part, (old, old))
    add_patient_with_images(runtime, "After the kill", 1)
    create_set_backup(runtime, tmp_path)
    assert not part.exists()
    prune_set(set_dir, 5)
    assert not orphan.exists()
    assert verify_archive(set_dir).ok
