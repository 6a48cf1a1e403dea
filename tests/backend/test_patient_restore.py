"""Restoring one patient from a backup, on SQLite and PostgreSQL: from our zip and from the
earlier app's backups, a patient deleted since or still here with changes, a failure half-way
leaving the live data as it was, and a tampered backup refused."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.backup import patient_restore, patient_restore_plan, patient_source
from backend.backup.create import create_backup
from backend.backup.errors import BackupInvalid
from backend.backup.restore import restore_backup
from backend.backup.verify import verify_archive
from backend.errors import Conflict, NotFound
from backend.jobs import Progress
from backend.models import Image, Patient, Treatment
from backend.usecases import patients, trash, treatments
from backend.usecases.images import Upload, add_images, delete_image
from tests.backup_data import files, populate, rows, state_of
from tests.helpers import image_bytes
from tests.legacy_data import build_legacy

SAMPLES = Path("/work/shared/legacy-samples")


def patient_rows(runtime, patient_id: str) -> dict[str, list]:
    """Every row of one patient (patients, treatments, images), compared field by field."""
    found = rows(runtime)
    own = {
        "patients": [r for r in found["patients"] if r[0] == patient_id],
        "treatments": [r for r in found["treatments"] if r[1] == patient_id],
        "images": [r for r in found["images"] if r[1] == patient_id],
    }
    return own


def others(runtime, patient_id: str) -> tuple[list, list, list]:
    found = rows(runtime)
    return (
        [r for r in found["patients"] if r[0] != patient_id],
        [r for r in found["treatments"] if r[1] != patient_id],
        [r for r in found["images"] if r[1] != patient_id],
    )


def opened(runtime, archive: Path):
    return patient_source.open_backup(runtime.settings, archive, Progress())


def leftovers(runtime) -> list[str]:
    """Temporary files left in the image tree (a .part of a copy)."""
    return [p.name for p in runtime.settings.images_dir.rglob("*.part")]


@pytest.fixture
def backed_up(runtime):
    """Three patients backed up; returns (ids, archive, the rows and files at backup time)."""
    ids = populate(runtime)
    before = state_of(runtime)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    return ids, archive, before


def test_a_deleted_patient_comes_back_and_every_other_patient_keeps_todays_work(runtime, backed_up):
    ids, archive, (_rows_then, files_then) = backed_up
    target = ids[1]
    then = patient_rows(runtime, target)
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, target)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        patients.update_patient(session, ids[0], {"full_name": "Renamed today"})
        patients.create_patient(session, {"full_name": "Added today"})
    others_now = others(runtime, target)
    backup = opened(runtime, archive)

    listed = patient_restore_plan.list_patients(backup, "ليلي")  # the search folds letter forms
    assert [p["id"] for p in listed["patients"]] == [target] and listed["total"] == 3
    preview = patient_restore_plan.preview_patient(runtime, backup, target)
    assert not preview["exists"] and preview["problems"] == []
    assert preview["comes_back"]["images"] == 3 and preview["comes_back"]["treatments"] == 1
    assert {(p["tooth"], p["image_type"], p["count"]) for p in preview["comes_back"]["by_place"]}
    assert preview["comes_back"]["files_to_copy"] == 3

    result = patient_restore.restore_patient(runtime, backup, target)

    assert patient_rows(runtime, target) == then
    assert others(runtime, target) == others_now  # today's work on the others is kept
    now = files(runtime.settings.images_dir)
    assert {k: v for k, v in now.items() if target in k} == {
        k: v for k, v in files_then.items() if target in k
    }
    assert result["files_copied"] == 3 and not result["was_here"]
    safety = Path(result["safety_backup"])
    assert safety.name.startswith(patient_restore.SAFETY_PREFIX) and verify_archive(safety).ok
    assert verify_archive(safety).manifest.includes_images is False  # no file here is changed
    assert leftovers(runtime) == []
    with runtime.sessions() as session:
        for image in session.scalars(select(Image).where(Image.patient_id == target)):
            assert runtime.store.path_of(image.relative_path).is_file()
    assert (runtime.settings.data_dir / "logs").exists()


def test_a_patient_still_here_is_replaced_by_the_backup_and_newer_images_are_kept(
    runtime, backed_up
):
    ids, archive, _ = backed_up
    target = ids[0]
    then = patient_rows(runtime, target)
    with runtime.sessions() as session:
        patients.update_patient(session, target, {"full_name": "Changed", "phone": "0711"})
        gone = session.scalars(select(Image).where(Image.patient_id == target)).first()
        assert gone is not None
        gone_id = gone.id
        delete_image(session, runtime.store, gone_id)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        treatments.create_treatment(session, target, {"tooth": "21", "treatment_type": "Filling"})
        (new_image,) = add_images(
            session,
            runtime.store,
            target,
            "21",
            "after",
            [Upload("today.png", image_bytes("PNG", (40, 30), (1, 2, 3)))],
        )
        assert new_image.image is not None
        new_image_id = new_image.image.id
    backup = opened(runtime, archive)

    preview = patient_restore_plan.preview_patient(runtime, backup, target)
    assert preview["exists"]
    assert set(preview["replaces"]["patient_fields"]) == {"full_name", "phone"}
    assert preview["replaces"]["images_new"] == 1 and preview["replaces"]["images_same"] == 2
    assert preview["kept"] == {"treatments": 1, "images": 1}
    assert preview["comes_back"]["files_to_copy"] == 1
    assert any("kept" in line for line in preview["lines"])

    patient_restore.restore_patient(runtime, backup, target)

    now = patient_rows(runtime, target)
    assert now["patients"] == then["patients"]
    assert set(then["treatments"]) < set(now["treatments"]) and len(now["treatments"]) == 2
    assert set(then["images"]) < set(now["images"])
    with runtime.sessions() as session:
        assert session.get(Image, gone_id) is not None
        kept = session.get(Image, new_image_id)
        assert kept is not None and runtime.store.path_of(kept.relative_path).is_file()


def test_a_failure_while_writing_the_records_leaves_the_live_data_unchanged(
    runtime, backed_up, monkeypatch
):
    ids, archive, _ = backed_up
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[2])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        patients.update_patient(session, ids[0], {"full_name": "Changed"})
    before = state_of(runtime)
    backup = opened(runtime, archive)
    real_upsert = patient_restore._upsert

    def failing(live, table, rows_, key):
        real_upsert(live, table, rows_, key)  # the patient and treatments are written...
        if table.name == "images":
            raise RuntimeError("injected failure after the images' rows")

    monkeypatch.setattr(patient_restore, "_upsert", failing)
    for target in (ids[2], ids[0]):
        with pytest.raises(RuntimeError, match="injected"):
            patient_restore.restore_patient(runtime, backup, target)
        assert state_of(runtime) == before  # ...and rolled back, the copied files removed
    assert leftovers(runtime) == []


def test_a_failure_while_copying_the_files_removes_the_files_already_copied(
    runtime, backed_up, monkeypatch
):
    ids, archive, _ = backed_up
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[1])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
    before = state_of(runtime)
    backup = opened(runtime, archive)
    real_copy = patient_source.OpenedBackup.copy_file
    copied = []

    def third_fails(self, relative, target, expected, on_bytes=None, **options):
        if len(copied) == 2:
            target.write_bytes(b"half")  # a partial copy under the temporary name
            raise OSError(28, "No space left on device")
        real_copy(self, relative, target, expected, on_bytes, **options)
        copied.append(relative)

    monkeypatch.setattr(patient_source.OpenedBackup, "copy_file", third_fails)
    with pytest.raises(OSError, match="No space"):
        patient_restore.restore_patient(runtime, backup, ids[1])

    assert len(copied) == 2
    assert state_of(runtime) == before and leftovers(runtime) == []


def rewrite_zip(source: Path, target: Path, change) -> None:
    """A copy of the zip with `change(name, data)` applied to every entry's bytes."""
    with zipfile.ZipFile(source) as reading, zipfile.ZipFile(target, "w") as writing:
        for info in reading.infolist():
            writing.writestr(info, change(info.filename, reading.read(info)))


