"""Encrypted backups from the command line: --passphrase, or DENTAL_IMAGES_BACKUP_PASSPHRASE,
else a question at the console; without a console and without either, a clear refusal. The
commands run as their own processes on a PC without a credential store."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backend.backup import passphrase
from backend.config import load_settings
from backend.startup import open_runtime
from backend.usecases import patients, trash
from tests.backup_data import populate, rows

ROOT = Path(__file__).resolve().parents[2]
SECRET = "olive tree by the sea 42"


@pytest.fixture
def db_url():
    return None  # the commands' processes use the data folder's own SQLite database


def dental(data_dir: Path, *args: str, env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    # No credential store, whatever this computer has: the case CI and servers are in.
    clean["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return subprocess.run(
        [sys.executable, "-m", "backend", *args, "--data-dir", str(data_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        env={**clean, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    runtime = open_runtime(load_settings(folder))
    populate(runtime, patients_count=2)
    with runtime.sessions() as session:
        passphrase.set_passphrase(session, SECRET, SECRET)
    runtime.close()
    return folder


def records(data_dir: Path) -> dict:
    runtime = open_runtime(load_settings(data_dir))
    try:
        return {k: v for k, v in rows(runtime).items() if k != "app_state"}
    finally:
        runtime.close()


def test_backup_without_a_passphrase_or_console_is_refused(data_dir, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    done = dental(data_dir, "backup", "--dest", str(dest))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DENTAL_IMAGES_BACKUP_PASSPHRASE" in done.stderr and "--passphrase" in done.stderr
    wrong = dental(data_dir, "backup", "--dest", str(dest), "--passphrase", "not the phrase")
    assert wrong.returncode == 1 and "The passphrase is wrong" in wrong.stderr
    assert not list(dest.glob("*.zip"))


def test_backup_verify_and_restore_with_the_passphrase(data_dir, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    made = dental(data_dir, "backup", "--dest", str(dest), env={passphrase.PASSPHRASE_ENV: SECRET})
    assert made.returncode == 0, made.stderr
    (archive,) = dest.glob("*.zip")
    with zipfile.ZipFile(archive) as opened:
        assert all(info.flag_bits & 0x1 for info in opened.infolist())
    before = records(data_dir)

    unasked = dental(data_dir, "verify", str(archive))
    assert unasked.returncode == 1 and "This backup is encrypted" in unasked.stderr
    wrong = dental(data_dir, "verify", str(archive), "--passphrase", "not the phrase at all")
    assert wrong.returncode == 1 and "The passphrase is wrong" in wrong.stderr
    verified = dental(data_dir, "verify", str(archive), "--passphrase", SECRET)
    assert verified.returncode == 0, verified.stderr
    assert "OK:" in verified.stdout

    runtime = open_runtime(load_settings(data_dir))
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Added after the backup"})
    runtime.close()
    refused = dental(data_dir, "restore", str(archive), "--yes", "--passphrase", "wrong phrase!")
    assert refused.returncode == 1 and "The passphrase is wrong" in refused.stderr
    assert records(data_dir) != before  # nothing restored: the added patient is still there

    restored = dental(
        data_dir, "restore", str(archive), "--yes", env={passphrase.PASSPHRASE_ENV: SECRET}
    )
    assert restored.returncode == 0, restored.stderr
    assert "Restored." in restored.stdout
    assert records(data_dir) == before


def test_a_tampered_backup_is_reported_as_damaged_by_verify(data_dir, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    made = dental(data_dir, "backup", "--dest", str(dest), "--passphrase", SECRET)
    assert made.returncode == 0, made.stderr
    (archive,) = dest.glob("*.zip")
    with zipfile.ZipFile(archive) as opened:
        info = opened.getinfo("database.sqlite")
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 300] ^= 0xFF
    archive.write_bytes(bytes(data))

    checked = dental(data_dir, "verify", str(archive), "--passphrase", SECRET)

    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "PROBLEMS" in checked.stdout and "damaged" in checked.stdout


def test_an_encrypted_set_is_made_verified_and_restored_from_the_command_line(data_dir, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    made = dental(
        data_dir, "backup", "--set", "--dest", str(dest), env={passphrase.PASSPHRASE_ENV: SECRET}
    )
    assert made.returncode == 0, made.stderr
    (backup,) = dest.glob("*-backup-set/backups/*")
    before = records(data_dir)

    unasked = dental(data_dir, "verify", str(backup))
    assert unasked.returncode == 1 and "encrypted" in unasked.stderr
    wrong = dental(data_dir, "verify", str(backup.parent.parent), "--passphrase", "not it at all")
    assert wrong.returncode == 1 and "The passphrase is wrong" in wrong.stderr
    verified = dental(data_dir, "verify", str(backup.parent.parent), "--passphrase", SECRET)
    assert verified.returncode == 0, verified.stderr

    runtime = open_runtime(load_settings(data_dir))
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "Added after the backup"})
    runtime.close()
    restored = dental(
        data_dir, "restore", str(backup), "--yes", env={passphrase.PASSPHRASE_ENV: SECRET}
    )
    assert restored.returncode == 0, restored.stderr
    assert records(data_dir) == before


def test_one_patient_comes_back_from_an_encrypted_set_on_the_command_line(data_dir, tmp_path):
    dest = tmp_path / "usb"
    dest.mkdir()
    made = dental(
        data_dir, "backup", "--set", "--dest", str(dest), env={passphrase.PASSPHRASE_ENV: SECRET}
    )
    assert made.returncode == 0, made.stderr
    (backup,) = dest.glob("*-backup-set/backups/*")
    before = records(data_dir)
    runtime = open_runtime(load_settings(data_dir))
    with runtime.sessions() as session:
        gone = patients.search_patients(session)[0]
        patients.delete_patient(session, runtime.store, gone.id)
        trash.purge(session, runtime.store, everything=True)
    runtime.close()

    unasked = dental(data_dir, "restore-patient", str(backup), "--patient", gone.id, "--yes")
    assert unasked.returncode == 1 and "encrypted" in unasked.stderr
    restored = dental(
        data_dir,
        "restore-patient",
        str(backup),
        "--patient",
        gone.id,
        "--yes",
        env={passphrase.PASSPHRASE_ENV: SECRET},
    )
    assert restored.returncode == 0, restored.stderr
    after = records(data_dir)
    assert after["patients"] == before["patients"] and after["images"] == before["images"]
