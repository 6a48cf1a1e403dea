"""DICOM files through the real app: upload, what is recorded, duplicates, another patient's
file, frames for the viewer, and hostile files that leave nothing behind."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import RLELossless
from sqlalchemy import func, select

from backend.models import ImageDicom
from tests.dicom_data import dicom_bytes, dicom_dataset, ramp
from tests.helpers import disk_snapshot, image_bytes, image_row_count


def upload(client, patient_id, tooth, *files, **form):
    data = {"image_type": form.pop("image_type", "xray"), **form}
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(
        f"/api/patients/{patient_id}/teeth/{tooth}/images",
        data=data,
        content_type="multipart/form-data",
    )


def stored_image(response):
    assert response.status_code == 201, response.get_json()
    [result] = response.get_json()["results"]
    return result["image"]


def dicom_rows(session) -> int:
    return session.scalar(select(func.count()).select_from(ImageDicom)) or 0


def test_a_dicom_xray_is_stored_byte_for_byte_with_its_facts(client, patient, settings):
    data = dicom_bytes(PixelSpacing=[0.019, 0.02], patient_id="P-1")

    image = stored_image(upload(client, patient.id, "8", ("sensor export.dcm", data)))

    assert image["format"] == "DICOM" and image["file_name"].endswith(".dcm")
    assert image["path"].startswith(f"dental_images/{patient.id}/8/xray/")
    assert (settings.data_dir / image["path"]).read_bytes() == data
    assert (image["width"], image["height"]) == (128, 96)
    assert image["taken_date"] == "2024-03-05"  # the study date, none being given
    facts = image["dicom"]
    assert facts["modality"] == "IO" and facts["frames"] == 1
    assert facts["pixel_spacing_mm"] == [0.019, 0.02]
    assert facts["pixel_spacing_source"] == "PixelSpacing"
    assert facts["patient_name"] == "HADDAD^LAYLA" and facts["patient_id"] == "P-1"
    assert facts["sop_instance_uid"] and facts["study_date"] == "2024-03-05"

    original = client.get(image["file_url"])
    assert original.data == data and original.mimetype == "application/dicom"
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    original.close()
    shown = client.get(image["url"])  # what the viewer loads: the first frame as PNG
    assert shown.mimetype == "image/png"
    assert Image.open(io.BytesIO(shown.data)).size == (128, 96)
    assert shown.headers["Content-Security-Policy"]
    listed = client.get(f"/api/patients/{patient.id}/teeth/8/images").get_json()["images"]
    assert [i["dicom"]["sop_instance_uid"] for i in listed] == [facts["sop_instance_uid"]]


def test_a_file_without_extension_is_recognised_by_its_content(client, patient, settings):
    image = stored_image(upload(client, patient.id, "8", ("IMG0001", dicom_bytes())))
    assert image["format"] == "DICOM" and image["file_name"].startswith("IMG0001-")
    assert image["file_name"].endswith(".dcm")


def test_a_date_given_by_the_user_wins_over_the_files(client, patient):
    image = stored_image(
        upload(client, patient.id, "8", ("a.dcm", dicom_bytes()), taken_date="2025-01-02")
    )
    assert image["taken_date"] == "2025-01-02"
    assert image["dicom"]["study_date"] == "2024-03-05"


def test_the_thumbnail_of_monochrome1_is_bright_where_the_values_are_low(client, patient):
    image = stored_image(
        upload(client, patient.id, "8", ("m1.dcm", dicom_bytes(photometric="MONOCHROME1")))
    )
    thumb = client.get(image["thumbnail_url"])
    assert thumb.mimetype == "image/jpeg"
    pixels = np.asarray(Image.open(io.BytesIO(thumb.data)).convert("L"), dtype=int)
    assert pixels[:, :3].mean() > 240 and pixels[:, -3:].mean() < 15


def test_a_lost_thumbnail_of_a_dicom_image_is_rebuilt_from_the_original(client, patient, runtime):
    image = stored_image(upload(client, patient.id, "8", ("a.dcm", dicom_bytes())))
    runtime.store.thumbnail_path(image["id"]).unlink()

    thumb = client.get(image["thumbnail_url"])

    assert thumb.status_code == 200
    pixels = np.asarray(Image.open(io.BytesIO(thumb.data)).convert("L"), dtype=int)
    assert pixels[:, :3].mean() < 15 and pixels[:, -3:].mean() > 240


def test_the_same_instance_is_refused_the_second_time_with_where_it_is(
    client, patient, session, settings
):
    data = dicom_bytes()
    first = stored_image(upload(client, patient.id, "8", ("a.dcm", data)))
    before = disk_snapshot(settings.data_dir)

    again = upload(client, patient.id, "9", ("copy.dcm", data))

    assert again.status_code == 409
    error = again.get_json()["results"][0]["error"]
    assert error["code"] == "duplicate_image" and error["existing_image_id"] == first["id"]
    assert "already stored" in error["message"] and "Layla Haddad" in error["message"]
    assert "tooth 8" in error["message"]
    assert disk_snapshot(settings.data_dir) == before
    assert image_row_count(session) == 1 and dicom_rows(session) == 1


def test_a_batch_with_a_duplicate_stores_the_others(client, patient):
    data = dicom_bytes()
    response = upload(
        client, patient.id, "8", ("a.dcm", data), ("b.dcm", data), ("c.png", image_bytes("PNG"))
    )
    assert response.status_code == 207
    results = response.get_json()["results"]
    assert results[0]["image"] and results[2]["image"]
    assert results[1]["error"]["code"] == "duplicate_image"


def test_another_patients_file_is_a_question_then_stored_when_confirmed(
    client, patient, session, settings
):
    data = dicom_bytes(patient_name="DOE^JOHN", patient_id="X-77")
    before = disk_snapshot(settings.data_dir)

    asked = upload(client, patient.id, "8", ("john.dcm", data))

    assert asked.status_code == 409
    error = asked.get_json()["results"][0]["error"]
    assert error["code"] == "patient_mismatch" and error["confirm_field"] == "confirm_patient"
    assert error["file_patient_name"] == "DOE^JOHN" and error["file_patient_id"] == "X-77"
    assert "JOHN DOE (ID X-77)" in error["message"] and "Layla Haddad" in error["message"]
    assert disk_snapshot(settings.data_dir) == before and image_row_count(session) == 0

    image = stored_image(upload(client, patient.id, "8", ("john.dcm", data), confirm_patient="1"))
    assert image["dicom"]["patient_name"] == "DOE^JOHN"
    assert (settings.data_dir / image["path"]).read_bytes() == data


def test_the_confirm_flag_must_be_yes_or_no(client, patient):
    response = upload(client, patient.id, "8", ("a.dcm", dicom_bytes()), confirm_patient="maybe")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "confirm_patient"


def test_frames_of_a_multi_frame_file_are_served_one_by_one(client, patient):
    stack = ramp(frames=3)
    stack[1] = 0  # the middle frame is black
    data = dicom_bytes(dicom_dataset(stack))
    image = stored_image(upload(client, patient.id, "general", ("cbct.dcm", data)))
    assert image["dicom"]["frames"] == 3 and image["tooth"] is None

    frames = []
    for number in (1, 2, 3):
        response = client.get(image["dicom"]["frame_url"].replace("{n}", str(number)))
        assert response.status_code == 200 and response.mimetype == "image/png"
        frames.append(np.asarray(Image.open(io.BytesIO(response.data)).convert("L")))
    assert frames[1].max() == 0 and frames[0][:, -1].min() > 240

    missing = client.get(image["dicom"]["frame_url"].replace("{n}", "4"))
    assert missing.status_code == 404 and "has 3 frames." in missing.get_json()["error"]["message"]


def test_a_frame_already_shown_is_answered_not_modified(client, patient):
    image = stored_image(upload(client, patient.id, "8", ("a.dcm", dicom_bytes())))
    first = client.get(image["url"])
    again = client.get(image["url"], headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and not again.data


def test_a_photo_has_no_frames(client, patient):
    image = stored_image(upload(client, patient.id, "8", ("a.png", image_bytes("PNG"))))
    assert image["dicom"] is None and image["url"] == image["file_url"]
    assert client.get(f"/images/{image['id']}/frames/1").status_code == 404


def test_a_deleted_dicom_image_keeps_its_instance_until_the_trash_is_emptied(
    client, patient, session
):
    data = dicom_bytes()
    image = stored_image(upload(client, patient.id, "8", ("a.dcm", data)))
    assert client.delete(f"/api/images/{image['id']}").status_code == 200
    assert dicom_rows(session) == 1  # in the trash, restorable
    again = upload(client, patient.id, "8", ("a.dcm", data))
    assert again.status_code == 409
    assert "in the trash" in again.get_json()["error"]["message"]
    assert client.post("/api/trash/empty", json={"confirm": True}).status_code == 200
    session.expire_all()
    assert dicom_rows(session) == 0
    stored_image(upload(client, patient.id, "8", ("a.dcm", data)))  # no longer a duplicate


def test_purging_the_deleted_patient_removes_the_facts_too(client, patient, session):
    stored_image(upload(client, patient.id, "8", ("a.dcm", dicom_bytes())))
    assert client.delete(f"/api/patients/{patient.id}").status_code == 200
    session.expire_all()
    assert dicom_rows(session) == 1
    assert client.post("/api/trash/empty", json={"confirm": True}).status_code == 200
    session.expire_all()
    assert dicom_rows(session) == 0


def hostile_files() -> dict[str, bytes]:
    data = dicom_bytes()
    no_pixels = dicom_dataset()
    del no_pixels.PixelData
    bomb = dicom_dataset(ramp(rows=4, columns=4))
    bomb.Rows, bomb.Columns = 65000, 65000
    volume = dicom_dataset(ramp(rows=4, columns=4))
    volume.Rows, volume.Columns, volume.NumberOfFrames = 1024, 1024, 500
    unsupported = dicom_dataset()
    unsupported.compress(RLELossless)
    unsupported.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    return {
        "truncated": data[:-500],
        "no pixel data": dicom_bytes(no_pixels),
        "pixel bomb": dicom_bytes(bomb),
        "volume over the limit": dicom_bytes(volume),
        "unsupported syntax": dicom_bytes(unsupported),
        "DICM but not DICOM": bytes(128) + b"DICM" + b"\xff" * 300,
        "preamble with a script": b"<script>alert(1)</script>".ljust(128, b" ") + data[128:],
    }


EXPECTED = {
    "truncated": "incomplete",
    "no pixel data": "no pixel data",
    "pixel bomb": "the limit is 120 million pixels",
    "volume over the limit": "the limit is 134.218 million pixels",
    "unsupported syntax": "MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100)",
    "DICM but not DICOM": "not a readable DICOM file",
    "preamble with a script": "hidden content",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_hostile_dicom_file_is_refused_clearly_and_nothing_is_written(
    client, patient, session, settings, name
):
    before = disk_snapshot(settings.data_dir)

    response = upload(client, patient.id, "8", (f"{name}.dcm", hostile_files()[name]))

    assert response.status_code == 400
    message = response.get_json()["results"][0]["error"]["message"]
    assert EXPECTED[name] in message
    assert disk_snapshot(settings.data_dir) == before
    assert image_row_count(session) == 0 and dicom_rows(session) == 0


def test_where_the_build_has_no_dicom_support_a_dicom_upload_is_refused_saying_so(
    runtime, monkeypatch
):
    """An installation whose DICOM libraries are missing (a broken install) refuses a DICOM
    file with a message, and nothing is written."""
    import builtins

    from backend.dicom import no_dicom_support
    from backend.usecases import patients
    from backend.usecases.images import Upload, add_images

    real_import = builtins.__import__

    def without_dicom(name, *args, **kwargs):
        if name == "backend.dicom" and args and args[2] and "reading" in args[2]:
            raise ImportError("No module named 'pydicom'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_dicom)
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Rana Saleh", "phone": "1"})
        upload = Upload("x.dcm", dicom_bytes())
        [result] = add_images(session, runtime.store, patient.id, "8", "xray", [upload])
    assert result.image is None and no_dicom_support() in str(result.error)
    assert not any(runtime.settings.image_store_root.rglob("*.dcm"))
