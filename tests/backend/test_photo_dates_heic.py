"""The date a photo was taken (EXIF, the batch's date, the upload's) and HEIC photos: kept byte
for byte, shown as a JPEG rendition, thumbnailed, refused clearly when not an image."""

import hashlib
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image as PILImage
from sqlalchemy import select, text

from backend import exif_dates, heif, imaging
from backend.models import Image
from tests.helpers import image_bytes


def dicom_bytes() -> bytes:
    """A DICOM x-ray made with pydicom and numpy."""
    from tests.dicom_data import dicom_bytes as made

    return made()


EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL, DATE_TIME_DIGITIZED, DATE_TIME = 0x9003, 0x9004, 0x0132
OFFSET_TIME_ORIGINAL = 0x9011


def exif_of(original=None, digitized=None, changed=None, offset=None) -> PILImage.Exif:
    exif = PILImage.Exif()
    if changed is not None:
        exif[DATE_TIME] = changed
    sub = {}
    if original is not None:
        sub[DATE_TIME_ORIGINAL] = original
    if digitized is not None:
        sub[DATE_TIME_DIGITIZED] = digitized
    if offset is not None:
        sub[OFFSET_TIME_ORIGINAL] = offset
    if sub:
        exif[EXIF_IFD] = sub
    return exif


def photo(fmt="JPEG", size=(96, 64), color=(180, 90, 60), exif=None) -> bytes:
    out = io.BytesIO()
    extra = {"exif": exif.tobytes()} if exif is not None else {}
    PILImage.new("RGB", size, color).save(out, format=fmt, quality=85, **extra)
    return out.getvalue()


def upload(client, patient_id, tooth, *files, **form):
    data = {"image_type": form.pop("image_type", "clinical"), **form}
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(
        f"/api/patients/{patient_id}/teeth/{tooth}/images",
        data=data,
        content_type="multipart/form-data",
    )


def stored(response):
    assert response.status_code == 201, response.get_json()
    return [r["image"] for r in response.get_json()["results"]]


# --- reading the EXIF date -----------------------------------------------------------------


def test_date_time_original_is_the_taken_date():
    data = photo(exif=exif_of("2023:07:14 09:30:00", "2023:07:15 10:00:00", "2024:01:01 00:00:00"))
    with imaging.inspected(data) as decoded:
        found = exif_dates.taken(decoded.image)
    assert found is not None and found.day == date(2023, 7, 14)
    assert found.moment == datetime(2023, 7, 14, 9, 30)


def test_without_original_the_digitized_then_the_ifd0_date_are_used():
    digitized = photo(exif=exif_of(digitized="2022:02:03 11:00:00", changed="2024:01:01 00:00:00"))
    changed = photo(exif=exif_of(changed="2021:12:24 18:05:00"))
    with imaging.inspected(digitized) as decoded:
        assert exif_dates.taken(decoded.image).day == date(2022, 2, 3)
    with imaging.inspected(changed) as decoded:
        assert exif_dates.taken(decoded.image).day == date(2021, 12, 24)


def test_the_offset_time_makes_the_moment_aware_and_keeps_the_camera_day():
    data = photo(exif=exif_of("2024:05:06 23:30:00", offset="+04:00"))
    with imaging.inspected(data) as decoded:
        found = exif_dates.taken(decoded.image)
    assert found.moment.utcoffset() == timedelta(hours=4)
    assert found.day == date(2024, 5, 6)  # the clinic's day, not UTC's (19:30 the same day)


@pytest.mark.parametrize(
    "written",
    [
        "0000:00:00 00:00:00",
        "",
        "    :  :     :  :  ",
        "2024:13:40 10:00:00",
        "yesterday",
        "1850:01:01",
    ],
)
def test_a_bad_exif_date_is_no_date_and_the_photo_is_still_accepted(written):
    data = photo(exif=exif_of(written))
    with imaging.inspected(data) as decoded:
        assert exif_dates.taken(decoded.image) is None
        assert decoded.info.format == "JPEG"


def test_a_date_in_the_future_is_a_wrong_clock_and_the_next_tag_is_used():
    now = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    assert exif_dates.parse("2026:01:11 13:00:00", "+00:00") is not None
    data = photo(exif=exif_of("2026:03:01 10:00:00", digitized="2025:12:30 10:00:00"))
    with imaging.inspected(data) as decoded:
        assert exif_dates.taken(decoded.image, now=now).day == date(2025, 12, 30)


def test_a_photo_without_exif_has_no_date():
    with imaging.inspected(photo()) as decoded:
        assert exif_dates.taken(decoded.image) is None


def test_the_exif_date_is_read_from_the_one_decode(monkeypatch, session, store, patient):
    opened = []
    real_open = PILImage.open

    def counting_open(*args, **kwargs):
        image = real_open(*args, **kwargs)
        opened.append(image.format)
        return image

    monkeypatch.setattr(PILImage, "open", counting_open)
    from backend.usecases import images

    [result] = images.add_images(
        session,
        store,
        patient.id,
        "8",
        "before",
        [images.Upload("a.jpg", photo(exif=exif_of("2023:07:14 09:30:00")))],
    )
    # one header read for the decode budget, one decode; no third opening for the date
    assert opened == ["JPEG", "JPEG"]
    assert (result.image.taken_date, result.image.taken_source) == (date(2023, 7, 14), "exif")


