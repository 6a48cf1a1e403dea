import os
import threading
import uuid

import pytest

from backend import storage
from backend.storage import (
    FileNameIndex,
    ImageStore,
    UnsafePath,
    clean_stem,
    image_folder,
    legacy_patient_folder,
    resolve_under,
)

PATIENT = "47d9cebe-5f88-4f3a-9c91-7c504c6c245e"


@pytest.fixture
def image_store(tmp_path) -> ImageStore:
    return ImageStore(tmp_path, tmp_path / "thumbnails")


def test_folder_follows_the_documented_layout():
    assert image_folder(PATIENT, "11", "before") == f"dental_images/{PATIENT}/11/before/"


@pytest.mark.parametrize(
    ("patient", "tooth", "kind"),
    [
        ("../etc", "11", "before"),
        (PATIENT, "../../x", "before"),
        (PATIENT, "33", "before"),
        (PATIENT, "11", "../../x"),
        (PATIENT, "11", "selfie"),
        ("not-a-uuid", "11", "before"),
    ],
)
def test_folder_refuses_parts_that_are_not_valid(patient, tooth, kind):
    with pytest.raises(UnsafePath):
        image_folder(patient, tooth, kind)


def test_clean_stem_keeps_arabic_and_other_letters():
    assert clean_stem("أشعة سينية.png") == "أشعة_سينية"
    assert clean_stem("Zahn Röntgen (1).JPG") == "Zahn_Röntgen_1"


def test_clean_stem_drops_path_parts_and_punctuation():
    assert clean_stem("../../etc/passwd") == "passwd"
    assert clean_stem("a<b>c:d|e?.png") == "abcde"
    assert clean_stem("") == "image"
    assert clean_stem("...") == "image"
    assert len(clean_stem("x" * 500 + ".png")) == 80


def test_legacy_folder_matches_the_earlier_apps_cleaning():
    assert legacy_patient_folder("Layla  Haddad!", "id1") == "Layla_Haddad"
    assert legacy_patient_folder("محمد علي", "id1") == "محمد_علي"
    assert legacy_patient_folder("", "id1") == "Patient_id1"
    assert legacy_patient_folder("???", "id1") == "Patient_id1"


@pytest.mark.parametrize(
    "relative",
    ["../outside.png", "dental_images/../../x", "/etc/passwd", "\\\\server\\share", "C:/x.png"],
)
def test_resolve_under_refuses_escapes(tmp_path, relative):
    with pytest.raises(UnsafePath):
        resolve_under(tmp_path, relative)


def test_resolve_under_refuses_a_symlink_that_leads_outside(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(outside)
    with pytest.raises(UnsafePath):
        resolve_under(root, "link/file.png")


def test_write_new_names_files_stem_dash_milliseconds(image_store, monkeypatch):
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1750601234567_000_000)
    folder = image_folder(PATIENT, "11", "before")
    name = image_store.write_new(folder, "My Photo.JPG", "jpg", b"data")
    assert name == "My_Photo-1750601234567.jpg"
    assert (image_store.data_dir / folder / name).read_bytes() == b"data"


def test_same_millisecond_uploads_get_distinct_names_and_nothing_is_overwritten(
    image_store, monkeypatch
):
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1750601234567_000_000)
    folder = image_folder(PATIENT, "11", "xray")
    names = [image_store.write_new(folder, "scan.png", "png", bytes([i])) for i in range(3)]
    assert names == [
        "scan-1750601234567.png",
        "scan-1750601234567-2.png",
        "scan-1750601234567-3.png",
    ]
    for i, name in enumerate(names):
        assert (image_store.data_dir / folder / name).read_bytes() == bytes([i])


def test_parallel_writes_never_clash(image_store, monkeypatch):
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1_000_000_000_000)
    folder = image_folder(PATIENT, "3", "clinical")
    names: list[str] = []
    lock = threading.Lock()

    def write(i: int) -> None:
        name = image_store.write_new(folder, "same.png", "png", str(i).encode())
        with lock:
            names.append(name)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(names)) == 40
    contents = {(image_store.data_dir / folder / n).read_bytes() for n in names}
    assert contents == {str(i).encode() for i in range(40)}


