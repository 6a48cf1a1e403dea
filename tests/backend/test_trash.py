"""The trash: deleting moves a patient or an image there (rows marked, files under
dental_images/.trash/), every view leaves it out, it can be restored, and it is purged after the
configured number of days; backups carry it and `check` understands it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.backup.create import create_backup
from backend.backup.restore import restore_backup
from backend.errors import NotFound, ValidationError
from backend.models import Image, Patient, utcnow
from backend.usecases import chart, image_search, images, patients, storage_report, trash
from backend.usecases import settings as clinic_settings
from backend.usecases.check import check_store
from backend.usecases.images import Upload
from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]


def add(session, store, patient, name="a.png", tooth="8", kind="xray", color=(10, 20, 30)):
    [result] = images.add_images(
        session, store, patient.id, tooth, kind, [Upload(name, image_bytes("PNG", color=color))]
    )
    assert result.image is not None
    return result.image


def chart_total(session, patient_id: str, tooth: str = "8") -> int:
    return chart.patient_chart(session, patient_id)["teeth"].get(tooth, {"total": 0})["total"]


def search_ids(session) -> set[str]:
    page = image_search.search_images(session, image_search.read_image_search({"type": "xray"}))
    return {i.id for i in page.images}


def test_a_deleted_image_leaves_every_view_and_comes_back_to_its_place(
    session, store, patient, settings
):
    keep = add(session, store, patient, "keep.png")
    drop = add(session, store, patient, "drop.png", color=(90, 20, 30))
    place, data = drop.relative_path, (settings.data_dir / drop.relative_path).read_bytes()
    report = storage_report.storage_report(session, store)
    assert (report["image_rows"], report["image_files"], report["trash_files"]) == (2, 2, 0)

    images.delete_image(session, store, drop.id)

    assert drop.relative_path == place.replace("dental_images/", "dental_images/.trash/", 1)
    assert (settings.data_dir / drop.relative_path).read_bytes() == data
    assert not (settings.data_dir / place).exists()
    assert chart_total(session, patient.id) == 1
    assert patients.image_counts_by_patient(session, [patient.id]) == {patient.id: 1}
    assert search_ids(session) == {keep.id}
    assert [i.id for i in images.list_tooth_images(session, patient.id, "8")] == [keep.id]
    report = storage_report.storage_report(session, store)
    assert (report["image_rows"], report["image_files"], report["trash_files"]) == (1, 1, 1)
    with pytest.raises(NotFound):
        images.update_image(session, store, drop.id, {"description": "x"})
    with pytest.raises(NotFound):
        images.delete_image(session, store, drop.id)
    listed = trash.list_trash(session)
    assert listed["days"] == 30 and listed["patients"] == []
    [entry] = listed["images"]
    assert (entry["id"], entry["tooth"], entry["image_type"]) == (drop.id, "8", "xray")
    assert entry["original_name"] == "drop.png" and entry["patient_in_trash"] is False

    assert trash.restore_image(session, store, drop.id) == {
        "image_id": drop.id,
        "patient_restored": False,
    }
    assert drop.relative_path == place
    assert (settings.data_dir / place).read_bytes() == data
    assert not list(store.trash_dir.rglob("*.png"))
    assert chart_total(session, patient.id) == 2
    assert search_ids(session) == {keep.id, drop.id}
    assert trash.list_trash(session)["images"] == []
    with pytest.raises(NotFound):
        trash.restore_image(session, store, drop.id)


def test_a_deleted_patient_takes_their_images_and_brings_back_only_those(
    session, store, patient, settings
):
    alone = add(session, store, patient, "alone.png")
    together = add(session, store, patient, "together.png", tooth="9", color=(1, 2, 3))
    other = patients.create_patient(session, {"full_name": "Omar Khalil"})
    add(session, store, other, "other.png")
    images.delete_image(session, store, alone.id)  # deleted on its own, before the patient

    assert patients.delete_patient(session, store, patient.id)["images"] == 1
    assert [p.id for p in patients.search_patients(session)] == [other.id]
    assert patients.search_patients(session, "Layla") == []
    with pytest.raises(NotFound):
        patients.get_patient(session, patient.id)
    with pytest.raises(NotFound):
        chart.patient_chart(session, patient.id)
    assert not (settings.images_dir / patient.id).exists()
    listed = trash.list_trash(session)
    assert [(p["id"], p["images"]) for p in listed["patients"]] == [(patient.id, 1)]
    assert [(i["id"], i["patient_in_trash"]) for i in listed["images"]] == [(alone.id, True)]
    assert len(search_ids(session)) == 1
    # the serial number stays taken while the patient is in the trash
    assert patients.next_serial_number(session) == str(int(other.serial_number) + 1)

    assert trash.restore_patient(session, store, patient.id) == {
        "patient_id": patient.id,
        "images": 1,
    }
    assert patients.get_patient(session, patient.id).deleted_at is None
    assert (settings.data_dir / together.relative_path).is_file()
    assert together.relative_path.startswith(f"dental_images/{patient.id}/9/")
    assert [i["id"] for i in trash.list_trash(session)["images"]] == [alone.id]  # still there
    assert chart_total(session, patient.id, "8") == 0


def test_restoring_an_image_whose_patient_is_in_the_trash_brings_the_patient_back(
    session, store, patient
):
    alone = add(session, store, patient, "alone.png")
    images.delete_image(session, store, alone.id)
    patients.delete_patient(session, store, patient.id)
    assert trash.restore_image(session, store, alone.id)["patient_restored"] is True
    assert patients.get_patient(session, patient.id).deleted_at is None
    assert chart_total(session, patient.id) == 1
    assert trash.list_trash(session) == {"days": 30, "patients": [], "images": []}


def test_restoring_into_a_taken_name_picks_a_free_one(session, store, patient, settings):
    image = add(session, store, patient, "scan.png")
    place = image.relative_path
    images.delete_image(session, store, image.id)
    squatter = settings.data_dir / place
    squatter.parent.mkdir(parents=True, exist_ok=True)
    squatter.write_bytes(b"a file some other program put there")
    trash.restore_image(session, store, image.id)
    assert image.relative_path != place and image.folder_path == place.rsplit("/", 1)[0] + "/"
    assert squatter.read_bytes() == b"a file some other program put there"
    assert (settings.data_dir / image.relative_path).stat().st_size == image.size_bytes


def test_the_purge_removes_what_is_older_than_the_setting_and_keeps_the_rest(
    session, store, patient, settings
):
    old = add(session, store, patient, "old.png")
    recent = add(session, store, patient, "recent.png", color=(5, 5, 5))
    gone_patient = patients.create_patient(session, {"full_name": "Gone"})
    gone_image = add(session, store, gone_patient, "gone.png", color=(7, 7, 7))
    images.delete_image(session, store, old.id)
    images.delete_image(session, store, recent.id)
    patients.delete_patient(session, store, gone_patient.id)
    old_file, recent_file = settings.data_dir / old.relative_path, recent.relative_path
    old.deleted_at = utcnow() - timedelta(days=8)
    session.get(Patient, gone_patient.id).deleted_at = utcnow() - timedelta(days=9)
    session.commit()
    assert trash.purge(session, store) == {"patients": 0, "images": 0}  # 30 days by default
    clinic_settings.update_settings(session, {"trash_days": "7"})
    assert trash.purge(session, store) == {"patients": 1, "images": 2}
    assert not old_file.exists()
    assert not (store.trash_dir / gone_patient.id).exists()
    assert not store.thumbnail_path(gone_image.id).exists()
    assert (store.data_dir / recent_file).is_file()
    remaining = set(session.scalars(select(Image.id)))
    assert remaining == {recent.id}
    assert session.get(Patient, gone_patient.id) is None


def test_the_trash_days_setting_is_checked(session):
    for bad in ("0", "-3", "abc", "", "4000"):
        with pytest.raises(ValidationError):
            clinic_settings.update_settings(session, {"trash_days": bad})
    assert clinic_settings.trash_days(session) == 30


def test_check_understands_the_trash_and_repairs_what_an_interrupted_move_left(
    session, store, patient, settings
):
    image = add(session, store, patient, "a.png")
    other = add(session, store, patient, "b.png", color=(3, 3, 3))
    leftover = settings.images_dir / patient.id / "8" / "xray" / "old-app.png"
    leftover.write_bytes(b"kept by nobody")
    images.delete_image(session, store, image.id)
    patients.delete_patient(session, store, patient.id)
    report = check_store(session, store)
    assert report.ok, report.problems()
    assert (report.trash_rows, report.trash_files, report.orphans) == (2, 3, [])

    trash.restore_patient(session, store, patient.id)
    # what a crash after the commit of a move to the trash leaves: the old name too
    live_copy = settings.data_dir / image.relative_path.replace(".trash/", "", 1)
    live_copy.parent.mkdir(parents=True, exist_ok=True)
    live_copy.write_bytes((settings.data_dir / image.relative_path).read_bytes())
    # and of a restore: the trash name of a live image
    trash_copy = settings.data_dir / other.relative_path.replace(
        "dental_images/", "dental_images/.trash/", 1
    )
    trash_copy.parent.mkdir(parents=True, exist_ok=True)
    trash_copy.write_bytes((settings.data_dir / other.relative_path).read_bytes())
    report = check_store(session, store)
    # the file no row knew came back with the patient, where it was (and is reported, as then)
    assert (
        report.orphans == [store.relative_of(leftover)]
        and leftover.read_bytes() == b"kept by nobody"
    )
    leftover.unlink()
    assert sorted(report.duplicates) == sorted(
        [store.relative_of(live_copy), store.relative_of(trash_copy)]
    )
    repaired = check_store(session, store, repair=True)
    assert sorted(repaired.removed_duplicates) == sorted(report.duplicates)
    assert not live_copy.exists() and not trash_copy.exists()
    assert (settings.data_dir / image.relative_path).is_file()
    assert (settings.data_dir / other.relative_path).is_file()
    assert check_store(session, store).ok


def test_a_backup_carries_the_trash_and_a_restore_brings_it_back(runtime, tmp_path):
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Sara Nasser"})
        trashed = add(session, runtime.store, patient, "trashed.png")
        add(session, runtime.store, patient, "live.png", color=(40, 40, 40))
        images.delete_image(session, runtime.store, trashed.id)
        trashed_path, trashed_id = trashed.relative_path, trashed.id
        data = (runtime.settings.data_dir / trashed_path).read_bytes()
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        trash.purge(session, runtime.store, everything=True)
        assert trash.list_trash(session)["images"] == []
    restore_backup(runtime, archive)
    with runtime.sessions() as session:
        assert [i["id"] for i in trash.list_trash(session)["images"]] == [trashed_id]
        assert (runtime.settings.data_dir / trashed_path).read_bytes() == data
        assert check_store(session, runtime.store).ok
        trash.restore_image(session, runtime.store, trashed_id)
        assert chart_total(session, patient.id) == 2


def test_the_trash_api_lists_restores_and_empties_only_when_confirmed(client, runtime):
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Huda"})
        image = add(session, runtime.store, patient, "x.png")
        image_id, patient_id = image.id, patient.id
    assert client.delete(f"/api/images/{image_id}").status_code == 200
    assert client.get(f"/api/images/{image_id}").status_code == 404
    assert client.get(f"/images/{image_id}/thumbnail").status_code == 404
    assert client.get(f"/images/{image_id}/thumbnail?trash=1").status_code == 200
    listed = client.get("/api/trash").get_json()
    assert [i["id"] for i in listed["images"]] == [image_id]
    assert listed["images"][0]["tooth_label"] == "8"
    restored = client.post(f"/api/trash/images/{image_id}/restore", json={})
    assert restored.status_code == 200 and restored.get_json()["patient_restored"] is False
    assert client.get(f"/images/{image_id}/file").status_code == 200
    patient_view = client.get(f"/api/patients/{patient_id}").get_json()
    assert patient_view["image_count"] == 1

    assert client.delete(f"/api/patients/{patient_id}").status_code == 200
    assert client.get("/api/patients").get_json()["patients"] == []
    assert client.get(f"/api/patients/{patient_id}").status_code == 404
    refused = client.post("/api/trash/empty", json={})
    assert refused.status_code == 409 and refused.get_json()["error"]["field"] == "confirm"
    assert len(client.get("/api/trash").get_json()["patients"]) == 1
    emptied = client.post("/api/trash/empty", json={"confirm": True}).get_json()
    assert emptied["purged"] == {"patients": 1, "images": 1}
    assert client.get("/api/trash").get_json()["patients"] == []
    assert client.post(f"/api/trash/patients/{patient_id}/restore", json={}).status_code == 404
    assert client.patch("/api/settings", json={"trash_days": 12}).get_json()["trash_days"] == "12"
    assert client.get("/api/trash").get_json()["days"] == 12


CRASH_DRIVER = """
import os, sys
from pathlib import Path
from backend.config import load_settings
from backend.startup import open_runtime
from backend.usecases import images, trash

