"""Backup and restore over HTTP: jobs started and polled, the schedule, the backup list and its
downloads, a restore from an uploaded file, and requests refused while data is swapped in."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

from backend.startup import open_runtime
from backend.usecases import patients
from tests.backup_data import populate


def finished(client, started) -> dict:
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    deadline = time.monotonic() + 60
    while job["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").get_json()
    return job


def test_back_up_through_the_api_and_download_the_file(client, runtime):
    populate(runtime, patients_count=1)
    job = finished(client, client.post("/api/backups", json={}))

    assert job["state"] == "done" and job["kind"] == "backup"
    result = job["result"]
    assert result["backup"]["counts"]["images"] == 3
    listed = client.get("/api/backups").get_json()["backups"]
    assert [b["name"] for b in listed] == [result["name"]]
    download = client.get(listed[0]["download_url"])
    assert download.status_code == 200
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == (runtime.settings.backups_dir / result["name"]).read_bytes()
    status = client.get("/api/backup").get_json()
    assert status["last_success"]["path"] == result["path"] and status["warning"] is None


def test_downloads_serve_backup_files_only(client, runtime):
    (runtime.settings.backups_dir / ".hidden.zip").write_bytes(b"x")
    (runtime.settings.backups_dir / "restore-in-progress.json").write_bytes(b"{}")
    for name in (".hidden.zip", "restore-in-progress.json", "dental.db", "..%2Fdental.db", "x.zip"):
        response = client.get(f"/api/backups/{name}/download")
        assert response.status_code == 404, name
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_chosen_folder_is_remembered_and_its_backups_listed(client, runtime, tmp_path):
    populate(runtime, patients_count=1)
    folder = tmp_path / "usb disk"
    folder.mkdir()
    job = finished(client, client.post("/api/backups", json={"folder": str(folder)}))
    assert job["result"]["folder"] == str(folder)
    assert client.get("/api/backup").get_json()["folder"] == str(folder)
    listed = client.get("/api/backups").get_json()["backups"]
    assert listed[0]["folder"] == str(folder)
    assert client.get(listed[0]["download_url"]).status_code == 200


def test_a_backup_into_a_missing_folder_fails_with_what_to_do(client, tmp_path):
    job = finished(client, client.post("/api/backups", json={"folder": str(tmp_path / "E")}))
    assert job["state"] == "failed"
    assert job["error"]["code"] == "folder_not_usable" and job["error"]["field"] == "folder"
    assert "Connect the disk" in job["error"]["message"]


def test_schedule_settings_are_checked_and_the_warning_follows_them(client, runtime):
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Someone"})
    bad = client.patch("/api/backup/settings", json={"schedule": "daily", "time": "25:00"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "time"
    saved = client.patch(
        "/api/backup/settings", json={"schedule": "daily", "time": "18:30", "keep": "5"}
    ).get_json()
    assert saved["settings"]["schedule"] == "daily" and saved["settings"]["keep"] == 5
    assert "No backup has been made yet" in saved["warning"]
    assert saved["next_run"] is not None


def test_restore_from_an_uploaded_file_after_a_preview_and_a_confirmation(client, runtime):
    populate(runtime, patients_count=2)
    backup = finished(client, client.post("/api/backups", json={}))["result"]
    with runtime.sessions() as session:
        for patient in patients.search_patients(session):
            patients.delete_patient(session, runtime.store, patient.id)
    data = (runtime.settings.backups_dir / backup["name"]).read_bytes()

    uploaded = client.post(
        "/api/backups/upload",
        data={"file": (io.BytesIO(data), "clinic backup.zip")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201
    path = uploaded.get_json()["path"]
    preview = finished(client, client.post("/api/restore/preview", json={"path": path}))
    assert preview["state"] == "done"
    assert preview["result"]["backup"]["counts"]["patients"] == 2
    assert preview["result"]["current"]["patients"] == 0
    refused = client.post("/api/restore", json={"path": path})
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "confirm"

    job = finished(client, client.post("/api/restore", json={"path": path, "confirm": True}))

    assert job["state"] == "done", job["error"]
    names = [p["full_name"] for p in client.get("/api/patients").get_json()["patients"]]
    assert sorted(names) == ["Patient 0", "ليلى حداد"]
    image = client.get(
        f"/api/patients/{client.get('/api/patients').get_json()['patients'][0]['id']}"
    )
    assert image.status_code == 200


def test_a_damaged_archive_fails_the_preview_with_every_problem(client, runtime, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    job = finished(client, client.post("/api/restore/preview", json={"path": str(bad)}))
    assert job["state"] == "failed" and job["error"]["code"] == "backup_invalid"
    assert "not a complete zip archive" in job["error"]["problems"][0]
    missing = client.post("/api/restore/preview", json={"path": str(tmp_path / "none.zip")})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "path"


def test_verify_and_check_run_as_jobs(client, runtime):
    populate(runtime, patients_count=1)
    backup = finished(client, client.post("/api/backups", json={}))["result"]
    verified = finished(client, client.post("/api/backups/verify", json={"path": backup["path"]}))
    assert verified["result"]["ok"] is True and verified["result"]["problems"] == []
    checked = finished(client, client.post("/api/store/check", json={}))
    assert checked["result"]["ok"] is True and checked["result"]["rows"] == 3
    repaired = finished(client, client.post("/api/store/check", json={"repair": True}))
    assert repaired["result"]["repair"] is True


def test_requests_are_refused_while_a_restore_swaps_the_data_in(client, runtime):
    closed, release = threading.Event(), threading.Event()

    def hold_the_gate():
        with runtime.gate.closed("A backup is being restored on this computer."):
            closed.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_gate)
    holder.start()
    try:
        assert closed.wait(5)
        refused = client.get("/api/patients")
        assert refused.status_code == 409
        assert refused.get_json()["error"]["code"] == "restoring"
        assert "being restored" in refused.get_json()["error"]["message"]
        assert client.post("/api/patients", json={"full_name": "X"}).status_code == 409
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/jobs/unknown").status_code == 404  # polling still answers
        assert client.get("/favicon.ico").status_code == 200
    finally:
        release.set()
        holder.join(5)
    assert client.get("/api/patients").status_code == 200


def test_a_schedule_into_a_missing_folder_is_refused_at_save_time(client, tmp_path):
    before = client.get("/api/backup").get_json()["settings"]
    missing = tmp_path / "nonexistent" / "zzz"
    refused = client.patch(
        "/api/backup/settings", json={"schedule": "daily", "folder": str(missing)}
    )
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["code"] == "folder_not_usable" and error["field"] == "folder"
    assert f"{missing} does not exist" in error["message"]
    assert client.get("/api/backup").get_json()["settings"] == before


def _upload(client, data: bytes, name: str = "clinic backup.zip") -> Path:
    uploaded = client.post(
        "/api/backups/upload",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201
    path = Path(uploaded.get_json()["path"])
    assert path.is_file()
    return path


def test_an_upload_is_kept_from_preview_to_restore_and_removed_when_the_restore_ends(
    client, runtime
):
    populate(runtime, patients_count=1)
    backup = finished(client, client.post("/api/backups", json={}))["result"]
    data = Path(backup["path"]).read_bytes()
    path = _upload(client, data)

    preview = finished(client, client.post("/api/restore/preview", json={"path": str(path)}))
    assert preview["state"] == "done" and path.is_file()  # the restore still needs it
    job = finished(client, client.post("/api/restore", json={"path": str(path), "confirm": True}))

    assert job["state"] == "done", job["error"]
    assert not path.exists() and not path.parent.exists()
    assert Path(backup["path"]).is_file()  # a backup chosen on this computer is never removed

    damaged = _upload(client, b"PK\x03\x04 not really a zip")
    failed = finished(
        client, client.post("/api/restore", json={"path": str(damaged), "confirm": True})
    )
    assert failed["state"] == "failed" and not damaged.parent.exists()


def test_an_upload_is_removed_when_its_verification_ends(client, runtime):
    populate(runtime, patients_count=1)
    backup = finished(client, client.post("/api/backups", json={}))["result"]
    path = _upload(client, Path(backup["path"]).read_bytes())

    verified = finished(client, client.post("/api/backups/verify", json={"path": str(path)}))

    assert verified["result"]["ok"] is True
    assert not path.parent.exists()
    again = finished(client, client.post("/api/backups/verify", json={"path": backup["path"]}))
    assert again["result"]["ok"] is True and Path(backup["path"]).is_file()


def test_uploads_older_than_a_day_are_cleared_at_start_and_at_the_next_upload(
    client, runtime, settings
):
    incoming = settings.backups_dir / "incoming"
    old, fresh = incoming / "abandoned", incoming / "in-use"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "backup.zip").write_bytes(b"x")
    two_days_ago = time.time() - 2 * 86_400
    os.utime(old, (two_days_ago, two_days_ago))

    open_runtime(settings).close()
    assert not old.exists() and fresh.is_dir()

    old.mkdir()
    os.utime(old, (two_days_ago, two_days_ago))
    _upload(client, b"x")
    assert not old.exists() and fresh.is_dir()
