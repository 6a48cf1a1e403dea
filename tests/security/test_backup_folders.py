"""Backup files are served only from the backup folders themselves (a link in them leads
nowhere), and a backup folder may not lie in the data tree, where a restore would replace it
and a backup copy it into itself."""

from __future__ import annotations

import os

import pytest

from backend.backup.create import create_backup
from backend.backup.service import run_backup
from backend.backup.state import remember_folder
from backend.db import session_scope
from backend.errors import AppError
from backend.jobs import Progress


def test_a_link_in_the_backup_folder_is_not_served(runtime, client, tmp_path):
    backups = runtime.settings.backups_dir
    secret = runtime.settings.data_dir / "config.json"
    secret.write_text('{"db_password": "hunter2"}', encoding="utf-8")
    os.symlink(secret, backups / "evil.zip")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "inner.zip").write_bytes(b"PK not ours")
    os.symlink(outside, backups / "linked")

    response = client.get("/api/backups/evil.zip/download")

    assert response.status_code == 403
    assert b"hunter2" not in response.data
    assert "link" in response.get_json()["error"]["message"]
    listed = [b["name"] for b in client.get("/api/backups").get_json()["backups"]]
    assert "evil.zip" not in listed


def test_a_backup_in_a_linked_remembered_folder_is_still_served(runtime, client, tmp_path):
    real = tmp_path / "disk"
    real.mkdir()
    linked = tmp_path / "backups-link"
    os.symlink(real, linked)
    archive = create_backup(runtime, real).path
    with session_scope(runtime.sessions) as session:
        remember_folder(session, str(linked))

    response = client.get(f"/api/backups/{archive.name}/download")

    assert response.status_code == 200 and response.data == archive.read_bytes()


def data_tree(settings) -> list:
    return [
        settings.data_dir,
        settings.images_dir,
        settings.images_dir / "p" / "8",
        settings.thumbnails_dir,
        settings.data_dir / "logs",
    ]


@pytest.mark.parametrize("index", range(5))
def test_a_backup_folder_in_the_data_tree_is_refused_when_chosen(runtime, client, index):
    folder = data_tree(runtime.settings)[index]
    folder.mkdir(parents=True, exist_ok=True)
    before = client.get("/api/backup").get_json()["folder"]

    saved = client.patch("/api/backup/settings", json={"folder": str(folder), "schedule": "daily"})
    started = client.post("/api/backups", json={"folder": str(folder)})

    for response in (saved, started):
        assert response.status_code == 400, response.get_json()
        error = response.get_json()["error"]
        assert error["field"] == "folder" and "data folder" in error["message"]
        assert "Choose a folder outside it" in error["message"]
    assert client.get("/api/backup").get_json()["folder"] == before
    assert not list(folder.glob("*.zip"))


def test_a_data_tree_folder_remembered_earlier_is_refused_at_backup_time(runtime):
    with session_scope(runtime.sessions) as session:
        remember_folder(session, str(runtime.settings.images_dir))
    with pytest.raises(AppError) as caught:
        run_backup(runtime, Progress())
    assert "data folder" in caught.value.message
    assert not list(runtime.settings.images_dir.rglob("*.zip"))


def test_the_default_backups_folder_and_an_outside_folder_are_accepted(runtime, client, tmp_path):
    outside = tmp_path / "usb"
    outside.mkdir()
    for folder in (runtime.settings.backups_dir, outside):
        response = client.patch("/api/backup/settings", json={"folder": str(folder)})
        assert response.status_code == 200, response.get_json()