data_dir, action, item, step = sys.argv[1:5]
def crash(name):
    if name == step:
        os._exit(9)  # no cleanup of any kind: as a power cut leaves it
trash._step = crash
runtime = open_runtime(load_settings(Path(data_dir)))
with runtime.sessions() as session:
    if action == "delete":
        images.delete_image(session, runtime.store, item)
    else:
        trash.restore_image(session, runtime.store, item)
sys.exit(0)
"""


@pytest.mark.parametrize("action", ["delete", "restore"])
@pytest.mark.parametrize("step", ["linked", "committed"])
def test_a_crash_at_any_step_of_a_move_leaves_every_row_naming_its_file(
    runtime, settings, action, step
):
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Crash"})
        image = add(session, runtime.store, patient, "c.png")
        if action == "restore":
            images.delete_image(session, runtime.store, image.id)
        image_id, sha = image.id, image.sha256
    run = subprocess.run(
        [sys.executable, "-c", CRASH_DRIVER, str(settings.data_dir), action, image_id, step],
        cwd=ROOT,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        env={**os.environ, "DENTAL_IMAGES_DB_URL": settings.db_url},
    )
    assert run.returncode == 9, run.stderr
    with runtime.sessions() as session:
        row = session.get(Image, image_id)
        in_trash = row.deleted_at is not None
        # before the commit nothing changed; after it the move is done, whatever came next
        assert in_trash == ((action == "delete") == (step == "committed"))
        assert (settings.data_dir / row.relative_path).is_file()
        report = check_store(session, runtime.store)
        assert report.missing == [] and report.orphans == [] and report.trash_missing == []
        assert len(report.duplicates) == 1  # the second name the crash left
        repaired = check_store(session, runtime.store, repair=True)
        assert repaired.removed_duplicates == report.duplicates
        assert check_store(session, runtime.store).ok
        files = [p for p in settings.images_dir.rglob("*.png")]
        assert len(files) == 1 and row.sha256 == sha


def test_the_background_upkeep_purges_what_is_due_at_start(runtime, settings):
    import time

    from backend.usecases import upkeep

    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Old"})
        due = add(session, runtime.store, patient, "due.png")
        kept = add(session, runtime.store, patient, "kept.png", color=(9, 9, 9))
        images.delete_image(session, runtime.store, due.id)
        images.delete_image(session, runtime.store, kept.id)
        due.deleted_at = utcnow() - timedelta(days=31)
        session.commit()
        due_id, due_file, kept_id = due.id, settings.data_dir / due.relative_path, kept.id
    thread = upkeep.start_upkeep(runtime, purge_every=3600)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with runtime.sessions() as session:
            if session.get(Image, due_id) is None:
                break
        time.sleep(0.05)
    with runtime.sessions() as session:
        assert not due_file.exists() and session.get(Image, due_id) is None
        assert session.get(Image, kept_id).deleted_at is not None
    runtime.close()  # the upkeep ends with the program
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_purging_named_patients_leaves_the_rest_of_the_trash(session, store):
    from backend.usecases import patients, trash

    kept = patients.create_patient(session, {"full_name": "Kept in the trash"})
    gone = patients.create_patient(session, {"full_name": "Gone for good"})
    patients.delete_patient(session, store, kept.id)
    patients.delete_patient(session, store, gone.id)
    purged = trash.purge(session, store, everything=True, patient_ids=[gone.id])
    assert purged["patients"] == 1
    listed = trash.list_trash(session)
    assert [p["id"] for p in listed["patients"]] == [kept.id]
