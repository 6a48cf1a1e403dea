"""An image's other teeth (a bitewing shows several, a panoramic all), on SQLite and PostgreSQL:
set through the use case and the API, listed and counted on each tooth (the patient's totals
once), kept consistent by a move, the trash and a patient's deletion, carried by backups (a
whole restore, an archive from before the links, one patient's restore) and checked."""

from __future__ import annotations

import contextlib
import hashlib
import io
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, text

from backend.backup import patient_restore, patient_source
from backend.backup.create import create_backup
from backend.backup.restore import restore_backup
from backend.config import sqlite_url
from backend.db import create_db_engine
from backend.errors import NotFound, ValidationError
from backend.jobs import Progress
from backend.models import Image, ImageTooth
from backend.paths import migrations_dir
from backend.usecases import chart, image_search, images, patients, trash
from backend.usecases.check import check_store
from backend.usecases.images import Upload
from tests.backup_data import write_archive
from tests.helpers import image_bytes


def add(session, store, patient, name="bitewing.png", tooth="3", kind="xray", shade=10):
    [result] = images.add_images(
        session,
        store,
        patient.id,
        tooth,
        kind,
        [Upload(name, image_bytes("PNG", color=(shade, 20, 30)))],
    )
    assert result.image is not None
    return result.image


def on_tooth(session, patient_id, tooth) -> set[str]:
    return {i.id for i in images.list_tooth_images(session, patient_id, tooth)}


def counts(session, patient_id) -> dict[str, int]:
    """Each tooth's total image count on the chart."""
    return {
        code: item["total"]
        for code, item in chart.patient_chart(session, patient_id)["teeth"].items()
    }


def stored_links(session) -> set[tuple[str, str]]:
    session.expire_all()
    return {(link.image_id, link.tooth) for link in session.scalars(select(ImageTooth))}


def test_an_image_linked_to_more_teeth_is_listed_and_counted_on_each_and_once_for_the_patient(
    session, store, patient
):
    bitewing = add(session, store, patient)
    other = add(session, store, patient, "other.png", tooth="5", kind="clinical", shade=90)

    linked = images.set_image_teeth(session, bitewing.id, ["4", "5", 3, "a", "4"])

    assert [link.tooth for link in linked.linked_teeth] == ["4", "5", "A"]  # own tooth 3 ignored
    for tooth in ("3", "4", "A"):
        assert on_tooth(session, patient.id, tooth) == {bitewing.id}
    assert on_tooth(session, patient.id, "5") == {bitewing.id, other.id}
    assert on_tooth(session, patient.id, "general") == set()
    chart_now = chart.patient_chart(session, patient.id)
    assert counts(session, patient.id) == {"3": 1, "4": 1, "5": 2, "A": 1}
    assert chart_now["teeth"]["5"]["counts"] == {
        "before": 0,
        "after": 0,
        "xray": 1,
        "clinical": 1,
        "other": 0,
    }
    assert patients.image_counts_by_patient(session, [patient.id]) == {patient.id: 2}
    assert chart_now["revision"].startswith("2.")  # the images themselves, once each
    found = image_search.search_images(
        session, image_search.read_image_search({"tooth": "4", "patient_id": patient.id})
    )
    assert [i.id for i in found.images] == [bitewing.id]

    images.set_image_teeth(session, bitewing.id, [])
    assert counts(session, patient.id) == {"3": 1, "5": 1}
    assert stored_links(session) == set()


def test_a_whole_mouth_image_can_show_some_teeth_and_bad_teeth_are_refused(session, store, patient):
    panoramic = add(session, store, patient, "pano.png", tooth="general")
    images.set_image_teeth(session, panoramic.id, ["1", "32"])
    assert on_tooth(session, patient.id, "general") == {panoramic.id}
    assert on_tooth(session, patient.id, "32") == {panoramic.id}
    assert chart.patient_chart(session, patient.id)["general"]["total"] == 1

    with pytest.raises(ValidationError):
        images.set_image_teeth(session, panoramic.id, ["33"])
    with pytest.raises(ValidationError):
        images.set_image_teeth(session, panoramic.id, "1,2")
    with pytest.raises(NotFound):
        images.set_image_teeth(session, "no-such-image", ["1"])
    assert stored_links(session) == {(panoramic.id, "1"), (panoramic.id, "32")}