# --- the date an upload gets ---------------------------------------------------------------


def test_upload_takes_the_exif_date_and_says_so(client, patient):
    [image] = stored(
        upload(client, patient.id, "8", ("a.jpg", photo(exif=exif_of("2023:07:14 09:30:00"))))
    )
    assert (image["taken_date"], image["taken_source"]) == ("2023-07-14", "exif")
    again = client.get(f"/api/images/{image['id']}").get_json()
    assert again["taken_source"] == "exif"


def test_upload_without_a_date_falls_back_to_the_upload_time(client, patient):
    [image] = stored(upload(client, patient.id, "8", ("a.png", image_bytes("PNG"))))
    assert (image["taken_date"], image["taken_source"]) == (None, "upload")
    uploaded = datetime.fromisoformat(image["created_at"])  # the program keeps UTC, naive
    assert abs(datetime.now(UTC).replace(tzinfo=None) - uploaded) < timedelta(minutes=5)


def test_a_bad_exif_date_falls_back_to_the_upload_time(client, patient):
    [image] = stored(
        upload(client, patient.id, "8", ("a.jpg", photo(exif=exif_of("0000:00:00 00:00:00"))))
    )
    assert (image["taken_date"], image["taken_source"]) == (None, "upload")


def test_the_batch_date_wins_over_every_file_date(client, patient):
    files = [
        ("exif.jpg", photo(exif=exif_of("2023:07:14 09:30:00"))),
        ("plain.png", image_bytes("PNG")),
        ("scan.dcm", dicom_bytes()),
    ]
    images = stored(upload(client, patient.id, "8", *files, taken_date="2025-02-03"))
    assert [(i["taken_date"], i["taken_source"]) for i in images] == [("2025-02-03", "set")] * 3


def test_a_dicom_file_keeps_its_study_date_as_dicom(client, patient):
    [image] = stored(upload(client, patient.id, "8", ("scan.dcm", dicom_bytes())))
    assert (image["taken_date"], image["taken_source"]) == ("2024-03-05", "dicom")


def test_editing_the_date_makes_it_set_and_clearing_it_makes_it_the_uploads(client, patient):
    [image] = stored(
        upload(client, patient.id, "8", ("a.jpg", photo(exif=exif_of("2023:07:14 09:30:00"))))
    )
    url = f"/api/images/{image['id']}"
    assert client.patch(url, json={"description": "x"}).get_json()["taken_source"] == "exif"
    changed = client.patch(url, json={"taken_date": "2023-07-20"}).get_json()
    assert (changed["taken_date"], changed["taken_source"]) == ("2023-07-20", "set")
    cleared = client.patch(url, json={"taken_date": None}).get_json()
    assert (cleared["taken_date"], cleared["taken_source"]) == (None, "upload")


def test_the_tooth_list_is_ordered_by_the_taken_date(client, patient):
    files = [
        ("new.jpg", photo(exif=exif_of("2024:06:01 10:00:00"), color=(1, 2, 3))),
        ("old.jpg", photo(exif=exif_of("2019:01:01 10:00:00"), color=(4, 5, 6))),
        ("none.png", image_bytes("PNG")),  # dated by its upload: today, the newest
    ]
    stored(upload(client, patient.id, "8", *files))
    listed = client.get(f"/api/patients/{patient.id}/teeth/8/images").get_json()["images"]
    assert [i["original_name"] for i in listed] == ["old.jpg", "new.jpg", "none.png"]


# --- HEIC ----------------------------------------------------------------------------------


def heic(size=(640, 480), exif=None, color=(30, 140, 200)) -> bytes:
    return photo("HEIF", size=size, color=color, exif=exif)


