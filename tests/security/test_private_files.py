"""The data folder is private to the account running the program, and the database server's
password is kept in the OS credential store."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from backend import config as config_module
from backend.config import (
    KEYRING_SERVICE,
    MACHINE_CONFIG,
    load_settings,
    move_password_to_keyring,
    write_machine_config,
)
from backend.startup import open_runtime
from tests.conftest import MemoryKeyring
from tests.served import Client, start_serving

ROOT = Path(__file__).resolve().parents[2]
SERVER = "postgresql+psycopg://clinic:s3cret-Pa55@server.example:5432/dental"
WITHOUT = "postgresql+psycopg://clinic@server.example:5432/dental"
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX modes; Windows: per-user ACL")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_a_started_program_keeps_folder_database_wal_log_config_and_backups_private(tmp_path):
    data = tmp_path / "data"
    share = tmp_path / "share"
    share.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    process, url = start_serving(
        [sys.executable, "-m", "backend", "serve", "--data-dir", str(data)], env=env
    )
    try:
        client = Client(url)
        assert client.json("POST", "/api/patients", {"full_name": "Private"})[0] == 201
        saved = client.json(
            "PUT", "/api/settings/server", {"db_url": "", "images_root": str(share)}
        )
        assert saved[0] == 200
        status, job = client.json("POST", "/api/backups", {"include_images": True})
        assert status == 202
        deadline = time.monotonic() + 60
        while job["state"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.2)
            job = client.json("GET", f"/api/jobs/{job['id']}")[1]
        assert job["state"] == "done", job
        assert (data / "dental.db-wal").exists()
        archives = list((data / "backups").glob("*.zip"))
        assert archives
        for folder in (data, data / "logs", data / "backups", data / "thumbnails"):
            assert mode(folder) == 0o700, folder
        private = [data / "dental.db", data / "dental.db-wal", data / MACHINE_CONFIG]
        private += [data / "logs" / "dental-images.log", *archives]
        for file in private:
            assert mode(file) == 0o600, (file, oct(mode(file)))
        wide = [p for p in data.rglob("*") if mode(p) & 0o077]
        assert wide == [], wide
    finally:
        process.terminate()
        process.wait(timeout=20)


@posix_only
def test_an_earlier_installation_left_readable_is_made_private_at_start(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    runtime = open_runtime(load_settings(data))
    runtime.close()
    (data / "logs" / "dental-images.log").write_text("x\n", encoding="utf-8")
    (data / MACHINE_CONFIG).write_text("{}", encoding="utf-8")
    for path in (data, data / "logs", data / "backups"):
        os.chmod(path, 0o755)
    for path in (data / "dental.db", data / "logs" / "dental-images.log", data / MACHINE_CONFIG):
        os.chmod(path, 0o644)
    runtime = open_runtime(load_settings(data))
    runtime.close()
    assert mode(data) == mode(data / "logs") == mode(data / "backups") == 0o700
    for path in (data / "dental.db", data / "logs" / "dental-images.log", data / MACHINE_CONFIG):
        assert mode(path) == 0o600, path


@posix_only
def test_a_shared_images_folder_is_left_as_the_share_grants(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    os.chmod(share, 0o775)
    data = tmp_path / "data"
    write_machine_config(data, images_root=str(share))
    runtime = open_runtime(load_settings(data))
    runtime.close()
    assert mode(share) == 0o775 and mode(data) == 0o700


@pytest.fixture
def memory_keyring(_memory_keyring: MemoryKeyring) -> MemoryKeyring:
    return _memory_keyring


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_a_saved_server_password_goes_to_the_credential_store(tmp_path, memory_keyring):
    data = tmp_path / "data"
    write_machine_config(data, db_url=SERVER)
    text = (data / MACHINE_CONFIG).read_text(encoding="utf-8")
    assert "s3cret-Pa55" not in text
    assert json.loads(text) == {"db_url": WITHOUT, "db_password": "keyring"}
    assert memory_keyring.entries == {(KEYRING_SERVICE, WITHOUT): "s3cret-Pa55"}
    assert load_settings(data).db_url == SERVER


def test_a_password_left_in_config_json_moves_to_the_store_at_start(tmp_path, memory_keyring):
    data = tmp_path / "data"
    data.mkdir()
    (data / MACHINE_CONFIG).write_text(json.dumps({"db_url": SERVER}), encoding="utf-8")
    assert move_password_to_keyring(data) is True
    assert "s3cret-Pa55" not in (data / MACHINE_CONFIG).read_text(encoding="utf-8")
    assert load_settings(data).db_url == SERVER
    assert move_password_to_keyring(data) is False  # nothing left to move


def test_switching_back_to_this_pc_drops_the_password_marker(tmp_path, memory_keyring):
    data = tmp_path / "data"
    write_machine_config(data, db_url=SERVER)
    write_machine_config(data, db_url=None)
    assert json.loads((data / MACHINE_CONFIG).read_text(encoding="utf-8")) == {}
    assert load_settings(data).is_sqlite


def test_without_a_usable_store_the_password_stays_in_a_private_file(tmp_path, no_keyring, caplog):
    data = tmp_path / "data"
    caplog.set_level(logging.WARNING, logger=config_module.__name__)
    write_machine_config(data, db_url=SERVER)
    assert json.loads((data / MACHINE_CONFIG).read_text(encoding="utf-8")) == {"db_url": SERVER}
    assert load_settings(data).db_url == SERVER
    assert "no usable credential store" in caplog.text
    assert move_password_to_keyring(data) is False
    if os.name == "posix":
        assert mode(data / MACHINE_CONFIG) == 0o600


def test_a_missing_store_entry_is_logged_and_the_url_used_without_password(
    tmp_path, memory_keyring, caplog
):
    data = tmp_path / "data"
    write_machine_config(data, db_url=SERVER)
    memory_keyring.entries.clear()
    caplog.set_level(logging.ERROR, logger=config_module.__name__)
    assert load_settings(data).db_url == WITHOUT
    assert "missing from the credential store" in caplog.text


@posix_only
def test_the_program_moves_the_password_when_it_starts(tmp_path):
    """A real start (`python -m backend`) with a credential store given by a keyring backend
    module on the path: the password leaves config.json."""
    data = tmp_path / "data"
    data.mkdir()
    (data / MACHINE_CONFIG).write_text(json.dumps({"db_url": SERVER}), encoding="utf-8")
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "filekeyring.py").write_text(
        "import json, pathlib\n"
        "from keyring.backend import KeyringBackend\n"
        f"STORE = pathlib.Path({str(tmp_path / 'store.json')!r})\n"
        "class FileKeyring(KeyringBackend):\n"
        "    priority = 1\n"
        "    def get_password(self, s, u):\n"
        "        d = json.loads(STORE.read_text('utf-8')) if STORE.exists() else {}\n"
        "        return d.get(s + '|' + u)\n"
        "    def set_password(self, s, u, p):\n"
        "        d = json.loads(STORE.read_text('utf-8')) if STORE.exists() else {}\n"
        "        d[s + '|' + u] = p\n"
        "        STORE.write_text(json.dumps(d), 'utf-8')\n"
        "    def delete_password(self, s, u):\n"
        "        pass\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    env.update(
        PYTHONPATH=f"{plugin}{os.pathsep}{ROOT}", PYTHON_KEYRING_BACKEND="filekeyring.FileKeyring"
    )
    done = subprocess.run(
        [sys.executable, "-m", "backend", "--data-dir", str(data), "--version"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # --version exits while parsing: nothing moved yet. A command that starts does move it.
    subprocess.run(
        [sys.executable, "-m", "backend", "--data-dir", str(data), "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert "s3cret-Pa55" not in (data / MACHINE_CONFIG).read_text(encoding="utf-8")
    stored = json.loads((tmp_path / "store.json").read_text(encoding="utf-8"))
    assert stored == {f"{KEYRING_SERVICE}|{WITHOUT}": "s3cret-Pa55"}
