import logging
import shutil

import pytest

from backend.errors import ImageMissing
from backend.storage import legacy_patient_folder
from backend.usecases.images import Upload, add_images
from backend.usecases.retrieval import locate_image, thumbnail_file
from tests.helpers import image_bytes


@pytest.fixture
def stored(session, store, patient):
    [result] = add_images(
        session, store, patient.id, "14", "xray", [Upload("scan.png", image_bytes("PNG"))]
    )
    return result.image


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
    expected = settings.data_dir / stored.relative_path
    wrong = settings.images_dir / patient.id / "15" / "before"
    wrong.mkdir(parents=True)
    data = expected.read_bytes()
    store.find_by_name("warm-the-index")
    shutil.move(expected, wrong / stored.file_name)
    store._name_index.invalidate()
    found = locate_image(session, store, stored)
    session.refresh(stored)
    assert found.read_bytes() == data
    assert found == settings.data_dir / stored.relative_path
    assert not (wrong / stored.file_name).exists()


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
