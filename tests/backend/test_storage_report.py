"""The storage report: sizes that match the files on disk, and the low-space warning."""

import shutil
from collections import namedtuple

import pytest

from backend.usecases import images, storage_report
from backend.usecases.storage_report import GIB, human_size, low_space_threshold
from tests.helpers import image_bytes

DiskUsage = namedtuple("DiskUsage", "total used free")


def _files_under(folder):
    found = [p for p in folder.rglob("*") if p.is_file()]
    return len(found), sum(p.stat().st_size for p in found)


def _fake_disk(monkeypatch, total, free):
    seen = []

    def disk_usage(path):
        seen.append(path)
        return DiskUsage(total, total - free, free)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    return seen


def test_empty_installation(session, store):
    report = storage_report.storage_report(session, store)
    assert (report["image_files"], report["image_bytes"], report["image_rows"]) == (0, 0, 0)
    assert (report["thumbnail_files"], report["thumbnail_bytes"]) == (0, 0)
    real = shutil.disk_usage(store.images_dir)
    assert report["total_bytes"] == real.total
    assert report["images_dir"] == str(store.images_dir)


def test_figures_match_the_files_on_disk(session, store, patient):
    uploads = [
        images.Upload("a.png", image_bytes("PNG", (300, 200))),
        images.Upload("b.jpg", image_bytes("JPEG", (640, 480))),
    ]
    images.add_images(session, store, patient.id, "3", "before", uploads)
    images.add_images(
        session, store, patient.id, "14", "xray", [images.Upload("c.bmp", image_bytes("BMP"))]
    )
    stray = store.images_dir / patient.id / "14" / "xray" / "note.txt"
    stray.write_bytes(b"x" * 1234)  # a file no row knows still takes room

    report = storage_report.storage_report(session, store)

    assert (report["image_files"], report["image_bytes"]) == _files_under(store.images_dir)
    assert report["image_files"] == 4
    assert (
        report["image_bytes"] == sum(len(u.data) for u in uploads) + len(image_bytes("BMP")) + 1234
    )
    assert report["image_rows"] == 3
    assert (report["thumbnail_files"], report["thumbnail_bytes"]) == _files_under(
        store.thumbnails_dir
    )
    assert report["thumbnail_files"] == 3 and report["thumbnail_bytes"] > 0


def test_plenty_of_space_gives_no_warning(session, store, monkeypatch):
    seen = _fake_disk(monkeypatch, total=500 * GIB, free=120 * GIB)
    report = storage_report.storage_report(session, store)
    assert seen == [store.images_dir]
    assert report["free_bytes"] == 120 * GIB and report["total_bytes"] == 500 * GIB
    assert report["low_space"] is False and report["warning"] is None
    assert report["low_space_threshold_bytes"] == 50 * GIB


@pytest.mark.parametrize(
    ("total", "free", "low"),
    [
        (500 * GIB, 49 * GIB, True),  # under 10% of a big disk
        (500 * GIB, 50 * GIB, False),
        (10 * GIB, int(1.9 * GIB), True),  # under the 2 GiB floor on a small disk
        (10 * GIB, 2 * GIB, False),
    ],
)
def test_low_space_is_below_the_larger_of_2_gib_and_10_percent(
    session, store, monkeypatch, total, free, low
):
    _fake_disk(monkeypatch, total=total, free=free)
    report = storage_report.storage_report(session, store)
    assert report["low_space"] is low
    assert (report["warning"] is not None) is low


def test_warning_tells_the_reader_how_much_is_left_and_what_to_do(session, store, monkeypatch):
    _fake_disk(monkeypatch, total=100 * GIB, free=int(1.2 * GIB))
    warning = storage_report.storage_report(session, store)["warning"]
    assert warning == (
        "Only 1.2 GB free on the disk holding the images; free up space or move the data folder."
    )


def test_missing_images_folder_measures_its_nearest_existing_parent(session, store, monkeypatch):
    shutil.rmtree(store.images_dir)
    seen = _fake_disk(monkeypatch, total=100 * GIB, free=50 * GIB)
    report = storage_report.storage_report(session, store)
    assert seen == [store.data_dir] and report["image_files"] == 0


def test_threshold_and_sizes_for_people():
    assert low_space_threshold(1 * GIB) == 2 * GIB
    assert low_space_threshold(1000 * GIB) == 100 * GIB
    assert human_size(512) == "512 bytes"
    assert human_size(1536) == "1.5 KB"
    assert human_size(int(3.4 * 1024**2)) == "3.4 MB"
    assert human_size(3 * 1024**4) == "3.0 TB"
