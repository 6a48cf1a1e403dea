import contextlib
import logging
import os
import shutil
import threading
from pathlib import Path

import pytest

from backend import fileio, storage
from backend.config import LEGACY_ROOTS_ENV
from backend.errors import ImageMissing
from backend.models import Image
from backend.storage import file_sha256, image_folder, legacy_patient_folder
from backend.usecases import patients, retrieval
from backend.usecases.images import Upload, add_images
from backend.usecases.retrieval import locate_image, thumbnail_file
from tests.helpers import image_bytes


@pytest.fixture
def stored(session, store, patient):
    [result] = add_images(
        session, store, patient.id, "14", "xray", [Upload("scan.png", image_bytes("PNG"))]
    )
    return result.image


def misfile(settings, stored) -> tuple[Path, Path, bytes]:
    """Move the image's file into another tooth's folder (15/before), as misfiled by hand.
    Returns where the row expects it, the folder it is in now, and its bytes."""
    expected = settings.data_dir / stored.relative_path
    wrong = settings.images_dir / stored.patient_id / "15" / "before"
    wrong.mkdir(parents=True)
    data = expected.read_bytes()
    shutil.move(expected, wrong / stored.file_name)
    return expected, wrong, data


def test_the_new_layout_is_looked_at_first(session, store, stored, settings):
    assert locate_image(session, store, stored) == settings.data_dir / stored.relative_path


def test_a_file_in_the_legacy_name_layout_is_found_and_put_back(
    session, store, stored, settings, patient, caplog
):
    expected = settings.data_dir / stored.relative_path
    legacy = settings.images_dir / legacy_patient_folder(patient.full_name, patient.id) / "xray"
    legacy.mkdir(parents=True)
    data = expected.read_bytes()
    shutil.move(expected, legacy / stored.file_name)
    with caplog.at_level(logging.WARNING):
        found = locate_image(session, store, stored)
    assert found == expected and found.read_bytes() == data
    assert "legacy name-based layout" in caplog.text
    assert (legacy / stored.file_name).exists()  # legacy originals are the migration's to retire


def test_a_misplaced_file_is_found_by_name_and_the_row_corrected(
    session, store, stored, settings, patient
):
    store.find_by_name("warm-the-index")
    _expected, wrong, data = misfile(settings, stored)
    store._name_index.invalidate()
    found = locate_image(session, store, stored)
    session.refresh(stored)
    assert found.read_bytes() == data
    assert found == settings.data_dir / stored.relative_path
    assert not (wrong / stored.file_name).exists()


def test_a_misplaced_file_is_served_from_the_warm_name_index_and_logged(
    session, store, stored, settings, patient, caplog, monkeypatch
):
    expected, wrong, data = misfile(settings, stored)
    store.find_by_name("warm-the-index")  # the one walk, after the file went astray

    def no_rewalk():
        raise AssertionError("the warm index was walked again")

    monkeypatch.setattr(store._name_index, "_build", no_rewalk)
    with caplog.at_level(logging.WARNING, logger="backend.usecases.retrieval"):
        found = locate_image(session, store, stored)
    assert found == expected and found.read_bytes() == data
    assert not (wrong / stored.file_name).exists()  # a stray no row names, retired once verified
    [line] = [r.getMessage() for r in caplog.records if "found by" in r.getMessage()]
    assert f"image {stored.id} found by file-name search at {wrong / stored.file_name}" in line
    assert f"put back at {stored.relative_path}" in line and "verified" in line


def _twin_of(session, image, patient_id):
    """A row of another patient whose file has the same name and bytes as `image`'s."""
    folder = image_folder(patient_id, image.tooth, image.image_type)
    twin = Image(
        patient_id=patient_id,
        tooth=image.tooth,
        image_type=image.image_type,
        folder_path=folder,
        file_name=image.file_name,
        size_bytes=image.size_bytes,
        sha256=image.sha256,
        width=image.width,
        height=image.height,
        format=image.format,
    )
    session.add(twin)
    session.commit()
    return twin


