"""Archive entry names that are no file name on Windows are refused like the other reserved
names: one rule (backend.fileio.is_safe_file_name) for names we write and names we extract."""

from __future__ import annotations

import pytest

from backend.backup.archive_safety import name_problem
from backend.backup.create import create_backup
from backend.fileio import is_safe_file_name
from tests.backup_data import populate
from tests.reliability.test_hostile_archives import (
    assert_refused_and_nothing_changed,
    entry,
    rebuild,
)

NOT_ON_WINDOWS = [
    "a<b>c|d?e.jpg",
    'quote".jpg',
    "star*.png",
    "CONIN$.jpg",
    "conout$.png",
    "COM¹.jpg",
    "LPT².bmp",
    "com³",
    "COM0.jpg",
    "LPT0.tif",
    "aux.jpg",
    "NUL .png",
]


@pytest.mark.parametrize("name", NOT_ON_WINDOWS)
def test_a_name_windows_cannot_hold_is_refused_in_every_folder_part(name):
    assert not is_safe_file_name(name)
    for path in (f"dental_images/p/8/before/{name}", f"dental_images/{name}/x.jpg"):
        problem = name_problem(path)
        assert problem is not None and "not a valid file name on Windows" in problem, path


@pytest.fixture
def good(runtime):
    populate(runtime, patients_count=1, images_each=1)
    return create_backup(runtime, runtime.settings.backups_dir).path


@pytest.mark.parametrize("name", ["a<b>c|d?e.jpg", "CONIN$.jpg", "COM¹.jpg"])
def test_a_backup_holding_such_an_entry_is_refused_and_changes_nothing(
    runtime,
    good,
    tmp_path,
    name,
):
    archive = rebuild(good, tmp_path / "names.zip", [(entry(f"dental_images/{name}"), b"x")])
    assert_refused_and_nothing_changed(runtime, archive, "not a valid file name on Windows")


@pytest.mark.parametrize("name", ["COM10.jpg", "CONSOLE.png", "photo ¹.jpg", "آشعة.png", "a.b.jpg"])
def test_names_windows_accepts_still_pass(name):
    assert is_safe_file_name(name)
    assert name_problem(f"dental_images/p/8/before/{name}") is None
