"""The JS bridge with a fake native dialog: real files picked, real images opened."""

import base64
import enum
import json
import sys
import types

import pytest

from backend import bridge
from backend.bridge import BACKUP_FILE_TYPES, FOLDER, IMAGE_FILE_TYPES, OPEN, Bridge
from backend.usecases import images
from tests.helpers import image_bytes


class FakeDialog:
    """Answers every dialog with the paths it was given, and remembers what was asked."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, kind, *, allow_multiple=False, file_types=()):
        self.calls.append((kind, allow_multiple, tuple(file_types)))
        return self.answers.pop(0) if self.answers else []


@pytest.fixture
def opened(monkeypatch):
    """What the bridge asked the OS to open."""
    paths = []
    monkeypatch.setattr(bridge, "open_with_os", paths.append)
    return paths


def test_chosen_image_files_come_back_as_base64(runtime, tmp_path):
    png, jpg = image_bytes("PNG"), image_bytes("JPEG", (300, 200))
    (tmp_path / "صورة قبل.png").write_bytes(png)
    (tmp_path / "after.JPEG").write_bytes(jpg)
    dialog = FakeDialog([str(tmp_path / "صورة قبل.png"), str(tmp_path / "after.JPEG")])

    chosen = Bridge(runtime, dialog=dialog).choose_image_files()

    assert dialog.calls == [(OPEN, True, IMAGE_FILE_TYPES)]
    assert IMAGE_FILE_TYPES == (
        "Images (*.png;*.jpg;*.jpeg;*.webp;*.bmp;*.gif;*.tif;*.tiff;*.heic;*.heif)",
        "All files (*.*)",
    )
    assert [(c["name"], c["mime"], c["size_bytes"]) for c in chosen] == [
        ("صورة قبل.png", "image/png", len(png)),
        ("after.JPEG", "image/jpeg", len(jpg)),
    ]
    assert base64.b64decode(chosen[0]["data_base64"]) == png
    assert base64.b64decode(chosen[1]["data_base64"]) == jpg
    json.dumps(chosen)


def test_cancelled_dialog_gives_an_empty_list(runtime):
    assert Bridge(runtime, dialog=FakeDialog([])).choose_image_files() == []


def test_oversized_and_unreadable_files_come_back_with_an_error(runtime, tmp_path):
    big = tmp_path / "scan.tif"
    with open(big, "wb") as handle:
        handle.truncate(70 * 1024 * 1024)  # sparse: 70 MB without writing them
    small = tmp_path / "ok.gif"
    small.write_bytes(image_bytes("GIF"))
    dialog = FakeDialog([str(big), str(tmp_path / "gone.png"), str(small)])

    too_big, gone, fine = Bridge(runtime, dialog=dialog).choose_image_files()

    assert "data_base64" not in too_big and "data_base64" not in gone
    assert too_big["name"] == "scan.tif" and too_big["mime"] == "image/tiff"
    assert too_big["size_bytes"] == 70 * 1024 * 1024
    assert too_big["error"] == "The file is larger than 64.0 MB, the most one image may be."
    assert gone["error"] == "The file cannot be read."
    assert base64.b64decode(fine["data_base64"]) == small.read_bytes()
    assert "error" not in fine


def test_a_file_at_the_limit_is_returned(runtime, tmp_path, monkeypatch):
    monkeypatch.setattr(bridge, "MAX_FILE_BYTES", 100)
    (tmp_path / "a.bmp").write_bytes(b"B" * 100)
    (tmp_path / "b.bmp").write_bytes(b"B" * 101)
    dialog = FakeDialog([str(tmp_path / "a.bmp"), str(tmp_path / "b.bmp")])
    at_limit, over = Bridge(runtime, dialog=dialog).choose_image_files()
    assert base64.b64decode(at_limit["data_base64"]) == b"B" * 100
    assert over["size_bytes"] == 101 and "error" in over


def test_a_dicom_file_has_the_larger_dicom_limit(runtime, tmp_path, monkeypatch):
    """A CBCT export may exceed a photo's limit: a file with the DICM mark (with or without
    its extension) is held to the DICOM limit, anything else to the photo limit."""
    monkeypatch.setattr(bridge, "MAX_FILE_BYTES", 200)
    monkeypatch.setattr(bridge, "MAX_DICOM_BYTES", 400)
    dicom = bytes(128) + b"DICM" + b"D" * 268  # 400 bytes
    (tmp_path / "scan.dcm").write_bytes(dicom)
    (tmp_path / "SCAN0001").write_bytes(dicom)  # as sensors name them: no extension
    (tmp_path / "photo.jpg").write_bytes(b"J" * 300)
    (tmp_path / "big.dcm").write_bytes(dicom + b"D")
    names = ("scan.dcm", "SCAN0001", "photo.jpg", "big.dcm")
    dialog = FakeDialog([str(tmp_path / n) for n in names])
    scan, bare, photo, big = Bridge(runtime, dialog=dialog).choose_image_files()
    assert base64.b64decode(scan["data_base64"]) == dicom
    assert base64.b64decode(bare["data_base64"]) == dicom
    assert "error" in photo and "data_base64" not in photo
    assert big["size_bytes"] == 401 and "error" in big


def test_choose_folder_and_backup_file(runtime, tmp_path):
    dialog = FakeDialog([str(tmp_path)], [], [str(tmp_path / "backup.zip")], [])
    api = Bridge(runtime, dialog=dialog)
    assert api.choose_folder() == str(tmp_path)
    assert api.choose_folder() is None
    assert api.choose_backup_file() == str(tmp_path / "backup.zip")
    assert api.choose_backup_file() is None
    assert dialog.calls[0] == (FOLDER, False, ())
    assert dialog.calls[2] == (OPEN, False, BACKUP_FILE_TYPES)
    assert "*.zip;*.db;*.json" in BACKUP_FILE_TYPES[0]


def test_open_image_opens_the_real_file(runtime, session, store, patient, opened):
    [result] = images.add_images(
        session, store, patient.id, "3", "xray", [images.Upload("pa.png", image_bytes("PNG"))]
    )
    assert Bridge(runtime, dialog=FakeDialog()).open_image(result.image.id) is True
    assert opened == [store.path_of(result.image.relative_path)]
    assert opened[0].read_bytes() == image_bytes("PNG")


def test_open_image_is_false_for_unknown_or_missing_images(
    runtime, session, store, patient, opened
):
    [result] = images.add_images(
        session, store, patient.id, "3", "xray", [images.Upload("pa.png", image_bytes("PNG"))]
    )
    store.path_of(result.image.relative_path).unlink()
    api = Bridge(runtime, dialog=FakeDialog())
    assert api.open_image("no-such-image") is False
    assert api.open_image(result.image.id) is False
    assert opened == []


def test_folders_open_with_the_os(runtime, opened):
    api = Bridge(runtime, dialog=FakeDialog())
    assert api.open_log_folder() is True and api.reveal_data_folder() is True
    assert opened == [runtime.settings.logs_dir, runtime.settings.data_dir]


def test_an_os_that_cannot_open_gives_false(runtime, monkeypatch):
    def no_viewer(_path):
        raise FileNotFoundError("xdg-open")

    monkeypatch.setattr(bridge, "open_with_os", no_viewer)
    assert Bridge(runtime, dialog=FakeDialog()).open_log_folder() is False


def test_only_the_api_methods_are_public(runtime):
    api = Bridge(runtime, dialog=FakeDialog())
    public = {name for name in dir(api) if not name.startswith("_")}
    assert public == {
        "app_info",
        "reveal_data_folder",
        "choose_image_files",
        "choose_folder",
        "choose_backup_file",
        "open_image",
        "open_log_folder",
        "reopen_page",
    }
    assert all(callable(getattr(api, name)) for name in public)
    info = api.app_info()
    assert info["data_dir"] == str(runtime.settings.data_dir)
    json.dumps(info)


class _FileDialog(enum.IntEnum):
    OPEN = 10
    FOLDER = 20
    SAVE = 30


class _Window:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def create_file_dialog(self, dialog_type, **kwargs):
        self.calls.append((dialog_type, kwargs))
        return self.answer


def _fake_webview(monkeypatch, *windows):
    module = types.SimpleNamespace(FileDialog=_FileDialog, windows=list(windows))
    monkeypatch.setitem(sys.modules, "webview", module)


def test_default_dialog_uses_the_window_of_pywebview(monkeypatch):
    window = _Window(("/a/x.png", "/a/y.jpg"))
    _fake_webview(monkeypatch, window)
    chosen = bridge.pywebview_dialog(OPEN, allow_multiple=True, file_types=IMAGE_FILE_TYPES)
    assert chosen == ["/a/x.png", "/a/y.jpg"]
    assert window.calls == [
        (_FileDialog.OPEN, {"allow_multiple": True, "file_types": IMAGE_FILE_TYPES})
    ]
    window.answer = "/a/folder"
    assert bridge.pywebview_dialog(FOLDER) == ["/a/folder"]
    assert window.calls[-1][0] == _FileDialog.FOLDER


def test_default_dialog_cancelled_or_without_window_gives_nothing(monkeypatch):
    _fake_webview(monkeypatch, _Window(None))
    assert bridge.pywebview_dialog(OPEN) == []
    _fake_webview(monkeypatch)
    assert bridge.pywebview_dialog(FOLDER) == []


def test_reopen_page_loads_the_current_address_in_the_window(runtime):
    loaded = []
    addresses = iter(
        ["http://127.0.0.1:5001/first/?token=a", "http://127.0.0.1:5002/second/?token=b"]
    )
    window_bridge = Bridge(runtime, page_address=lambda: next(addresses), load_page=loaded.append)
    assert window_bridge.reopen_page() is True
    assert window_bridge.reopen_page() is True
    # the address of the server running at each call, not one remembered from the start
    assert loaded == [
        "http://127.0.0.1:5001/first/?token=a",
        "http://127.0.0.1:5002/second/?token=b",
    ]


def test_reopen_page_without_an_address_says_so(runtime):
    loaded = []
    assert Bridge(runtime, load_page=loaded.append).reopen_page() is False
    assert loaded == []
