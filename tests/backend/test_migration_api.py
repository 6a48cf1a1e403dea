"""The Settings page's side of migration and import: preview, start, live counts, report."""

from __future__ import annotations

import csv
import io
import sqlite3

from tests.legacy_data import build_legacy


def _wait(client, runtime, job_id):
    runtime.jobs.wait(job_id, timeout=60)
    return client.get(f"/api/jobs/{job_id}").get_json()


def test_preview_import_and_download_the_report(client, runtime, tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    shown = client.post("/api/migration/preview", json={"source": str(tmp_path / "old")})
    assert shown.status_code == 200
    assert shown.get_json()["notation"]["detected"] == "fdi"
    started = client.post(
        "/api/migration/import", json={"source": str(tmp_path / "old"), "notation": "fdi"}
    )
    assert started.status_code == 202
    job = _wait(client, runtime, started.get_json()["id"])
    assert job["state"] == "done"
    assert job["progress"]["details"] == {
        "imported": len(data.expected),
        "skipped": 0,
        "missing": len(data.missing),
        "failed": len(data.failing),
    }
    status = client.get("/api/migration").get_json()
    assert status["last_report"]["imported"] == len(data.expected)
    as_json = client.get("/api/migration/report?format=json")
    assert as_json.headers["Content-Disposition"].startswith("attachment")
    assert as_json.get_json()["exit_code"] == 6
    rows = list(csv.reader(io.StringIO(client.get("/api/migration/report?format=csv").text)))
    assert rows[0] == ["list", "what", "path", "reason"]
    assert {r[1] for r in rows if r[0] == "missing"} == set(data.missing)


def test_import_needs_a_source_and_a_notation(client, tmp_path):
    # numbers valid in both systems and no CHECK constraint: the evidence does not decide
    build_legacy(tmp_path / "old", notation="universal", tables="new")
    with sqlite3.connect(tmp_path / "old" / "dental_clinic.db") as db:
        db.execute("UPDATE tooth_treatments SET tooth_number = 21")
        db.execute("UPDATE tooth_treatment_images SET tooth_number = 12")
    missing = client.post("/api/migration/import", json={"source": str(tmp_path / "old")})
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "notation"
    assert "tooth_treatments" in missing.get_json()["error"]["message"]
    wrong = client.post(
        "/api/migration/preview",
        json={"source": str(tmp_path / "old"), "table_notation": {"patients": "fdi"}},
    )
    assert wrong.status_code == 400 and wrong.get_json()["error"]["field"] == "table_notation"
    nowhere = client.post("/api/migration/preview", json={"source": str(tmp_path / "nope")})
    assert nowhere.status_code == 400 and nowhere.get_json()["error"]["field"] == "source"
    assert client.get("/api/migration/report").status_code == 404


def test_preview_takes_the_app_folder_and_per_table_readings(client, tmp_path):
    build_legacy(tmp_path / "old", notation="universal", tables="new")
    shown = client.post(
        "/api/migration/preview",
        json={
            "source": str(tmp_path / "old"),
            "images_from": [str(tmp_path / "elsewhere")],
            "table_notation": {"tooth_treatments": "universal"},
            "early_layout": "standard",
        },
    ).get_json()
    assert shown["reading"] == "universal"
    assert shown["generations"]["tooth_treatments"]["used"] == "universal"
    bad = client.post(
        "/api/migration/preview", json={"source": str(tmp_path / "old"), "images_from": "x"}
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "images_from"


def test_the_migration_can_be_started_by_hand(client, runtime):
    started = client.post("/api/migration/run", json={})
    assert started.status_code == 202
    job = _wait(client, runtime, started.get_json()["id"])
    assert job["state"] == "done" and job["result"]["exit_code"] == 0
