"""Importing the earlier app's data: every image on the right patient, tooth and type with
identical bytes, whatever the path form, table generation, root or notation."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date

import pytest
from PIL import Image as PILImage
from sqlalchemy import func, select

from backend.errors import ValidationError
from backend.migration.importer import import_legacy, open_source, preview
from backend.models import Image, Patient, Treatment
from backend.storage import legacy_patient_folder
from tests.helpers import disk_snapshot
from tests.legacy_data import build_legacy, check_imported, picture


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize(
    ("notation", "tables"),
    [("fdi", "both"), ("universal", "both"), ("fdi", "new"), ("universal", "old")],
)
def test_every_image_lands_on_its_patient_tooth_and_type_with_identical_bytes(
    runtime, session, tmp_path, notation, tables
):
    data = build_legacy(tmp_path / "old", notation=notation, tables=tables)
    report = import_legacy(runtime, open_source(tmp_path / "old"), notation=notation)
    check_imported(session, runtime.settings.image_store_root, data)
    assert report.imported == len(data.expected)
    assert report.missing == len(data.missing) and report.failed == len(data.failing)
    assert {e.what for e in report.missing_files} == set(data.missing)
    assert {e.what for e in report.failures} == set(data.failing)
    assert _count(session, Patient) == 4 and _count(session, Treatment) == data.treatments
    assert [str(p) for p in data.unreferenced] == report.unreferenced_files
    assert report.exit_code == 6


def test_primary_fdi_teeth_become_letters_with_their_own_folder(runtime, session, tmp_path):
    build_legacy(tmp_path / "old", notation="fdi")
    import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    [kid] = session.scalars(select(Image).where(Image.tooth == "A")).all()
    assert kid.folder_path.endswith("/A/before/")
    assert (runtime.settings.image_store_root / kid.relative_path).is_file()


def test_a_second_import_creates_nothing_and_moves_nothing(runtime, session, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    source = open_source(tmp_path / "old")
    import_legacy(runtime, source, notation="fdi")
    before = disk_snapshot(runtime.settings.image_store_root / "dental_images")
    counts = [_count(session, m) for m in (Patient, Treatment, Image)]
    again = import_legacy(runtime, source, notation="fdi")
    assert again.imported == 0 and again.skipped == len(data.expected)
    assert again.patients.skipped == 4 and again.treatments.skipped == data.treatments
    assert [_count(session, m) for m in (Patient, Treatment, Image)] == counts
    assert disk_snapshot(runtime.settings.image_store_root / "dental_images") == before
    assert again.unreferenced_files == [str(p) for p in data.unreferenced]


def test_the_source_is_left_exactly_as_it_was(runtime, tmp_path):
    build_legacy(tmp_path / "old", notation="universal")
    before = disk_snapshot(tmp_path / "old")
    import_legacy(runtime, open_source(tmp_path / "old"), notation="universal")
    assert disk_snapshot(tmp_path / "old") == before


def test_a_dry_run_reports_and_writes_nothing(runtime, session, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    report = import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi", dry_run=True)
    assert report.dry_run and report.imported == len(data.expected)
    assert _count(session, Patient) == 0 and _count(session, Image) == 0
    assert list((runtime.settings.image_store_root / "dental_images").iterdir()) == []


def test_preview_counts_and_shows_the_notation_with_its_evidence(tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    shown = preview(open_source(tmp_path / "old" / "dental_clinic.db")).as_dict()
    assert shown["notation"]["detected"] == "fdi" and shown["notation"]["certain"]
    assert any("CHECK" in line for line in shown["notation"]["evidence"])
    assert shown["patients"] == 4 and shown["patients_new"] == 4
    assert shown["images_missing"] == len(data.missing)
    teeth_expected = [e for e in data.expected if e.tooth is not None]
    assert shown["images_found"] == len(teeth_expected) + len(data.failing)
    assert shown["patient_images"] == shown["patient_images_found"] == 1
    assert len(shown["image_roots"]) == 2


def test_numbers_valid_in_both_systems_are_shown_as_unsure(tmp_path):
    build_legacy(tmp_path / "old", notation="universal", tables="new")
    with sqlite3.connect(tmp_path / "old" / "dental_clinic.db") as db:
        db.execute("UPDATE tooth_treatments SET tooth_number = 21")
        db.execute("UPDATE tooth_treatment_images SET tooth_number = 12")
    notation = preview(open_source(tmp_path / "old")).notation
    assert notation.detected == "universal" and not notation.certain
    assert "both systems" in notation.evidence[-1]


def test_a_folder_without_the_database_is_refused_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match=r"dental_clinic\.db"):
        open_source(tmp_path / "empty")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "dental_clinic.db").write_text("not a database", encoding="utf-8")
    with pytest.raises(ValidationError, match="not an SQLite database"):
        preview(open_source(tmp_path / "fake"))


def test_paths_that_leave_the_roots_are_looked_up_by_name_only(runtime, session, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi", tables="new")
    outside = tmp_path / "secret.png"
    outside.write_bytes(picture(4242))
    patient = next(iter(data.patients))
    with sqlite3.connect(data.database) as db:
        for n, path in enumerate(("../secret.png", "/etc/../" + str(outside), "C:\\secret.png")):
            db.execute(
                "INSERT INTO tooth_treatment_images (id, patient_id, tooth_number, image_path,"
                " image_type) VALUES (?, ?, 11, ?, 'xray')",
                (f"escape-{n}", patient, path),
            )
    report = import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    assert {f"tooth_treatment_images escape-{n}" for n in range(3)} <= {
        e.what for e in report.missing_files
    }
    assert not any(r.sha256 == "" for r in session.scalars(select(Image)))
    check_imported(session, runtime.settings.image_store_root, data)


def test_a_file_found_only_by_name_in_the_patients_own_folder_is_taken(runtime, session, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi", tables="new")
    layla = next(p for p, name in data.patients.items() if name == "Layla Haddad")
    moved = tmp_path / "old" / "dental_images" / legacy_patient_folder("Layla Haddad", layla)
    item = next(e for e in data.expected if e.patient_id == layla and e.image_type == "xray")
    source = next(p for p in data.legacy_files if p.read_bytes() == item.data)
    shutil.move(source, moved / "xray" / source.name)
    import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    check_imported(session, runtime.settings.image_store_root, data)


def test_a_missing_file_is_never_replaced_by_another_patients_file_of_the_same_name(
    runtime, session, tmp_path
):
    data = build_legacy(tmp_path / "old", notation="fdi", tables="new")
    layla = next(p for p, name in data.patients.items() if name == "Layla Haddad")
    # Layla's x-ray and the Arabic patient's x-ray share a file name; Layla's is gone.
    item = next(e for e in data.expected if e.patient_id == layla and e.image_type == "xray")
    gone = next(p for p in data.legacy_files if p.is_file() and p.read_bytes() == item.data)
    gone.unlink()
    data.expected.remove(item)

    report = import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")

    assert item.ref in {e.what for e in report.missing_files}
    check_imported(session, runtime.settings.image_store_root, data)  # the other x-ray is theirs


def test_one_path_in_two_roots_with_different_bytes_is_reported_not_guessed(
    runtime, session, tmp_path
):
    data = build_legacy(tmp_path / "old", notation="fdi", tables="new")
    layla = next(p for p, name in data.patients.items() if name == "Layla Haddad")
    item = next(e for e in data.expected if e.patient_id == layla and e.image_type == "xray")
    original = next(p for p in data.legacy_files if p.is_file() and p.read_bytes() == item.data)
    twin = tmp_path / "old" / "public" / "upload" / original.relative_to(tmp_path / "old")
    twin.parent.mkdir(parents=True, exist_ok=True)
    other = bytearray(item.data)
    other[-20] ^= 0xFF  # same size, different bytes
    twin.write_bytes(bytes(other))
    data.expected.remove(item)

    report = import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")

    missing = {e.what: e.reason for e in report.missing_files}
    assert "cannot tell which is this one" in missing[item.ref]
    check_imported(session, runtime.settings.image_store_root, data)


def test_an_image_without_a_recorded_date_takes_its_exif_date(runtime, session, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi", tables="new")
    patient = next(iter(data.patients))
    exif = PILImage.Exif()
    exif[0x8769] = {0x9003: "2019:08:07 16:20:00"}  # DateTimeOriginal
    rows = {"exif-dated": exif, "undated": None}
    with sqlite3.connect(data.database) as db:
        for key, tags in rows.items():
            relative = f"dental_images/{patient}/21/clinical/{key}_{1751793462764}-1.jpg"
            path = tmp_path / "old" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            extra = {"exif": tags.tobytes()} if tags is not None else {}
            PILImage.new("RGB", (60, 40), (10, 20, 30)).save(path, format="JPEG", **extra)
            db.execute(
                "INSERT INTO tooth_treatment_images (id, patient_id, tooth_number, image_path,"
                " image_type) VALUES (?, ?, 21, ?, 'clinical')",
                (key, patient, relative),
            )
    import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    images = session.scalars(select(Image)).all()
    found = {
        i.file_name.split("_")[0]: (i.taken_date, i.taken_source)
        for i in images
        if i.file_name.split("_")[0] in rows
    }
    assert found == {"exif-dated": (date(2019, 8, 7), "exif"), "undated": (None, "upload")}
    # the rows the earlier app dated keep that date, as set by a person
    others = [i for i in images if i.file_name.split("_")[0] not in rows]
    assert others and all(
        i.taken_source == ("set" if i.taken_date is not None else "upload") for i in others
    )
    assert any(i.taken_source == "set" for i in others)