def test_a_tampered_image_in_the_backup_is_refused_and_nothing_is_changed(
    runtime, backed_up, tmp_path
):
    ids, archive, _ = backed_up
    target = ids[1]
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, target)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
    before = state_of(runtime)
    tampered = tmp_path / "tampered.zip"
    swapped: list[str] = []

    def change(name: str, data: bytes) -> bytes:
        if target in name and not swapped and name.endswith(".png"):
            swapped.append(name)
            return data[:-1] + bytes([data[-1] ^ 0xFF])  # same size, other bytes
        return data

    rewrite_zip(archive, tampered, change)
    assert swapped
    backup = opened(runtime, tampered)  # the other entries are not read yet
    with pytest.raises(BackupInvalid, match="checksum"):
        patient_restore.restore_patient(runtime, backup, target)
    assert state_of(runtime) == before and leftovers(runtime) == []


def test_a_tampered_database_or_hostile_entry_is_refused_when_the_backup_is_opened(
    runtime, backed_up, tmp_path
):
    _ids, archive, _ = backed_up
    damaged = tmp_path / "damaged.zip"
    rewrite_zip(
        archive,
        damaged,
        lambda name, data: (
            data.replace(b"Patient 0", b"Patient X") if name == "database.sqlite" else data
        ),
    )
    with pytest.raises(BackupInvalid, match="checksum"):
        opened(runtime, damaged)
    hostile = tmp_path / "hostile.zip"
    shutil.copy(archive, hostile)
    with zipfile.ZipFile(hostile, "a") as writing:
        writing.writestr("../outside.txt", b"x")
    with pytest.raises(BackupInvalid, match="outside"):
        opened(runtime, hostile)
    assert not (tmp_path / "outside.txt").exists()
    assert not list((runtime.settings.backups_dir / ".work").glob("patient-*"))


