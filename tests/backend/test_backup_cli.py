"""The backup commands as a user runs them: real processes, exit codes as the README says."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from backend.config import load_settings
from backend.models import StoreLock, utcnow
from backend.startup import open_runtime
from tests.backup_data import populate, rows

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_url():
    return None  # the commands' processes use the data folder's own SQLite database


def dental(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    return subprocess.run(
        [sys.executable, "-m", "backend", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env=env,
        input=stdin,
    )


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    runtime = open_runtime(load_settings(folder))
    populate(runtime, patients_count=2)
    runtime.close()
    return folder


def records(runtime) -> dict:
    """The clinic's records (the start-up check rewrites its own state at every start)."""
    return {k: v for k, v in rows(runtime).items() if k != "app_state"}


def make_backup(data_dir: Path, dest: Path) -> Path:
    dest.mkdir(exist_ok=True)
    done = dental(data_dir, "backup", "--dest", str(dest))
    assert done.returncode == 0, done.stderr
    assert "Backup written and verified" in done.stdout and "2 patients" in done.stdout
    (archive,) = dest.glob("*.zip")
    return archive


def test_backup_verify_and_check_say_all_is_well(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    verified = dental(data_dir, "verify", str(archive))
    assert verified.returncode == 0 and "OK:" in verified.stdout
    checked = dental(data_dir, "check")
    assert checked.returncode == 0 and "OK: the store is in order." in checked.stdout


def test_verify_names_what_is_wrong_and_exits_3(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(damaged, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".png"):
                data = data[:-5] + b"XXXXX"
            out.writestr(info, data)
    verified = dental(data_dir, "verify", str(damaged))
    assert verified.returncode == 3
    assert "PROBLEMS" in verified.stdout and "does not match its checksum" in verified.stdout


def test_check_exits_3_when_a_file_is_missing_and_repair_relinks_by_name(data_dir):
    image = next((data_dir / "dental_images").rglob("*.png"))
    hidden = data_dir / "dental_images" / image.relative_to(data_dir / "dental_images").parts[0]
    moved = hidden / "30" / "other" / image.name
    moved.parent.mkdir(parents=True)
    image.rename(moved)
    checked = dental(data_dir, "check")
    assert checked.returncode == 3 and "1 image has no file" in checked.stdout
    repaired = dental(data_dir, "check", "--repair")
    assert repaired.returncode == 0 and "Repaired: 1 image re-linked" in repaired.stdout
    assert image.is_file()


def test_restore_with_yes_brings_the_backup_back(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    runtime = open_runtime(load_settings(data_dir))
    before = records(runtime)
    runtime.close()
    (next((data_dir / "dental_images").iterdir()) / "14" / "before").rename(tmp_path / "gone")

    restored = dental(data_dir, "restore", str(archive), "--yes")

    assert restored.returncode == 0, restored.stderr
    assert "Restored." in restored.stdout and "safety backup" in restored.stdout
    runtime = open_runtime(load_settings(data_dir))
    assert records(runtime) == before
    runtime.close()
    assert dental(data_dir, "check").returncode == 0


def test_restore_without_confirmation_changes_nothing_and_exits_5(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    answer = dental(data_dir, "restore", str(archive), stdin="")
    assert answer.returncode == 5 and "Add --yes" in answer.stderr
    assert not list((data_dir / "backups").glob("safety-*.zip"))


def test_a_hostile_archive_is_refused_with_exit_1(data_dir, tmp_path):
    hostile = tmp_path / "slip.zip"
    with zipfile.ZipFile(hostile, "w") as out:
        out.writestr("manifest.json", "{}")
        out.writestr("../../evil.txt", "x")
    refused = dental(data_dir, "restore", str(hostile), "--yes")
    assert refused.returncode == 1 and "points outside" in refused.stderr
    assert not list(tmp_path.rglob("evil.txt"))


def test_a_missing_destination_exits_1_with_what_to_do(data_dir, tmp_path):
    failed = dental(data_dir, "backup", "--dest", str(tmp_path / "unplugged"))
    assert failed.returncode == 1 and "Connect the disk" in failed.stderr


def test_another_pcs_restore_makes_a_backup_wait_with_exit_4(data_dir, tmp_path):
    runtime = open_runtime(load_settings(data_dir))
    with runtime.sessions() as session:
        now = utcnow()
        session.execute(
            insert(StoreLock).values(
                name="store",
                holder="RECEPTION-2",
                operation="restore",
                acquired_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
        session.commit()
    runtime.close()
    (tmp_path / "dest").mkdir()
    busy = dental(data_dir, "backup", "--dest", str(tmp_path / "dest"))
    assert busy.returncode == 4 and "RECEPTION-2" in busy.stderr


def test_restore_takes_the_per_table_reading_and_refuses_a_bad_one_with_exit_1(data_dir, tmp_path):
    """The earlier app's backup, restored with one numbering per table generation from the
    command line; an unknown table is refused before anything is touched."""
    from tests.legacy_data import build_legacy

    legacy = build_legacy(tmp_path / "old app", notation="fdi")
    bad = dental(
        data_dir, "restore", str(legacy.database), "--table-notation", "teeth=fdi", "--yes"
    )
    assert bad.returncode == 1 and "'teeth' is not one of" in bad.stderr
    assert not list((data_dir / "backups").glob("safety-*.zip"))
    done = dental(
        data_dir,
        "restore",
        str(legacy.database),
        "--table-notation",
        "tooth_treatments=fdi",
        "--yes",
    )
    assert done.returncode == 0, done.stderr
    assert "Restored." in done.stdout