def test_another_images_file_found_by_name_is_copied_and_never_taken_away(
    session, store, stored, settings, caplog
):
    other = patients.create_patient(session, {"full_name": "Omar Said"})
    twin = _twin_of(session, stored, other.id)
    expected = settings.data_dir / stored.relative_path
    twin_file = settings.data_dir / twin.relative_path
    twin_file.parent.mkdir(parents=True)
    data = expected.read_bytes()
    shutil.copyfile(expected, twin_file)
    expected.unlink()
    with caplog.at_level(logging.WARNING, logger="backend.usecases.retrieval"):
        assert locate_image(session, store, stored).read_bytes() == data
    assert twin_file.read_bytes() == data
    assert f"image {twin.id}'s file and stays" in caplog.text
    assert locate_image(session, store, twin) == twin_file
    assert locate_image(session, store, stored) == expected and expected.read_bytes() == data


def _first_call_per_thread_waits(barrier, real):
    seen = threading.local()

    def wrapper(*args, **kwargs):
        if not getattr(seen, "done", False):
            seen.done = True
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=1)
        return real(*args, **kwargs)

    return wrapper


def test_two_requests_for_one_missing_image_put_it_back_once(
    runtime, store, stored, settings, patient, monkeypatch
):
    expected, _wrong, data = misfile(settings, stored)
    barrier = threading.Barrier(2)
    monkeypatch.setattr(
        retrieval, "file_sha256", _first_call_per_thread_waits(barrier, file_sha256)
    )
    image_id, results, errors = stored.id, [], []

    def fetch():
        try:
            with runtime.sessions() as own:
                results.append(locate_image(own, store, own.get(Image, image_id)))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [expected, expected] and expected.read_bytes() == data
    assert sorted(p.name for p in expected.parent.iterdir()) == [stored.file_name]
    with runtime.sessions() as fresh:
        assert fresh.get(Image, image_id).relative_path == stored.relative_path


def test_a_copy_another_pc_put_back_at_the_same_moment_counts_as_success(
    session, store, stored, settings, patient, monkeypatch
):
    expected, wrong, data = misfile(settings, stored)
    real_publish = storage._publish

    def the_other_pc_wins(temp, final):
        if final == expected and not final.exists():
            final.write_bytes(data)  # the other PC published the same bytes under the name
            (wrong / stored.file_name).unlink()  # ... and retired the stray
        return real_publish(temp, final)

    monkeypatch.setattr(storage, "_publish", the_other_pc_wins)
    assert locate_image(session, store, stored) == expected
    session.refresh(stored)
    assert stored.relative_path == image_folder(patient.id, "14", "xray") + expected.name
    assert sorted(p.name for p in expected.parent.iterdir()) == [expected.name]
    assert expected.read_bytes() == data


def test_a_source_that_vanishes_while_being_put_back_is_no_server_error(
    client, session, stored, settings, patient, monkeypatch
):
    expected, _wrong, data = misfile(settings, stored)
    real_sha = retrieval.file_sha256

    def the_other_pc_finishes_first(path):
        digest = real_sha(path)
        if not expected.exists():  # right after the candidate was picked
            shutil.copyfile(path, expected)
            path.unlink()
        return digest

    monkeypatch.setattr(retrieval, "file_sha256", the_other_pc_finishes_first)
    response = client.get(f"/images/{stored.id}/file")
    assert response.status_code == 200 and response.data == data
    assert sorted(p.name for p in expected.parent.iterdir()) == [expected.name]


def test_without_a_checksum_the_copy_is_verified_against_the_source_before_anything_goes(
    session, store, stored, settings, patient, monkeypatch
):
    stored.sha256 = ""
    session.commit()
    expected, wrong, data = misfile(settings, stored)

    def no_links(_src, _dst):
        raise OSError("no hard links here")

    def bad_copy(src, dst):
        Path(dst).write_bytes(Path(src).read_bytes()[:-10])  # a copy that lost its tail

    monkeypatch.setattr(storage.os, "link", no_links)
    monkeypatch.setattr(fileio.shutil, "copyfile", bad_copy)
    with pytest.raises(ImageMissing, match="did not verify"):
        locate_image(session, store, stored)
    assert (wrong / stored.file_name).read_bytes() == data
    assert not expected.parent.exists() or list(expected.parent.iterdir()) == []


