"""Backup sets through what people use: the schedule (the set is the default of a scheduled
backup, a full zip each time the other choice), the API (back up into the set, list it, verify
it, preview and restore one of its backups) and the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.backup import backup_set as bs
from backend.backup import state
from backend.backup.service import run_backup
from backend.config import load_settings
from backend.errors import ValidationError
from backend.jobs import Progress
from backend.startup import open_runtime
from backend.usecases import patients
from tests.backend.test_backup_api import finished
from tests.backup_data import populate, state_of

ROOT = Path(__file__).resolve().parents[2]


def test_a_scheduled_backup_goes_into_the_set_by_default_and_keeps_the_newest(runtime, tmp_path):
    populate(runtime, patients_count=1)
    with runtime.sessions() as session:
        saved = state.update_backup_settings(
            session, {"schedule": "daily", "keep": "2", "folder": str(tmp_path)}
        )
    assert saved.mode == "set"
    results = [run_backup(runtime, Progress(), scheduled=True) for _ in range(3)]
    set_dir = tmp_path / "dental-images-backup-set"
    assert [r["kind"] for r in results] == ["set-backup"] * 3
    assert [p.name for p in bs.complete_backups(set_dir)] == [
        Path(r["path"]).name for r in results[1:]
    ]
    assert results[2]["pruned"] == [Path(results[0]["path"]).name]
    assert results[1]["added_files"] == 0 and results[1]["size_bytes"] < results[0]["size_bytes"]
    assert not list(tmp_path.glob("*.zip"))
    with runtime.sessions() as session:
        assert state.last_success(session).details["path"] == results[2]["path"]


def test_a_schedule_set_to_full_zips_writes_a_zip_and_a_manual_backup_is_always_one(
    runtime, tmp_path
):
    populate(runtime, patients_count=1)
    with runtime.sessions() as session:
        state.update_backup_settings(
            session, {"schedule": "daily", "mode": "zip", "folder": str(tmp_path)}
        )
        with pytest.raises(ValidationError) as bad:
            state.update_backup_settings(session, {"mode": "tape"})
    assert bad.value.field == "mode"
    assert run_backup(runtime, Progress(), scheduled=True)["path"].endswith(".zip")
    with runtime.sessions() as session:
        state.update_backup_settings(session, {"mode": "set"})
    assert run_backup(runtime, Progress())["path"].endswith(".zip")
    assert not (tmp_path / "dental-images-backup-set").exists()


def test_the_api_backs_up_into_the_set_lists_verifies_and_restores_it(client, runtime, tmp_path):
    populate(runtime, patients_count=2)
    before = state_of(runtime)
    first = finished(
        client, client.post("/api/backups", json={"folder": str(tmp_path), "kind": "set"})
    )
    assert first["state"] == "done", first
    assert first["result"]["kind"] == "set-backup"
    listed = client.get("/api/backups").get_json()["backups"]
    (item,) = [b for b in listed if b["kind"] == "set-backup"]
    assert item["path"] == first["result"]["path"] and item["download_url"] is None
    assert item["size_bytes"] == first["result"]["size_bytes"] > 0
    assert item["name"] == f"dental-images-backup-set/{Path(item['path']).name}"

    set_dir = str(tmp_path / "dental-images-backup-set")
    verified = finished(client, client.post("/api/backups/verify", json={"path": set_dir}))
    assert verified["result"]["ok"] and verified["result"]["kind"] == "backup-set"
    assert len(verified["result"]["backups"]) == 1

    with runtime.sessions() as session:
        for patient in patients.search_patients(session):
            patients.delete_patient(session, runtime.store, patient.id)
    manifest = str(Path(item["path"]) / "manifest.json")
    preview = finished(client, client.post("/api/restore/preview", json={"path": manifest}))
    assert preview["result"]["backup"]["counts"]["patients"] == 2
    whole = client.post("/api/restore", json={"path": set_dir, "confirm": True})
    assert whole.status_code == 400 and "whole backup set" in whole.get_json()["error"]["message"]
    done = finished(client, client.post("/api/restore", json={"path": manifest, "confirm": True}))
    assert done["state"] == "done", done
    assert state_of(runtime) == before


def test_a_bad_backup_kind_is_refused(client):
    refused = client.post("/api/backups", json={"kind": "tape"})
    assert refused.status_code == 400 and refused.get_json()["error"]["field"] == "kind"


@pytest.fixture
def cli_data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    runtime = open_runtime(load_settings(folder))
    populate(runtime, patients_count=2)
    runtime.close()
    return folder


def dental(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    return subprocess.run(
        [sys.executable, "-m", "backend", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize("db_url", [None])
def test_the_command_line_backs_up_into_a_set_verifies_and_restores(db_url, cli_data_dir, tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    done = dental(cli_data_dir, "backup", "--dest", str(dest), "--set")
    assert done.returncode == 0, done.stderr
    assert "Backup written and verified" in done.stdout and "added 6 new files" in done.stdout
    again = dental(cli_data_dir, "backup", "--dest", str(dest), "--set")
    assert "added 0 new files" in again.stdout
    set_dir = dest / "dental-images-backup-set"
    verified = dental(cli_data_dir, "verify", str(set_dir))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert verified.stdout.count(": whole") == 2
    first = bs.complete_backups(set_dir)[0]
    damaged = next((set_dir / "files").glob("*/*"))
    damaged.write_bytes(damaged.read_bytes() + b"x")
    assert dental(cli_data_dir, "verify", str(set_dir)).returncode == 3
    assert dental(cli_data_dir, "restore", str(first), "--yes").returncode == 1
    damaged.write_bytes(damaged.read_bytes()[:-1])
    restored = dental(cli_data_dir, "restore", str(first / "manifest.json"), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Restored." in restored.stdout
    assert dental(cli_data_dir, "check").returncode == 0