def test_heic_upload_keeps_the_original_byte_for_byte_and_shows_a_jpeg(client, patient, settings):
    data = heic(exif=exif_of("2024:05:06 10:11:12", offset="+04:00"))
    [image] = stored(upload(client, patient.id, "8", ("IMG_0001.HEIC", data)))

    assert image["format"] == "HEIF" and image["file_name"].endswith(".heic")
    assert (image["width"], image["height"]) == (640, 480)
    assert (image["taken_date"], image["taken_source"]) == ("2024-05-06", "exif")
    on_disk = settings.data_dir / image["folder_path"] / image["file_name"]
    assert on_disk.read_bytes() == data

    original = client.get(image["file_url"])
    assert original.status_code == 200 and original.mimetype == "image/heic"
    assert hashlib.sha256(original.data).hexdigest() == hashlib.sha256(data).hexdigest()

    assert image["url"] == f"/images/{image['id']}/frames/1" != image["file_url"]
    shown = client.get(image["url"])
    assert shown.status_code == 200 and shown.mimetype == "image/jpeg"
    rendition = PILImage.open(io.BytesIO(shown.data))
    assert (rendition.format, rendition.size) == ("JPEG", (640, 480))
    assert (
        max(abs(a - b) for a, b in zip(rendition.getpixel((320, 240)), (30, 140, 200), strict=True))
        < 12
    )
    again = client.get(image["url"], headers={"If-None-Match": shown.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(f"/images/{image['id']}/frames/2").status_code == 404

    thumbnail = client.get(image["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail.mimetype == "image/jpeg"
    assert PILImage.open(io.BytesIO(thumbnail.data)).size == (320, 240)


def test_heic_thumbnail_is_rebuilt_from_the_original(client, patient, store):
    [image] = stored(upload(client, patient.id, "8", ("a.heic", heic(size=(300, 600)))))
    store.thumbnail_path(image["id"]).unlink()
    thumbnail = client.get(image["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert PILImage.open(io.BytesIO(thumbnail.data)).size == (160, 320)


def test_heic_with_something_appended_is_refused(client, patient, session):
    response = upload(client, patient.id, "8", ("a.heic", heic() + b"<script>alert(1)</script>"))
    assert response.status_code == 400
    assert "hidden content" in response.get_json()["error"]["message"]
    assert session.scalar(select(Image.id)) is None


def test_heic_boxes_after_the_image_are_part_of_it_and_padding_is_allowed():
    free = (16).to_bytes(4, "big") + b"free" + bytes(8)
    large = (1).to_bytes(4, "big") + b"skip" + (24).to_bytes(8, "big") + bytes(8)
    original = heic()
    for data in (original + free, original + large, original + bytes(64)):
        assert imaging.inspect_image(data).info.format == "HEIF"
    assert heif.end_of_boxes(original + free + b"trailing text") == len(original + free)


def test_truncated_heic_is_refused_as_damaged(client, patient):
    data = heic()
    response = upload(client, patient.id, "8", ("a.heic", data[: len(data) // 2]))
    assert response.status_code == 400
    assert "damaged or incomplete" in response.get_json()["error"]["message"]


def test_a_refused_file_is_told_the_accepted_formats(client, patient):
    response = upload(client, patient.id, "8", ("notes.pdf", b"%PDF-1.7\n1 0 obj\n"))
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert (
        "Accepted: PNG, JPEG, WebP, BMP, GIF, TIFF, HEIC/HEIF images, and DICOM x-rays" in message
    )


def test_the_refusal_is_in_arabic_for_an_arabic_page(client, patient):
    response = client.post(
        f"/api/patients/{patient.id}/teeth/8/images",
        data={"image_type": "clinical", "files": [(io.BytesIO(b"%PDF-1.7\n"), "notes.pdf")]},
        content_type="multipart/form-data",
        headers={"Accept-Language": "ar"},
    )
    message = response.get_json()["error"]["message"]
    assert "HEIC/HEIF" in message and "PNG" in message
    assert any("\u0600" <= ch <= "\u06ff" for ch in message)


def test_the_page_is_told_heic_is_accepted(client):
    facts = client.get("/api/settings").get_json()["upload"]
    assert "HEIC/HEIF" in facts["formats"] and "DICOM" in facts["formats"]


# --- existing rows -------------------------------------------------------------------------


def test_the_migration_gives_existing_rows_a_sensible_source(runtime, session, patient):
    """Rows as they were before 0010 (no taken_source): dated by DICOM, by a person, or not."""
    from alembic import command

    from backend.db import _alembic_config as alembic_config

    rows = {"dicom": date(2024, 3, 5), "set": date(2020, 1, 2), "upload": None}
    for n, (kind, day) in enumerate(rows.items()):
        session.execute(
            text(
                "INSERT INTO images (id, patient_id, tooth, image_type, folder_path, file_name,"
                " taken_date, created_at, updated_at, size_bytes, sha256, width, height, format,"
                " search_description) VALUES (:id, :p, '8', 'xray', 'f/', :name, :day,"
                " :now, :now, 1, 'x', 1, 1, 'PNG', '')"
            ),
            {"id": kind, "p": patient.id, "name": f"{n}.png", "day": day, "now": datetime.now()},
        )
    session.execute(
        text(
            "INSERT INTO image_dicom (image_id, sop_instance_uid, transfer_syntax_uid, study_date,"
            " frames) VALUES ('dicom', '1.2.3', '1.2.840.10008.1.2.1', :day, 1)"
        ),
        {"day": rows["dicom"]},
    )
    session.commit()
    session.close()
    config = alembic_config(runtime.engine)

    def query(sql):
        with runtime.engine.connect() as connection:  # closed again: holds no lock after
            return connection.execute(text(sql)).all()

    command.downgrade(config, "0009")  # to the revision before 0010
    command.upgrade(config, "head")
    found = dict(query("SELECT id, taken_source FROM images"))
    assert found == {"dicom": "dicom", "set": "set", "upload": "upload"}
    # nothing that cascades from an image row went with the schema change, either way
    assert query("SELECT COUNT(*) FROM image_dicom") == [(1,)]
    command.downgrade(config, "0009")  # to the revision before 0010
    assert query("SELECT COUNT(*) FROM images") == [(3,)]
    assert query("SELECT COUNT(*) FROM image_dicom") == [(1,)]
    command.upgrade(config, "head")
