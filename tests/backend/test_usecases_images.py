import hashlib
import io
import random
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest
from PIL import Image as PILImage
from sqlalchemy import event, select

from backend.errors import NotFound, ValidationError
from backend.models import Image
from backend.usecases import images, patients, trash, treatments
from backend.usecases.images import Upload
from tests.helpers import disk_snapshot, image_bytes, image_row_count


def add(session, store, patient, *files, tooth="8", kind="before", **fields):
    return images.add_images(session, store, patient.id, tooth, kind, list(files), **fields)


def test_upload_stores_file_row_and_thumbnail(session, store, patient, settings):
    data = image_bytes("JPEG", (320, 240))
    [result] = add(session, store, patient, Upload("Front smile.jpg", data))
    image = result.image
    assert result.error is None
    assert image.folder_path == f"dental_images/{patient.id}/8/before/"
    assert image.file_name.startswith("Front_smile-") and image.file_name.endswith(".jpg")
    stored = settings.data_dir / image.folder_path / image.file_name
    assert stored.read_bytes() == data
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert (image.size_bytes, image.width, image.height, image.format) == (
        len(data),
        320,
        240,
        "JPEG",
    )
    assert image.original_name == "Front smile.jpg"
    thumb = store.thumbnail_path(image.id)
    assert thumb.is_file() and settings.images_dir not in thumb.parents


def test_the_extension_follows_the_content_not_the_name(session, store, patient):
    [result] = add(session, store, patient, Upload("actually-png.jpg", image_bytes("PNG")))
    assert result.image.format == "PNG"
    assert result.image.file_name.endswith(".png")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_every_supported_format_is_stored(session, store, patient, fmt):
    [result] = add(session, store, patient, Upload(f"x.{fmt.lower()}", image_bytes(fmt)))
    assert result.image is not None and result.image.format == fmt


def test_several_files_at_once_are_all_stored(session, store, patient):
    uploads = [Upload(f"photo {i}.png", image_bytes("PNG", color=(i, 0, 0))) for i in range(5)]
    results = add(session, store, patient, *uploads, kind="xray")
    assert all(r.image is not None for r in results)
    assert len({r.image.file_name for r in results}) == 5
    assert image_row_count(session) == 5


def _pixel_bomb() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 60000, 60000, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def _polyglot() -> bytes:
    return image_bytes("PNG") + b"PK\x03\x04" + b"\x00" * 30


BAD_FILES = {
    "text named .jpg": b"just some notes, not a picture",
    "html named .png": b"<!doctype html><script>alert(1)</script>",
    "truncated jpeg": image_bytes("JPEG", (400, 300))[:600],
    "pixel bomb": _pixel_bomb(),
    "polyglot png+zip": _polyglot(),
    "empty": b"",
}


@pytest.mark.parametrize("label", list(BAD_FILES))
def test_a_bad_file_is_refused_and_leaves_nothing(session, store, patient, settings, label):
    before = disk_snapshot(settings.data_dir)
    [result] = add(session, store, patient, Upload(f"{label}.jpg", BAD_FILES[label]))
    assert result.image is None
    assert result.error.field == "file"
    assert result.error.message
    assert disk_snapshot(settings.data_dir) == before
    assert image_row_count(session) == 0


def test_bad_files_are_reported_while_good_ones_land(session, store, patient):
    results = add(
        session,
        store,
        patient,
        Upload("good1.png", image_bytes("PNG")),
        Upload("bad.jpg", b"not an image"),
        Upload("good2.jpg", image_bytes("JPEG")),
    )
    assert [r.image is not None for r in results] == [True, False, True]
    assert "Accepted: PNG, JPEG, WebP, BMP, GIF, TIFF, HEIC/HEIF" in results[1].error.message
    assert image_row_count(session) == 2


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("tooth", {"tooth": "0"}),
        ("tooth", {"tooth": "33"}),
        ("tooth", {"tooth": "abc"}),
        ("tooth", {"tooth": "../../etc"}),
        ("image_type", {"kind": "selfie"}),
        ("image_type", {"kind": "../.."}),
        ("taken_date", {"taken_date": "yesterday"}),
        ("treatment_id", {"treatment_id": "no-such-treatment"}),
    ],
)
def test_bad_fields_are_refused_before_anything_is_written(
    session, store, patient, settings, field, kwargs
):
    before = disk_snapshot(settings.data_dir)
    with pytest.raises((ValidationError, NotFound)) as caught:
        add(session, store, patient, Upload("ok.png", image_bytes("PNG")), **kwargs)
    assert caught.value.field == field
    assert disk_snapshot(settings.data_dir) == before
    assert image_row_count(session) == 0


