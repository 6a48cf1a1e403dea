"""The earlier app's program folder, where its later versions kept their images, is found on a
Windows PC without being named: from its installer's uninstall entry, else its default folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from backend.legacy.installed_app import PRODUCT, UNINSTALL_KEY, install_folders
from backend.legacy.source import import_roots
from backend.migration.importer import open_source, preview

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "legacy-samples"


def test_the_recorded_install_location_comes_first_then_the_default_folders(tmp_path):
    chosen = tmp_path / "D" / "Clinic software"
    default = tmp_path / "Program Files" / PRODUCT
    chosen.mkdir(parents=True)
    default.mkdir(parents=True)
    entries = [
        ("Another program", str(tmp_path)),
        (f"{PRODUCT} 1.0.3", f'"{chosen}"'),  # installers quote it at times
        (f"{PRODUCT} 1.0.3", str(chosen)),  # the same folder twice (both registry views)
        (PRODUCT, str(tmp_path / "uninstalled since")),  # gone: not a place to look
    ]
    environ = {"ProgramFiles": str(tmp_path / "Program Files"), "ProgramFiles(x86)": ""}
    found = install_folders(lambda: entries, environ, windows=True)
    assert found == [chosen, default]


def test_nothing_is_looked_for_elsewhere_than_windows(tmp_path):
    (tmp_path / PRODUCT).mkdir()
    reader_called = []
    found = install_folders(
        lambda: reader_called.append(True) or [], {"ProgramFiles": str(tmp_path)}, windows=False
    )
    assert found == [] and reader_called == []


@pytest.mark.skipif(os.name != "nt", reason="the Windows registry (the Windows suite runs this)")
@pytest.mark.skipif(not SAMPLES.is_dir(), reason="the earlier app's sample data is not there")
def test_an_import_finds_the_images_in_the_folder_the_installer_recorded(tmp_path):
    """A real uninstall entry in this Windows user's registry names the program folder; the
    per-user folder alone is then enough for every image of the later versions to be found."""
    import winreg

    case = tmp_path / "late"
    shutil.copytree(SAMPLES / "late", case)
    program = tmp_path / "Clinic programs" / "DentalClinic"
    shutil.copytree(case / "install", program)
    key = f"{UNINSTALL_KEY}\\dental-images-test-{os.getpid()}"
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, key) as entry:
        winreg.SetValueEx(entry, "DisplayName", 0, winreg.REG_SZ, f"{PRODUCT} 1.0.3")
        winreg.SetValueEx(entry, "InstallLocation", 0, winreg.REG_SZ, str(program))
    try:
        assert program in install_folders()
        alone = preview(open_source(case / "userData"))
        found = preview(open_source(case / "userData", import_roots([], [])))
    finally:
        winreg.DeleteKey(winreg.HKEY_CURRENT_USER, key)
    assert alone.images_found < found.images_found
    assert found.images_missing == 0 and found.images_found > 0
    assert str(program) in [r for r in found.source.as_dict()["image_roots"]]