def test_a_serial_number_given_again_since_the_backup_makes_the_patient_come_back_renumbered(
    runtime, backed_up
):
    ids, archive, _ = backed_up
    with runtime.sessions() as session:
        serial = session.get(Patient, ids[1]).serial_number
        patients.delete_patient(session, runtime.store, ids[1])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        patients.create_patient(session, {"full_name": "New", "serial_number": serial})
    before = state_of(runtime)
    backup = opened(runtime, archive)

    preview = patient_restore_plan.preview_patient(runtime, backup, ids[1])
    assert preview["problems"] == [] and preview["patient"]["serial_number"] == "4"
    assert any("New" in line and "4" in line for line in preview["lines"])
    assert state_of(runtime) == before
    patient_restore.restore_patient(runtime, backup, ids[1])
    with runtime.sessions() as session:
        assert session.get(Patient, ids[1]).serial_number == "4"
        found = patients.search_patients(session, "4")
        assert ids[1] in [p.id for p in found]


def test_the_patient_is_found_by_id_or_serial_number(runtime, backed_up):
    ids, archive, _ = backed_up
    backup = opened(runtime, archive)
    with runtime.sessions() as session:
        serial = session.get(Patient, ids[2]).serial_number
    assert patient_restore_plan.find_patient(backup, serial) == ids[2]
    assert patient_restore_plan.find_patient(backup, ids[2].upper()) == ids[2]
    with pytest.raises(NotFound):
        patient_restore_plan.find_patient(backup, "no such")


