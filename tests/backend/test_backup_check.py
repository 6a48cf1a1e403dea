"""Checking the live store: missing files, files no row knows, damaged files; repair re-links
files found by name and reports the rest."""

from __future__ import annotations

import shutil

from sqlalchemy import select

from backend.models import Image
from backend.usecases.check import check_store
from tests.backup_data import populate


def _images(runtime) -> list[Image]:
    with runtime.sessions() as session:
        return list(session.scalars(select(Image).order_by(Image.file_name)))


def test_a_healthy_store_checks_clean(runtime):
    populate(runtime, patients_count=2)
    with runtime.sessions() as session:
        report = check_store(session, runtime.store)
    assert report.ok and report.problems() == []
    assert (report.rows, report.files) == (6, 6)


def test_missing_unknown_and_damaged_files_are_each_reported(runtime):
    [patient] = populate(runtime, patients_count=1)
    gone, damaged, _kept = _images(runtime)
    store = runtime.store
    store.path_of(gone.relative_path).unlink()
    path = store.path_of(damaged.relative_path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    stray = store.images_dir / patient / "14" / "before" / "stray.png"
    stray.write_bytes(b"no row knows me")
    legacy = store.images_dir / "Patient_0" / "xray" / "old.png"
    legacy.parent.mkdir(parents=True)
    legacy.write_bytes(b"earlier app")

    with runtime.sessions() as session:
        report = check_store(session, store)

    assert not report.ok
    assert report.missing == [gone.relative_path]
    assert report.mismatched == [damaged.relative_path]
    assert report.orphans == [f"dental_images/{patient}/14/before/stray.png"]
    assert report.legacy_files == 1
    said = " ".join(report.problems())
    assert "1 image has no file" in said and "damaged" in said and "belongs to no image" in said
    assert stray.exists() and legacy.exists()  # never deleted by a check


def test_repair_re_links_a_file_found_by_name_and_reports_the_rest(runtime):
    [patient] = populate(runtime, patients_count=1)
    moved, gone, _kept = _images(runtime)
    store = runtime.store
    elsewhere = store.images_dir / patient / "30" / "other" / moved.file_name
    elsewhere.parent.mkdir(parents=True)
    shutil.move(store.path_of(moved.relative_path), elsewhere)
    store.path_of(gone.relative_path).unlink()

    with runtime.sessions() as session:
        report = check_store(session, store, repair=True)

    assert report.repaired == [moved.relative_path]
    assert report.missing == [gone.relative_path]
    assert store.path_of(moved.relative_path).is_file() and not elsewhere.exists()
    with runtime.sessions() as session:
        again = check_store(session, store)
    assert again.missing == [gone.relative_path] and not again.orphans
