"""Encrypted backups over HTTP: the passphrase set (typed twice, the loss understood), a backup
that asks for it where this PC keeps none, verify and restore that ask for it, and the printable
recovery sheet, which never shows it."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from backend.usecases import patients
from tests.backend.test_backup_api import finished
from tests.backup_data import populate, state_of

SECRET = "olive tree by the sea 42"


@pytest.fixture
def no_keyring():
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def set_secret(client) -> dict:
    answer = client.put(
        "/api/backup/passphrase",
        json={"passphrase": SECRET, "confirm": SECRET, "understood": True},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_the_passphrase_is_set_only_typed_twice_and_with_the_loss_understood(client):
    body = {"passphrase": SECRET, "confirm": SECRET}
    unconfirmed = client.put("/api/backup/passphrase", json=body)
    assert unconfirmed.status_code == 400
    assert unconfirmed.get_json()["error"]["field"] == "understood"
    differ = client.put(
        "/api/backup/passphrase", json={**body, "confirm": SECRET + "!", "understood": True}
    )
    assert differ.status_code == 400 and differ.get_json()["error"]["field"] == "confirm"
    assert client.get("/api/backup").get_json()["encryption"]["encrypted"] is False

    status = set_secret(client)

    assert status["encryption"] == {"encrypted": True, "kept_here": True, "store_usable": True}
    assert SECRET not in str(status)
    removed = client.delete("/api/backup/passphrase", json={"current": "not the phrase at all"})
    assert removed.status_code == 400
    assert removed.get_json()["error"]["code"] == "wrong_passphrase"
    assert client.delete("/api/backup/passphrase", json={"current": SECRET}).status_code == 200
    assert client.get("/api/backup").get_json()["encryption"]["encrypted"] is False


def test_a_backup_by_hand_asks_for_the_passphrase_where_the_pc_keeps_none(
    client, runtime, no_keyring
):
    populate(runtime, patients_count=1)
    set_secret(client)

    asked = client.post("/api/backups", json={})
    assert asked.status_code == 400
    assert asked.get_json()["error"]["code"] == "passphrase_needed"
    wrong = client.post("/api/backups", json={"passphrase": "not the phrase at all"})
    assert wrong.get_json()["error"]["code"] == "wrong_passphrase"
    assert "The passphrase is wrong" in wrong.get_json()["error"]["message"]
    assert not list(runtime.settings.backups_dir.glob("*.zip"))

    job = finished(client, client.post("/api/backups", json={"passphrase": SECRET}))

    assert job["state"] == "done" and job["result"]["encrypted"] is True
    with zipfile.ZipFile(job["result"]["path"]) as archive:
        assert all(info.flag_bits & 0x1 for info in archive.infolist())


def test_verify_preview_and_restore_ask_for_the_passphrase(client, runtime):
    populate(runtime, patients_count=2)
    set_secret(client)
    made = finished(client, client.post("/api/backups", json={}))  # the PC keeps it
    assert made["state"] == "done" and made["result"]["encrypted"] is True
    path = made["result"]["path"]
    before = state_of(runtime)
    with runtime.sessions() as session:
        for patient in patients.search_patients(session):
            patients.delete_patient(session, runtime.store, patient.id)

    for url in ("/api/backups/verify", "/api/restore/preview"):
        missing = finished(client, client.post(url, json={"path": path}))
        assert missing["state"] == "failed"
        assert missing["error"]["code"] == "passphrase_needed", missing["error"]
        wrong = finished(
            client, client.post(url, json={"path": path, "passphrase": "not the phrase at all"})
        )
        assert wrong["error"]["code"] == "wrong_passphrase"
        assert "The passphrase is wrong" in wrong["error"]["message"]
    verified = finished(
        client, client.post("/api/backups/verify", json={"path": path, "passphrase": SECRET})
    )
    assert verified["result"]["ok"] is True and verified["result"]["encrypted"] is True
    preview = finished(
        client, client.post("/api/restore/preview", json={"path": path, "passphrase": SECRET})
    )
    assert preview["result"]["backup"]["counts"]["patients"] == 2

    job = finished(
        client,
        client.post("/api/restore", json={"path": path, "confirm": True, "passphrase": SECRET}),
    )

    assert job["state"] == "done", job["error"]
    assert state_of(runtime) == before


def test_a_tampered_backup_fails_the_preview_as_damaged(client, runtime):
    populate(runtime, patients_count=1)
    set_secret(client)
    path = Path(finished(client, client.post("/api/backups", json={}))["result"]["path"])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("database.sqlite")
    data[info.header_offset + 200] ^= 0x01
    path.write_bytes(bytes(data))

    job = finished(
        client, client.post("/api/restore/preview", json={"path": str(path), "passphrase": SECRET})
    )

    assert job["state"] == "failed" and job["error"]["code"] == "backup_invalid"
    assert "damaged" in job["error"]["message"]


def test_the_recovery_sheet_names_the_clinic_and_7zip_and_never_the_passphrase(client):
    client.patch("/api/backup/settings", json={"clinic": "عيادة النور", "schedule": "off"})
    set_secret(client)

    page = client.get("/api/backup/recovery-sheet")

    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "عيادة النور" in text and "7z x" in text and "7-Zip" in text
    assert "A lost passphrase means a lost backup" in text
    assert SECRET not in text


def test_the_list_says_which_backups_are_encrypted_database_only_or_not_ours(client, runtime):
    """What a zip is, read from its directory without its passphrase: the list marks each."""
    populate(runtime, patients_count=1)
    folder = runtime.settings.backups_dir
    full = finished(client, client.post("/api/backups", json={}))["result"]["name"]
    time.sleep(1.1)  # backup names carry the second
    database_only = finished(client, client.post("/api/backups", json={"include_images": False}))
    time.sleep(1.1)
    set_secret(client)
    encrypted = finished(client, client.post("/api/backups", json={}))["result"]["name"]
    with zipfile.ZipFile(folder / "earlier-app.zip", "w") as legacy:
        legacy.writestr("dental_clinic.db", b"SQLite format 3\x00")
    (folder / "cut-short.zip").write_bytes(b"PK\x03\x04 cut while copying")

    listed = {b["name"]: b for b in client.get("/api/backups").get_json()["backups"]}

    facts = {
        name: (b["contents"], b["encrypted"], b["includes_images"]) for name, b in listed.items()
    }
    assert facts == {
        full: ("backup", False, True),
        database_only["result"]["name"]: ("backup", False, False),
        encrypted: ("backup", True, True),
        "earlier-app.zip": ("legacy-zip", False, True),
        "cut-short.zip": ("broken-zip", False, True),
    }