def legacy_zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def test_one_patient_of_the_earlier_apps_backup_comes_back_under_the_id_it_was_imported_with(
    runtime, tmp_path
):
    data = build_legacy(tmp_path / "old app", notation="fdi")
    archive = legacy_zip(data.folder, tmp_path / "old-backup.zip")
    restore_backup(runtime, archive)  # imported once, then one patient deleted
    with runtime.sessions() as session:
        layla = session.scalars(select(Patient).where(Patient.full_name == "Layla Haddad")).one()
        layla_id = layla.id
    then = patient_rows(runtime, layla_id)
    assert then["images"]
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, layla_id)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        patients.create_patient(session, {"full_name": "Added today"})
    others_now = others(runtime, layla_id)
    backup = opened(runtime, archive)
    assert backup.kind == "legacy-zip" and backup.reading

    (found,) = patient_restore_plan.list_patients(backup, "layla")["patients"]
    preview = patient_restore_plan.preview_patient(runtime, backup, found["id"])
    assert not preview["exists"] and preview["comes_back"]["images"] == len(then["images"])
    result = patient_restore.restore_patient(runtime, backup, found["id"])

    assert result["patient"]["id"] == layla_id
    now = patient_rows(runtime, layla_id)
    assert [r[:3] for r in now["treatments"]] == [r[:3] for r in then["treatments"]]
    strip = [
        sorted(((r[2], r[3], r[4], r[12]) for r in group), key=repr)
        for group in (now["images"], then["images"])
    ]  # tooth, type, folder, sha256
    assert strip[0] == strip[1]
    assert others(runtime, layla_id) == others_now
    with runtime.sessions() as session:
        for image in session.scalars(select(Image).where(Image.patient_id == layla_id)):
            assert runtime.store.path_of(image.relative_path).is_file()


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the earlier app's real backups are not here")
@pytest.mark.parametrize("case", ["early", "newest"])
def test_a_patient_of_a_real_backup_of_the_earlier_app_is_restored(runtime, tmp_path, case):
    (source,) = (SAMPLES / case / "backups").glob("*.zip")
    archive = tmp_path / source.name
    shutil.copyfile(source, archive)
    backup = opened(runtime, archive)
    listed = patient_restore_plan.list_patients(backup)
    assert listed["total"] == 8
    chosen = max(listed["patients"], key=lambda p: p["image_count"])

    result = patient_restore.restore_patient(runtime, backup, chosen["id"])

    assert result["images"] == chosen["image_count"] > 0
    with runtime.sessions() as session:
        assert [p.id for p in session.scalars(select(Patient))] == [chosen["id"]]
        treatment_count = len(
            session.scalars(select(Treatment).where(Treatment.patient_id == chosen["id"])).all()
        )
        assert treatment_count == chosen["treatment_count"]
        for image in session.scalars(select(Image)):
            path = runtime.store.path_of(image.relative_path)
            assert hashlib.sha256(path.read_bytes()).hexdigest() == image.sha256
    assert json.dumps(result)  # the job's result goes over HTTP as it is


def test_a_patient_of_the_earlier_apps_json_export_or_bare_database_is_restored(runtime, tmp_path):
    from tests.backend.test_backup_legacy import legacy_json_export

    export = legacy_json_export(tmp_path / "clinic-export.json")
    backup = opened(runtime, export)
    assert backup.kind == "legacy-json"
    (layla,) = patient_restore_plan.list_patients(backup, "ليلي")["patients"]
    patient_restore.restore_patient(runtime, backup, layla["id"])
    with runtime.sessions() as session:
        found = session.get(Patient, "2b0d7b3e-9c1a-4c2e-8f5e-0a1b2c3d4e5f")
        assert (found.full_name, found.serial_number, found.allergies) == (
            "ليلى حداد",
            "17",
            "penicillin",
        )
        assert len(session.scalars(select(Patient)).all()) == 1  # Omar stays in the export

    data = build_legacy(tmp_path / "old app", notation="universal")
    bare = opened(runtime, data.database)
    assert bare.kind == "legacy-db" and patient_restore_plan.list_patients(bare)["total"] == 4
    (omar,) = patient_restore_plan.list_patients(bare, "omar")["patients"]
    preview = patient_restore_plan.preview_patient(runtime, bare, omar["id"])
    assert preview["comes_back"]["treatments"] == 1 and preview["comes_back"]["images"] == 0
    patient_restore.restore_patient(runtime, bare, omar["id"])
    with runtime.sessions() as session:
        assert session.get(Patient, omar["id"]).full_name == "Omar O'Brien-Smith"


