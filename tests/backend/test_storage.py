import os
import threading
import time
import uuid

import pytest

from backend import fileio, storage
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
    try:
        (root / "link").symlink_to(outside)
    except OSError:
        pytest.skip("this account cannot make symbolic links (Windows without the privilege)")
    if not (root / "link").is_dir():
        pytest.skip("symbolic links are accepted but not made here (Wine)")
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
    assert not (image_store.data_dir / folder).exists()
    assert [p for p in image_store.images_dir.rglob("*") if p.is_file()] == []  # nor staged


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


class _PowerLoss(Exception):
    """Stands for the program dying at this point."""


def _crash(*_args, **_kwargs):
    raise _PowerLoss


def _no_links(_src, _dst):
    raise OSError("hard links not supported on this share")


def _final_names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_without_hard_links_on_windows_a_crash_leaves_nothing_under_a_final_name(
    image_store, monkeypatch
):
    monkeypatch.setattr(fileio, "RENAME_REFUSES_EXISTING", True, raising=False)
    monkeypatch.setattr(storage.os, "link", _no_links)
    monkeypatch.setattr(storage.os, "rename", _crash)
    monkeypatch.setattr(storage.os, "replace", _crash)
    folder = image_folder(PATIENT, "4", "before")
    with pytest.raises(_PowerLoss):
        image_store.write_new(folder, "a.png", "png", b"data")
    assert _final_names(image_store.data_dir / folder) == []


def test_without_hard_links_on_windows_the_rename_refuses_a_taken_name(image_store, monkeypatch):
    real_rename = os.rename

    def windows_rename(src, dst):
        if os.path.lexists(dst):
            raise FileExistsError(dst)
        real_rename(src, dst)

    def no_reservation(*_args, **_kwargs):
        raise AssertionError("no placeholder is needed where rename refuses a taken name")

    monkeypatch.setattr(fileio, "RENAME_REFUSES_EXISTING", True, raising=False)
    monkeypatch.setattr(storage.os, "link", _no_links)
    monkeypatch.setattr(storage.os, "rename", windows_rename)
    monkeypatch.setattr(storage.os, "replace", no_reservation)
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1_700_000_000_000_000_000)
    folder = image_folder(PATIENT, "4", "before")
    names = [image_store.write_new(folder, "a.png", "png", bytes([i])) for i in range(3)]
    assert names == ["a-1700000000000.png", "a-1700000000000-2.png", "a-1700000000000-3.png"]
    for i, name in enumerate(names):
        assert (image_store.data_dir / folder / name).read_bytes() == bytes([i])
    assert _final_names(image_store.data_dir / folder) == sorted(names)


def test_a_crash_after_reserving_a_name_leaves_an_empty_file_the_sweep_removes(
    image_store, monkeypatch
):
    monkeypatch.setattr(fileio, "RENAME_REFUSES_EXISTING", False, raising=False)
    monkeypatch.setattr(storage.os, "link", _no_links)
    monkeypatch.setattr(storage.os, "replace", _crash)
    monkeypatch.setattr(storage.time, "time_ns", lambda: 1_700_000_000_000_000_000)
    folder = image_folder(PATIENT, "4", "before")
    with pytest.raises(_PowerLoss):
        image_store.write_new(folder, "a.png", "png", b"data")
    monkeypatch.undo()
    [leftover] = (image_store.data_dir / folder).iterdir()
    relative = folder + leftover.name
    assert storage.is_leftover_reservation(leftover)
    assert image_store.find_by_name(leftover.name) == [leftover]  # retrieval skips empty files
    assert image_store.sweep_empty_reservations(lambda _r: False) == []  # too young
    hour_ago = time.time() - 3601
    os.utime(leftover, (hour_ago, hour_ago))
    assert image_store.sweep_empty_reservations(lambda r: r == relative) == []  # a row names it
    assert image_store.sweep_empty_reservations(lambda _r: False) == [relative]
    assert not (image_store.images_dir / PATIENT).exists()
    assert image_store.find_by_name(leftover.name) == []


def test_the_sweep_never_touches_files_with_bytes_or_outside_the_new_layout(image_store):
    folder = image_folder(PATIENT, "6", "xray")
    name = image_store.write_new(folder, "x.png", "png", b"1")
    legacy = image_store.images_dir / "Layla_Haddad" / "xray"
    legacy.mkdir(parents=True)
    (legacy / "empty.png").write_bytes(b"")
    writing = image_store.data_dir / folder / ".0123.part"
    writing.write_bytes(b"")
    hour_ago = time.time() - 3601
    for path in (image_store.data_dir / folder / name, legacy / "empty.png", writing):
        os.utime(path, (hour_ago, hour_ago))
    assert image_store.sweep_empty_reservations(lambda _r: False) == []
    assert (image_store.data_dir / folder / name).read_bytes() == b"1"
    assert (legacy / "empty.png").exists() and writing.exists()


def test_place_copy_takes_exactly_the_name_or_leaves_the_taken_one_alone(image_store, tmp_path):
    source = tmp_path / "scan.png"
    source.write_bytes(b"bytes")
    relative = image_folder(PATIENT, "12", "xray") + "scan-1.png"
    assert image_store.place_copy(source, relative) is True
    assert image_store.path_of(relative).read_bytes() == b"bytes"
    other = tmp_path / "other.png"
    other.write_bytes(b"other bytes")
    assert image_store.place_copy(other, relative) is False
    assert image_store.path_of(relative).read_bytes() == b"bytes"
    assert source.read_bytes() == b"bytes" and other.read_bytes() == b"other bytes"
    assert _final_names(image_store.path_of(relative).parent) == ["scan-1.png"]


def test_relative_of_names_files_of_our_tree_only(image_store, tmp_path):
    inside = image_store.images_dir / PATIENT / "1" / "xray" / "a.png"
    assert image_store.relative_of(inside) == f"dental_images/{PATIENT}/1/xray/a.png"
    assert image_store.relative_of(tmp_path / "elsewhere" / "a.png") is None


def test_a_copy_named_like_a_device_or_taken_in_another_case_gets_a_usable_new_name(
    image_store, tmp_path
):
    source = tmp_path / "scan.png"
    source.write_bytes(b"bytes")
    folder = image_folder(PATIENT, "8", "xray")
    assert image_store.copy_in(source, folder, "CON.png") == "_CON.png"
    assert image_store.copy_in(source, folder, "Scan.PNG") == "Scan.PNG"
    # "scan.PNG" is the same name as "Scan.PNG" on Windows and macOS
    assert image_store.copy_in(source, folder, "scan.PNG") == "scan-2.PNG"
