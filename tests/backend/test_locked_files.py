"""An image whose file another program keeps open (Windows: WinError 32 on rename and delete,
for every name of the file, hard links included). Simulated here by making the file system
refuse to rename or delete that file: the delete or move is refused with 409 and what to do,
the rows are as they were, and no copy or `.part` file is left; a file let go of within the
bounded wait is moved or deleted as usual."""

from __future__ import annotations

import errno
import os

import pytest

from backend import fileio
from backend.models import Image
from tests.backend.test_api import new_patient, upload
from tests.helpers import disk_snapshot, image_bytes


class _OpenElsewhere:
    """Windows' refusal of a held file: any rename or delete of any name of it, for the first
    `refusals` attempts (None: until the test ends)."""

    def __init__(self, monkeypatch, path, refusals: int | None = None) -> None:
        held = os.stat(path)
        self.identity = (held.st_dev, held.st_ino)
        self.refusals = refusals
        self.refused = 0
        real_rename, real_unlink = os.rename, os.unlink

        def rename(source, target, *args, **kwargs):
            self._check(source)
            return real_rename(source, target, *args, **kwargs)

        def unlink(path, *args, **kwargs):
            self._check(path)
            return real_unlink(path, *args, **kwargs)

        monkeypatch.setattr(fileio.os, "rename", rename)
        monkeypatch.setattr(fileio.os, "unlink", unlink)
        monkeypatch.setattr(fileio, "RETRY_SECONDS", 0.2)
        monkeypatch.setattr(fileio, "RETRY_PAUSE", 0.01)

    def _check(self, path) -> None:
        try:
            stat = os.stat(path)
        except OSError:
            return
        if (stat.st_dev, stat.st_ino) != self.identity:
            return
        if self.refusals is not None and self.refused >= self.refusals:
            return
        self.refused += 1
        exc = PermissionError(errno.EACCES, "being used by another process", os.fspath(path))
        exc.winerror = 32
        raise exc


@pytest.fixture
def stored(client, settings):
    patient = new_patient(client)
    response = upload(client, patient["id"], "3", ("scan.png", image_bytes("PNG")))
    assert response.status_code == 201
    image = response.get_json()["results"][0]["image"]
    return image, settings.data_dir / image["folder_path"] / image["file_name"]


def _row(session, image_id):
    session.expire_all()
    row = session.get(Image, image_id)
    return None if row is None else (row.tooth, row.folder_path, row.file_name)


def test_deleting_a_file_open_elsewhere_is_refused_and_changes_nothing(
    client, session, settings, stored, monkeypatch
):
    image, path = stored
    before_row, before_disk = _row(session, image["id"]), disk_snapshot(settings.data_dir)
    _OpenElsewhere(monkeypatch, path)

    response = client.delete(f"/api/images/{image['id']}")

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "file_in_use"
    assert "open in another program" in error["message"] and "try again" in error["message"]
    assert _row(session, image["id"]) == before_row
    assert disk_snapshot(settings.data_dir) == before_disk


def test_moving_a_file_open_elsewhere_is_refused_and_leaves_no_copy_or_part_file(
    client, session, settings, stored, monkeypatch
):
    image, path = stored
    before_row, before_disk = _row(session, image["id"]), disk_snapshot(settings.data_dir)
    _OpenElsewhere(monkeypatch, path)

    response = client.patch(f"/api/images/{image['id']}", json={"tooth": "4"})

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "file_in_use"
    assert _row(session, image["id"]) == before_row
    assert disk_snapshot(settings.data_dir) == before_disk  # no orphan copy, no .part


def test_a_file_let_go_of_within_the_wait_is_moved_and_then_deleted(
    client, session, settings, stored, monkeypatch
):
    image, path = stored
    held = _OpenElsewhere(monkeypatch, path, refusals=3)

    moved = client.patch(f"/api/images/{image['id']}", json={"tooth": "4"})

    assert moved.status_code == 200 and held.refused == 3
    tooth, folder, name = _row(session, image["id"])
    assert tooth == "4" and (settings.data_dir / folder / name).is_file()
    assert not path.exists()
    held.refused = 0
    assert client.delete(f"/api/images/{image['id']}").status_code == 200
    _tooth, trash_folder, trash_name = _row(session, image["id"])
    assert trash_folder.startswith("dental_images/.trash/")
    assert (settings.data_dir / trash_folder / trash_name).is_file()
    assert not (settings.data_dir / folder / name).exists()
    assert client.post("/api/trash/empty", json={"confirm": True}).status_code == 200
    assert _row(session, image["id"]) is None
    assert not (settings.data_dir / trash_folder / trash_name).exists()


def test_a_patient_or_a_trashed_image_whose_file_is_open_elsewhere_stays_where_it_is(
    client, session, settings, stored, monkeypatch
):
    image, path = stored
    before_row, before_disk = _row(session, image["id"]), disk_snapshot(settings.data_dir)
    held = _OpenElsewhere(monkeypatch, path)
    response = client.delete(f"/api/patients/{image['patient_id']}")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "file_in_use"
    assert _row(session, image["id"]) == before_row
    assert disk_snapshot(settings.data_dir) == before_disk
    assert client.get(f"/api/patients/{image['patient_id']}").status_code == 200

    held.refusals = 0  # let go of
    assert client.delete(f"/api/images/{image['id']}").status_code == 200
    _tooth, folder, name = _row(session, image["id"])
    _OpenElsewhere(monkeypatch, settings.data_dir / folder / name)
    in_trash = disk_snapshot(settings.data_dir)
    refused = client.post(f"/api/trash/images/{image['id']}/restore", json={})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "file_in_use"
    assert _row(session, image["id"]) == (_tooth, folder, name)
    assert disk_snapshot(settings.data_dir) == in_trash