def test_no_temporary_files_remain_after_writes(image_store):
    folder = image_folder(PATIENT, "5", "after")
    image_store.write_new(folder, "a.png", "png", b"1")
    leftovers = [p for p in (image_store.data_dir / folder).iterdir() if p.suffix == ".part"]
    assert leftovers == []


def test_a_failed_write_leaves_no_file(image_store, monkeypatch):
    folder = image_folder(PATIENT, "5", "after")

    def broken_fsync(_fd):
        raise OSError("disk full")

    monkeypatch.setattr(storage.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        image_store.write_new(folder, "a.png", "png", b"1")
    assert list((image_store.data_dir / folder).iterdir()) == []


def test_copy_in_keeps_the_name_when_free_and_suffixes_when_taken(image_store, tmp_path):
    source = tmp_path / "scan-1750601234567.png"
    source.write_bytes(b"bytes")
    folder = image_folder(PATIENT, "12", "xray")
    first = image_store.copy_in(source, folder, source.name)
    second = image_store.copy_in(source, folder, source.name)
    assert first == "scan-1750601234567.png"
    assert second.startswith("scan-1750601234567-") and second != first
    assert source.read_bytes() == b"bytes"


def test_remove_deletes_one_file_and_prunes_empty_folders(image_store):
    folder = image_folder(PATIENT, "7", "other")
    name = image_store.write_new(folder, "x.png", "png", b"1")
    assert image_store.remove(folder + name) is True
    assert not (image_store.images_dir / PATIENT).exists()
    assert image_store.images_dir.is_dir()
    assert image_store.remove(folder + name) is False


def test_remove_patient_tree_counts_orphan_files_too(image_store):
    folder = image_folder(PATIENT, "7", "other")
    image_store.write_new(folder, "x.png", "png", b"1")
    (image_store.data_dir / folder / "orphan.png").write_bytes(b"2")
    assert image_store.remove_patient_tree(PATIENT) == 2
    assert not (image_store.images_dir / PATIENT).exists()


def test_thumbnails_live_outside_the_image_tree(image_store):
    image_id = str(uuid.uuid4())
    path = image_store.write_thumbnail(image_id, b"jpeg")
    assert image_store.images_dir not in path.parents
    assert path == image_store.thumbnail_path(image_id)
    image_store.remove_thumbnail(image_id)
    assert not path.exists()


def test_file_name_index_finds_files_and_learns_new_ones(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "scan.png").write_bytes(b"1")
    index = FileNameIndex([root], stale_after=3600)
    assert index.lookup("scan.png") == [root / "a" / "b" / "scan.png"]
    late = root / "late.png"
    late.write_bytes(b"2")
    assert index.lookup("late.png") == []  # not re-walked on every miss
    index.add(late)
    assert index.lookup("late.png") == [late]
    os.remove(late)
    assert index.lookup("late.png") == []


def test_file_name_index_rewalks_on_a_miss_once_stale(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    index = FileNameIndex([root], stale_after=0)
    assert index.lookup("x.png") == []
    (root / "x.png").write_bytes(b"1")
    assert index.lookup("x.png") == [root / "x.png"]


def test_without_hard_links_names_are_reserved_exclusively(image_store, monkeypatch):
    def no_links(_src, _dst):
        raise OSError("hard links not supported on this share")

    monkeypatch.setattr(storage.os, "link", no_links)
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1_700_000_000_000_000_000)
    folder = image_folder(PATIENT, "4", "before")
    first = image_store.write_new(folder, "a.png", "png", b"first")
    second = image_store.write_new(folder, "a.png", "png", b"second")
    assert first != second
    assert (image_store.data_dir / folder / first).read_bytes() == b"first"
    assert (image_store.data_dir / folder / second).read_bytes() == b"second"
    assert [p.name for p in (image_store.data_dir / folder).iterdir() if p.suffix == ".part"] == []