def test_an_image_whose_file_was_missing_at_backup_time_comes_back_as_a_record_only(
    runtime, tmp_path
):
    ids = populate(runtime, patients_count=1)
    with runtime.sessions() as session:
        image = session.scalars(select(Image).where(Image.patient_id == ids[0])).first()
        lost = runtime.store.path_of(image.relative_path)
    lost.unlink()
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[0])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
    backup = opened(runtime, archive)

    preview = patient_restore_plan.preview_patient(runtime, backup, ids[0])
    assert preview["problems"] == [] and preview["comes_back"]["files_to_copy"] == 2
    assert any("no file already when the backup was made" in line for line in preview["lines"])
    patient_restore.restore_patient(runtime, backup, ids[0])
    with runtime.sessions() as session:
        assert len(session.scalars(select(Image).where(Image.patient_id == ids[0])).all()) == 3
    assert not lost.exists()


KILLED_BEFORE_THE_ROWS = """
import os, sys
from pathlib import Path
from backend.backup import patient_restore, patient_restore_plan, patient_source
from backend.config import load_settings
from backend.jobs import Progress
from backend.startup import open_runtime
data_dir, archive, patient_id = sys.argv[1:4]
runtime = open_runtime(load_settings(Path(data_dir)))
opened = patient_source.open_backup(runtime.settings, Path(archive), Progress())
patient_restore._write_rows = lambda *args: os._exit(137)  # dies with its files in place
patient_restore.restore_patient(runtime, opened, patient_id)
"""


def test_files_of_a_restore_killed_before_its_rows_are_removed_by_the_next_one(
    runtime, backed_up, db_url
):
    if db_url is not None:
        pytest.skip("the killed process opens the data folder's own SQLite database")
    import subprocess
    import sys

    ids, archive, _ = backed_up
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[1])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
    before = state_of(runtime)
    root = Path(__file__).resolve().parents[2]
    arguments = [str(runtime.settings.data_dir), str(archive), ids[1]]
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BEFORE_THE_ROWS, *arguments],
        cwd=root,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert killed.returncode == 137, killed.stderr

    def records():  # the start-up check of the killed process rewrites its own state
        return {k: v for k, v in rows(runtime).items() if k != "app_state"}

    assert records() == {k: v for k, v in before[0].items() if k != "app_state"}
    orphans = set(files(runtime.settings.images_dir)) - set(before[1])
    assert len(orphans) == 3 and all(ids[1] in name for name in orphans)
    assert list(runtime.settings.backups_dir.glob(f"{patient_restore.JOURNAL_PREFIX}*"))

    assert patient_restore.clean_interrupted(runtime) == 3
    assert files(runtime.settings.images_dir) == before[1]
    assert not list(runtime.settings.backups_dir.glob(f"{patient_restore.JOURNAL_PREFIX}*"))
    patient_restore.restore_patient(runtime, opened(runtime, archive), ids[1])
    assert len(patient_rows(runtime, ids[1])["images"]) == 3


def test_a_patient_in_the_trash_is_restored_from_the_trash_not_from_a_backup(runtime, backed_up):
    """The trash still holds the patient: a restore from a backup would leave two versions of
    the same records; the refusal says where to take them back from, and nothing changes."""
    ids, archive, _then = backed_up
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[0])
    before = state_of(runtime)
    backup = opened(runtime, archive)
    with pytest.raises(Conflict) as caught:
        patient_restore_plan.preview_patient(runtime, backup, ids[0])
    assert "in the trash" in caught.value.message
    with pytest.raises(Conflict):
        patient_restore.restore_patient(runtime, backup, ids[0])
    assert state_of(runtime) == before
