"""Restoring one patient over HTTP: the backup opened as a job, its patients searched, one
previewed, then restored after a confirmation."""

from __future__ import annotations

from backend.backup.create import create_backup
from backend.usecases import patients, trash
from tests.backend.test_backup_api import finished
from tests.backup_data import populate


def test_open_search_preview_and_restore_one_patient(client, runtime):
    ids = populate(runtime)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, ids[2])
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        patients.create_patient(session, {"full_name": "Added today"})

    job = finished(client, client.post("/api/patient-restore/open", json={"path": str(archive)}))
    assert job["state"] == "done", job["error"]
    opened = job["result"]
    assert opened["total"] == 3 and opened["kind"] == "backup"
    token = opened["token"]
    found = client.get(f"/api/patient-restore/{token}/patients", query_string={"q": "patient 2"})
    assert [p["id"] for p in found.get_json()["patients"]] == [ids[2]]
    assert found.get_json()["patients"][0]["image_count"] == 3

    preview = finished(
        client, client.post(f"/api/patient-restore/{token}/preview", json={"patient": ids[2]})
    )
    assert preview["state"] == "done" and preview["result"]["exists"] is False
    assert preview["result"]["comes_back"]["images"] == 3
    refused = client.post(f"/api/patient-restore/{token}/restore", json={"patient": ids[2]})
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "confirm"

    done = finished(
        client,
        client.post(
            f"/api/patient-restore/{token}/restore", json={"patient": ids[2], "confirm": True}
        ),
    )

    assert done["state"] == "done", done["error"]
    assert done["result"]["files_copied"] == 3
    names = sorted(p["full_name"] for p in client.get("/api/patients").get_json()["patients"])
    assert names == ["Added today", "Patient 0", "Patient 2", "ليلى حداد"]
    closed = client.get(f"/api/patient-restore/{token}/patients")
    assert closed.status_code == 404  # a restored-from backup is closed


def test_a_file_that_is_no_backup_fails_the_open_job_with_a_message(client, tmp_path):
    bogus = tmp_path / "notes.zip"
    bogus.write_bytes(b"not a zip at all")
    job = finished(client, client.post("/api/patient-restore/open", json={"path": str(bogus)}))
    assert job["state"] == "failed" and job["error"]["message"]
    assert client.get("/api/patient-restore/nothing/patients").status_code == 404