def test_unknown_patient_is_refused_before_anything_is_written(session, store, settings):
    before = disk_snapshot(settings.data_dir)
    with pytest.raises(NotFound) as caught:
        images.add_images(
            session,
            store,
            "3f0e9a8c-0000-4000-8000-000000000000",
            "8",
            "xray",
            [Upload("ok.png", image_bytes("PNG"))],
        )
    assert caught.value.field == "patient_id"
    assert disk_snapshot(settings.data_dir) == before


def test_a_traversal_file_name_is_stored_inside_its_folder(session, store, patient, settings):
    [result] = add(session, store, patient, Upload("../../../../evil.png", image_bytes("PNG")))
    stored = settings.data_dir / result.image.folder_path / result.image.file_name
    assert stored.resolve().parent == (settings.data_dir / result.image.folder_path).resolve()
    assert result.image.file_name.startswith("evil-")


def test_primary_teeth_have_their_own_folders(session, store, patient):
    [result] = add(session, store, patient, Upload("kid.png", image_bytes("PNG")), tooth="a")
    assert result.image.tooth == "A"
    assert result.image.folder_path == f"dental_images/{patient.id}/A/before/"


def test_link_to_a_treatment_of_the_same_tooth(session, store, patient):
    crown = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Crown"}
    )
    [result] = add(
        session, store, patient, Upload("a.png", image_bytes("PNG")), treatment_id=crown.id
    )
    assert result.image.treatment_id == crown.id


def test_link_to_a_treatment_of_another_tooth_is_refused(session, store, patient):
    other = treatments.create_treatment(
        session, patient.id, {"tooth": "9", "treatment_type": "Filling"}
    )
    with pytest.raises(ValidationError) as caught:
        add(session, store, patient, Upload("a.png", image_bytes("PNG")), treatment_id=other.id)
    assert caught.value.field == "treatment_id"


def test_edit_description_and_taken_date(session, store, patient):
    [result] = add(session, store, patient, Upload("a.png", image_bytes("PNG")))
    image = images.update_image(
        session, store, result.image.id, {"description": "Before crown", "taken_date": "2026-03-01"}
    )
    assert image.description == "Before crown"
    assert image.taken_date == date(2026, 3, 1)


def test_a_taken_date_in_the_future_is_refused_and_changes_nothing(session, store, patient):
    [result] = add(session, store, patient, Upload("a.png", image_bytes("PNG")))
    tomorrow, later = date.today() + timedelta(days=1), date.today() + timedelta(days=2)
    with pytest.raises(ValidationError) as caught:
        images.update_image(session, store, result.image.id, {"taken_date": later.isoformat()})
    assert caught.value.field == "taken_date" and "in the future" in str(caught.value)
    assert images.get_image(session, result.image.id).taken_date is None
    with pytest.raises(ValidationError):
        add(session, store, patient, Upload("b.png", image_bytes("PNG")), taken_date=later)
    # a PC in another time zone may already be on tomorrow
    edited = images.update_image(session, store, result.image.id, {"taken_date": tomorrow})
    assert edited.taken_date == tomorrow


def test_an_odd_stored_date_does_not_block_other_edits(session, store, patient):
    [result] = add(session, store, patient, Upload("a.png", image_bytes("PNG")))
    imported = result.image
    imported.taken_date = date.today() + timedelta(days=400)  # as an import may bring it
    session.commit()
    same = imported.taken_date.isoformat()  # the edit form sends the date back unchanged
    edited = images.update_image(
        session, store, imported.id, {"description": "Checked", "taken_date": same}
    )
    assert edited.description == "Checked"


def test_moving_to_another_tooth_moves_the_file(session, store, patient, settings):
    data = image_bytes("PNG")
    crown = treatments.create_treatment(
        session, patient.id, {"tooth": "8", "treatment_type": "Crown"}
    )
    [result] = add(session, store, patient, Upload("a.png", data), treatment_id=crown.id)
    old = settings.data_dir / result.image.relative_path
    image = images.update_image(
        session, store, result.image.id, {"tooth": "9", "image_type": "after"}
    )
    new = settings.data_dir / image.relative_path
    assert image.folder_path == f"dental_images/{patient.id}/9/after/"
    assert new.read_bytes() == data
    assert not old.exists()
    assert image.treatment_id is None