def test_a_move_onto_a_linked_tooth_drops_that_link_and_the_old_tooth_is_linked_only_if_asked(
    session, store, patient
):
    image = add(session, store, patient)
    images.set_image_teeth(session, image.id, ["4", "5"])

    images.update_image(session, store, image.id, {"tooth": "4"})
    assert stored_links(session) == {(image.id, "5")}
    assert on_tooth(session, patient.id, "3") == set()

    images.update_image(session, store, image.id, {"tooth": "6", "link_old_tooth": True})
    assert stored_links(session) == {(image.id, "4"), (image.id, "5")}
    assert counts(session, patient.id) == {"4": 1, "5": 1, "6": 1}

    images.update_image(session, store, image.id, {"image_type": "after"})  # not a tooth move
    assert stored_links(session) == {(image.id, "4"), (image.id, "5")}
    with pytest.raises(ValidationError):
        images.update_image(session, store, image.id, {"tooth": "7", "link_old_tooth": "maybe"})
    assert stored_links(session) == {(image.id, "4"), (image.id, "5")}


def test_the_links_stay_with_a_trashed_image_come_back_with_it_and_go_when_it_is_purged(
    session, store, patient
):
    image = add(session, store, patient)
    images.set_image_teeth(session, image.id, ["4"])

    images.delete_image(session, store, image.id)
    assert on_tooth(session, patient.id, "4") == set()
    assert counts(session, patient.id) == {}
    assert stored_links(session) == {(image.id, "4")}

    trash.restore_image(session, store, image.id)
    assert on_tooth(session, patient.id, "4") == {image.id}
    assert counts(session, patient.id) == {"3": 1, "4": 1}

    images.delete_image(session, store, image.id)
    trash.purge(session, store, everything=True)
    assert stored_links(session) == set()


def test_a_deleted_patients_links_are_hidden_restored_and_purged_with_them(session, store, patient):
    image = add(session, store, patient)
    images.set_image_teeth(session, image.id, ["4", "5"])

    patients.delete_patient(session, store, patient.id)
    assert stored_links(session) == {(image.id, "4"), (image.id, "5")}
    trash.restore_patient(session, store, patient.id)
    assert on_tooth(session, patient.id, "5") == {image.id}

    patients.delete_patient(session, store, patient.id)
    trash.purge(session, store, everything=True)
    assert stored_links(session) == set()


def test_the_api_sets_the_links_and_answers_them_with_the_image(client, anonymous_client, patient):
    upload = client.post(
        f"/api/patients/{patient.id}/teeth/3/images",
        data={"image_type": "xray", "files": [(io.BytesIO(image_bytes("PNG")), "b.png")]},
        content_type="multipart/form-data",
    )
    image_id = upload.get_json()["results"][0]["image"]["id"]
    assert upload.get_json()["results"][0]["image"]["linked_teeth"] == []

    answer = client.put(f"/api/images/{image_id}/teeth", json={"teeth": ["5", "4"]})
    assert answer.status_code == 200
    assert answer.get_json()["linked_teeth"] == ["4", "5"]
    listed = client.get(f"/api/patients/{patient.id}/teeth/5/images").get_json()["images"]
    assert [(i["id"], i["tooth"], i["linked_teeth"]) for i in listed] == [
        (image_id, "3", ["4", "5"])
    ]
    assert client.get(f"/api/patients/{patient.id}/chart").get_json()["teeth"]["4"]["total"] == 1

    refused = client.put(f"/api/images/{image_id}/teeth", json={"teeth": ["99"]})
    assert (refused.status_code, refused.get_json()["error"]["field"]) == (400, "tooth")
    assert client.put(f"/api/images/{image_id}/teeth", json={}).status_code == 400
    assert (
        client.put(f"/api/images/{image_id}/teeth", json={"teeth": [], "x": 1}).status_code == 400
    )
    assert client.put("/api/images/nope/teeth", json={"teeth": []}).status_code == 404
    assert anonymous_client.put(
        f"/api/images/{image_id}/teeth", json={"teeth": []}
    ).status_code in (
        401,
        403,
    )
    assert client.get(f"/api/images/{image_id}").get_json()["linked_teeth"] == ["4", "5"]


def test_a_backup_restore_brings_the_links_back(runtime):
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Rami Saleh"})
        image = add(session, runtime.store, patient)
        images.set_image_teeth(session, image.id, ["4", "5"])
        image_id, patient_id = image.id, patient.id
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        images.set_image_teeth(session, image_id, ["30"])

    restore_backup(runtime, archive)

    with runtime.sessions() as session:
        assert stored_links(session) == {(image_id, "4"), (image_id, "5")}
        assert counts(session, patient_id) == {"3": 1, "4": 1, "5": 1}
        assert check_store(session, runtime.store).ok


def _database_at(path: Path, revision: str) -> None:
    engine = create_db_engine(sqlite_url(path))
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    command.upgrade(config, revision)
    engine.dispose()