def test_without_a_checksum_the_row_gets_the_verified_one(
    session, store, stored, settings, patient
):
    digest = stored.sha256
    stored.sha256 = ""
    session.commit()
    expected, _wrong, _data = misfile(settings, stored)
    assert locate_image(session, store, stored) == expected
    session.refresh(stored)
    assert stored.sha256 == digest == file_sha256(expected)


def test_an_empty_leftover_under_the_rows_name_is_not_served(
    session, store, stored, settings, patient
):
    expected, _wrong, data = misfile(settings, stored)
    expected.write_bytes(b"")  # the reservation of a put-back that crashed
    found = locate_image(session, store, stored)
    session.refresh(stored)
    assert found.read_bytes() == data and found != expected
    assert found == settings.data_dir / stored.relative_path
    assert expected.read_bytes() == b""  # never overwritten; the start-up sweep's to remove


@pytest.fixture
def legacy_root(tmp_path, monkeypatch):
    root = tmp_path / "earlier app"
    root.mkdir()
    monkeypatch.setenv(LEGACY_ROOTS_ENV, str(root))
    return root.resolve()


@pytest.mark.parametrize(
    ("where", "how"),
    [
        ("dental_images/Layla_Haddad/xray", "legacy name-based layout"),
        ("photos/2019/somewhere", "file-name search"),
    ],
)
def test_a_file_only_under_a_legacy_root_is_copied_back_and_the_original_kept(
    legacy_root, session, store, stored, settings, caplog, where, how
):
    assert store.extra_roots == (legacy_root,)
    expected = settings.data_dir / stored.relative_path
    original = legacy_root / where / stored.file_name
    original.parent.mkdir(parents=True)
    data = expected.read_bytes()
    shutil.move(expected, original)
    before = os.stat(original)
    with caplog.at_level(logging.WARNING, logger="backend.usecases.retrieval"):
        found = locate_image(session, store, stored)
    assert found == expected and found.read_bytes() == data
    session.refresh(stored)
    assert stored.sha256 == file_sha256(expected) == file_sha256(original)
    assert original.read_bytes() == data and os.stat(original).st_mtime_ns == before.st_mtime_ns
    assert f"found by {how} at {original}" in caplog.text
    assert "left for the migration" in caplog.text


def test_a_same_named_file_with_other_bytes_is_not_taken(session, store, stored, settings, patient):
    expected = settings.data_dir / stored.relative_path
    decoy = settings.images_dir / patient.id / "2" / "other"
    decoy.mkdir(parents=True)
    (decoy / stored.file_name).write_bytes(image_bytes("PNG", color=(1, 2, 3)))
    expected.unlink()
    store._name_index.invalidate()
    with pytest.raises(ImageMissing):
        locate_image(session, store, stored)


def test_a_missing_file_raises_image_missing_with_the_expected_path(
    session, store, stored, settings
):
    (settings.data_dir / stored.relative_path).unlink()
    with pytest.raises(ImageMissing) as caught:
        locate_image(session, store, stored)
    assert caught.value.expected_path == stored.relative_path
    assert caught.value.to_dict()["code"] == "image_missing"


def test_a_missing_thumbnail_is_rebuilt(session, store, stored):
    path = store.thumbnail_path(stored.id)
    path.unlink()
    assert thumbnail_file(session, store, stored) == path
    assert path.stat().st_size > 0


def test_a_cached_thumbnail_of_a_lost_original_raises_image_missing(
    session, store, stored, settings
):
    assert store.thumbnail_path(stored.id).is_file()
    (settings.data_dir / stored.relative_path).unlink()
    with pytest.raises(ImageMissing) as caught:
        thumbnail_file(session, store, stored)
    assert caught.value.expected_path == stored.relative_path


def test_a_cached_thumbnail_is_served_once_a_misplaced_original_is_put_back(
    session, store, stored, settings, patient
):
    thumbnail = store.thumbnail_path(stored.id)
    _expected, _wrong, _data = misfile(settings, stored)
    store._name_index.invalidate()
    assert thumbnail_file(session, store, stored) == thumbnail
    assert (settings.data_dir / stored.relative_path).is_file()