def test_a_move_with_bad_fields_changes_nothing(session, store, patient, settings):
    [result] = add(session, store, patient, Upload("a.png", image_bytes("PNG")))
    before = disk_snapshot(settings.data_dir)
    with pytest.raises(ValidationError):
        images.update_image(session, store, result.image.id, {"tooth": "99"})
    assert disk_snapshot(settings.data_dir) == before


def test_delete_image_moves_it_to_the_trash_and_the_purge_removes_row_file_and_thumbnail(
    session, store, patient, settings
):
    [keep, drop] = add(
        session,
        store,
        patient,
        Upload("a.png", image_bytes("PNG")),
        Upload("b.png", image_bytes("PNG")),
    )
    drop_path = settings.data_dir / drop.image.relative_path
    images.delete_image(session, store, drop.image.id)
    assert not drop_path.exists()
    in_trash = settings.data_dir / drop.image.relative_path
    assert drop.image.folder_path.startswith("dental_images/.trash/") and in_trash.is_file()
    assert [i.id for i in images.list_tooth_images(session, patient.id, "8")] == [keep.image.id]
    with pytest.raises(NotFound):
        images.get_image(session, drop.image.id)
    assert (settings.data_dir / keep.image.relative_path).exists()  # same folder, untouched
    assert trash.purge(session, store, everything=True) == {"patients": 0, "images": 1}
    assert not in_trash.exists()
    assert not store.thumbnail_path(drop.image.id).exists()
    assert (settings.data_dir / keep.image.relative_path).exists()
    assert image_row_count(session) == 1


def test_delete_patient_moves_their_files_including_orphans_to_the_trash(
    session, store, patient, settings
):
    [result] = add(session, store, patient, Upload("a.png", image_bytes("PNG")))
    orphan = settings.data_dir / result.image.folder_path / "left-by-old-app.png"
    orphan.write_bytes(b"x")
    other = patients.create_patient(session, {"full_name": "Other"})
    [kept] = add(session, store, other, Upload("b.png", image_bytes("PNG")))
    removed = patients.delete_patient(session, store, patient.id)
    assert removed == {"images": 1, "files": 2, "treatments": 0}
    assert not (settings.images_dir / patient.id).exists()
    assert (settings.images_dir / ".trash" / patient.id).is_dir()
    assert [p.id for p in patients.search_patients(session)] == [other.id]
    assert (settings.data_dir / kept.image.relative_path).exists()
    assert trash.purge(session, store, everything=True) == {"patients": 1, "images": 1}
    assert not (settings.images_dir / ".trash" / patient.id).exists()
    assert not store.thumbnail_path(result.image.id).exists()
    assert image_row_count(session) == 1


def test_tooth_images_are_listed_by_date(session, store, patient):
    add(session, store, patient, Upload("late.png", image_bytes("PNG")), taken_date="2026-05-01")
    add(
        session,
        store,
        patient,
        Upload("early.png", image_bytes("PNG")),
        kind="xray",
        taken_date="2025-01-01",
    )
    listed = images.list_tooth_images(session, patient.id, "8")
    assert [i.original_name for i in listed] == ["early.png", "late.png"]
    assert [
        i.original_name for i in images.list_tooth_images(session, patient.id, "8", "xray")
    ] == ["early.png"]


def test_exif_rotated_photo_gets_an_upright_thumbnail(session, store, patient):
    picture = PILImage.new("RGB", (200, 100), (10, 200, 10))
    exif = picture.getexif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif)
    [result] = add(session, store, patient, Upload("rotated.jpg", buffer.getvalue()))
    with PILImage.open(store.thumbnail_path(result.image.id)) as thumb:
        assert thumb.height > thumb.width


RACE_ROUNDS = 30


def _slow_down(monkeypatch, store, seed: int) -> random.Random:
    """A slow shared folder: every copy of a moving file takes a few milliseconds."""
    rng = random.Random(seed)
    copy_in = store.copy_in

    def slow_copy_in(*args, **kwargs):
        time.sleep(rng.uniform(0, 0.008))
        return copy_in(*args, **kwargs)

    monkeypatch.setattr(store, "copy_in", slow_copy_in)
    return rng