def test_an_archive_from_before_the_links_restores_without_any(runtime, tmp_path):
    database = tmp_path / "old.sqlite"
    _database_at(database, "0010")
    patient_id = "6f1c1c7e-2b1a-4b8e-9a49-0d3c6f0f7a11"
    folder = f"dental_images/{patient_id}/3/xray/"
    data = image_bytes("PNG", (30, 20))
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(
            "INSERT INTO patients (id, serial_number, full_name, date_added, created_at,"
            " updated_at) VALUES (?, '7', 'Before Links', '2025-01-01', '2025-01-01',"
            " '2025-01-01')",
            (patient_id,),
        )
        connection.execute(
            "INSERT INTO images (id, patient_id, tooth, image_type, folder_path, file_name,"
            " created_at, updated_at, size_bytes, sha256, width, height, format, taken_source)"
            " VALUES ('i-1', ?, '3', 'xray', ?, 'a.png', '2025-01-01', '2025-01-01', ?, ?,"
            " 30, 20, 'PNG', 'upload')",
            (patient_id, folder, len(data), hashlib.sha256(data).hexdigest()),
        )
        connection.commit()
        connection.execute("PRAGMA journal_mode=DELETE")
    archive = tmp_path / "before-links.zip"
    write_archive(
        archive,
        database,
        {f"{folder}a.png": data},
        schema_version="0010",
        counts={"patients": 1, "treatments": 0, "images": 1},
    )

    restore_backup(runtime, archive)

    with runtime.sessions() as session:
        assert stored_links(session) == set()
        assert on_tooth(session, patient_id, "3") == {"i-1"}
        images.set_image_teeth(session, "i-1", ["4"])
        assert counts(session, patient_id) == {"3": 1, "4": 1}


def test_one_patients_restore_brings_their_links_back(runtime):
    with runtime.sessions() as session:
        keep = patients.create_patient(session, {"full_name": "Kept As Is"})
        kept = add(session, runtime.store, keep, shade=70)
        images.set_image_teeth(session, kept.id, ["9"])
        patient = patients.create_patient(session, {"full_name": "Comes Back"})
        image = add(session, runtime.store, patient)
        images.set_image_teeth(session, image.id, ["4", "5"])
        ids = (keep.id, kept.id, patient.id, image.id)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        images.set_image_teeth(session, ids[1], ["10"])  # today's change of another patient
        images.set_image_teeth(session, ids[3], ["30"])  # replaced by the backup's
    opened = patient_source.open_backup(runtime.settings, archive, Progress())

    patient_restore.restore_patient(runtime, opened, ids[2])

    with runtime.sessions() as session:
        assert stored_links(session) == {(ids[1], "10"), (ids[3], "4"), (ids[3], "5")}

    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[2])
        trash.purge(session, runtime.store, everything=True)
    opened = patient_source.open_backup(runtime.settings, archive, Progress())
    patient_restore.restore_patient(runtime, opened, ids[2])
    with runtime.sessions() as session:
        assert on_tooth(session, ids[2], "5") == {ids[3]}
        assert stored_links(session) == {(ids[1], "10"), (ids[3], "4"), (ids[3], "5")}


def test_check_reports_links_to_an_invalid_tooth_or_the_images_own(session, store, patient):
    image = add(session, store, patient)
    assert check_store(session, store).ok
    session.execute(
        text("INSERT INTO image_teeth (image_id, tooth) VALUES (:i, '3'), (:i, '99')"),
        {"i": image.id},
    )
    session.commit()

    report = check_store(session, store)

    assert not report.ok
    assert report.link_problems == [
        "1 tooth link names no valid tooth (first: '99').",
        "1 tooth link repeats its image's own tooth.",
    ]
    assert set(report.link_problems) <= set(report.as_dict()["problems"])


def test_check_reports_a_link_to_an_image_that_does_not_exist(runtime, session, store):
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's foreign key never lets such a link exist")
    with runtime.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.exec_driver_sql("INSERT INTO image_teeth (image_id, tooth) VALUES ('gone', '4')")
        connection.commit()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")

    report = check_store(session, store)

    assert "1 tooth link points at an image that does not exist." in report.link_problems


def test_the_migration_goes_down_and_up_again_keeping_the_images(runtime, session, store, patient):
    image = add(session, store, patient)
    images.set_image_teeth(session, image.id, ["4"])
    session.close()
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = runtime.engine

    command.downgrade(config, "0010")
    with runtime.engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM images")).scalar() == 1
    command.upgrade(config, "head")

    with runtime.sessions() as fresh:
        assert fresh.scalars(select(Image.id)).all() == [image.id]
        assert stored_links(fresh) == set()