def _pc_session(runtime, rng: random.Random):
    """A session as another PC's request would have it: a moment passes between reading the
    row and writing it (a slow network)."""
    session = runtime.sessions()
    event.listen(session, "before_flush", lambda *_args: time.sleep(rng.uniform(0, 0.008)))
    return session


def _rows_and_files(session, store, patient, *, trash=False) -> tuple[set[str], set[str]]:
    """The paths the patient's live rows name and the files of their live folder; with
    `trash`, the same of the trash."""
    session.expire_all()
    rows = {
        folder + name
        for folder, name in session.execute(
            select(Image.folder_path, Image.file_name).where(
                Image.patient_id == patient.id,
                Image.deleted_at.is_not(None) if trash else Image.deleted_at.is_(None),
            )
        )
    }
    tree = (store.trash_dir if trash else store.images_dir) / patient.id
    on_disk = {
        "dental_images/" + p.relative_to(store.images_dir).as_posix()
        for p in tree.rglob("*")
        if p.is_file()
    }
    return rows, on_disk


@pytest.mark.parametrize("race", ["move against delete", "move against move"])
def test_two_pcs_racing_on_one_image_leave_each_row_with_its_file_and_no_stray_file(
    runtime, session, store, patient, monkeypatch, race
):
    rng = _slow_down(monkeypatch, store, seed=len(race))
    outcomes = set()
    for n in range(RACE_ROUNDS):
        [result] = add(
            session, store, patient, Upload("a.png", image_bytes("PNG", color=(n, 1, 2)))
        )
        image_id = result.image.id
        start = threading.Barrier(2)

        def move(tooth: str, image_id=image_id, start=start) -> str:
            with _pc_session(runtime, rng) as pc:
                start.wait()
                try:
                    images.update_image(pc, store, image_id, {"tooth": tooth})
                except NotFound:
                    return "move found no row"
                return f"moved to {tooth}"

        def delete(image_id=image_id, start=start) -> str:
            with _pc_session(runtime, rng) as pc:
                start.wait()
                images.delete_image(pc, store, image_id)
                return "deleted"

        with ThreadPoolExecutor(max_workers=2) as pool:
            if race == "move against delete":
                futures = [pool.submit(move, "14"), pool.submit(delete)]
            else:
                futures = [pool.submit(move, "14"), pool.submit(move, "15")]
            outcomes.add(tuple(sorted(f.result() for f in futures)))

        rows, on_disk = _rows_and_files(session, store, patient)
        assert on_disk == rows, f"round {n}: rows {rows}, files {on_disk}"
        trashed, in_trash = _rows_and_files(session, store, patient, trash=True)
        assert in_trash == trashed, f"round {n}: trashed rows {trashed}, files {in_trash}"
        if race == "move against delete":
            assert rows == set()
        else:
            [path] = rows
            assert path.split("/")[2] in ("14", "15")
            images.delete_image(session, store, image_id)
    # either order may win, but the loser always saw what the winner did
    if race == "move against delete":
        assert outcomes <= {("deleted", "moved to 14"), ("deleted", "move found no row")}
    else:
        assert outcomes == {("moved to 14", "moved to 15")}


def test_listing_a_tooth_takes_the_same_few_queries_for_any_number_of_images(
    session, store, patient
):
    """A tooth's list with what the page is sent for each image (its DICOM facts included) is
    a fixed number of queries: one per image made a tooth of 300 images take 300 more."""
    from backend.serializers import image_dict

    def queries_to_list() -> int:
        statements: list[str] = []
        engine = session.get_bind()

        def count(_conn, _cursor, statement, *_args):
            statements.append(statement)

        session.expire_all()
        event.listen(engine, "before_cursor_execute", count)
        try:
            listed = [image_dict(i) for i in images.list_tooth_images(session, patient.id, "8")]
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert all("dicom" in item for item in listed)
        return len(statements)

    add(session, store, patient, Upload("one.png", image_bytes("PNG", (40, 30), (1, 2, 3))))
    with_one = queries_to_list()
    uploads = [Upload(f"{n}.png", image_bytes("PNG", (40, 30), (n, 2, 3))) for n in range(12)]
    add(session, store, patient, *uploads)
    assert queries_to_list() == with_one <= 4
