"""A kill during the import of the earlier app's backup: the main screen says the import did
not finish and how to complete it; restoring the same backup again completes it, once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from backend.backup.legacy import import_marker
from backend.backup.restore import restore_backup
from backend.config import load_settings
from backend.models import Image, Patient, StoreLock
from backend.startup import open_runtime
from tests.backend.test_backup_legacy import legacy_zip
from tests.conftest import local_app, window_client
from tests.helpers import hold_store_lock_elsewhere
from tests.legacy_data import build_legacy, check_imported

ROOT = Path(__file__).resolve().parents[2]

# Restores the archive and kills itself (SIGKILL: no clean-up runs) once the patients are in and
# the first image is about to be placed.
KILLED_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from backend.backup.restore import restore_backup
    from backend.config import load_settings
    from backend.jobs import Progress
    from backend.startup import open_runtime

    class KillWhilePlacing(Progress):
        def update(self, **changes):
            if str(changes.get("message", "")).startswith("Bringing the images in"):
                os.kill(os.getpid(), signal.SIGKILL)
            super().update(**changes)

    runtime = open_runtime(load_settings(Path(sys.argv[1])))
    restore_backup(
        runtime, Path(sys.argv[2]), progress=KillWhilePlacing(), reading={"notation": "fdi"}
    )
    """
)


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def main_screen_status(runtime) -> dict:
    """What the main screen's backup banner reads, through the API as the window asks."""
    response = window_client(local_app(runtime)).get("/api/backup")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def kill_during_import(data_dir: Path, archive: Path) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, str(data_dir), str(archive)],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()


def test_a_killed_import_is_reported_and_completed_by_restoring_again(tmp_path):
    data = build_legacy(tmp_path / "old app", notation="fdi")
    archive = legacy_zip(data.folder, tmp_path / "clinic-2024.zip")
    kill_during_import(tmp_path / "data", archive)

    runtime = open_runtime(load_settings(tmp_path / "data"))
    try:
        assert count(runtime, Patient) == 4  # the patients came in before the kill
        assert count(runtime, Image) < len(data.expected)
        status = main_screen_status(runtime)
        unfinished = status["unfinished_import"]
        assert unfinished["archive"] == str(archive)
        assert Path(unfinished["safety_backup"]).is_file()
        assert "clinic-2024.zip" in status["warning"] and "did not finish" in status["warning"]
        assert Path(unfinished["safety_backup"]).name in status["warning"]
        # the killed job's lease outlives it for a while: the notice does not wait for it
        hold_store_lock_elsewhere(runtime, "restore", f"{unfinished['host']} (process dead)")
        assert main_screen_status(runtime)["unfinished_import"] is not None
        with runtime.sessions() as session:
            session.query(StoreLock).delete()
            session.commit()

        restore_backup(runtime, archive, reading={"notation": "fdi"})

        status = main_screen_status(runtime)
        assert status["unfinished_import"] is None
        assert "did not finish" not in (status["warning"] or "")
        with runtime.sessions() as session:
            check_imported(session, runtime.settings.image_store_root, data)
        assert count(runtime, Patient) == 4
    finally:
        runtime.close()


def test_restoring_the_safety_backup_after_a_killed_import_goes_back_and_clears_the_notice(
    tmp_path,
):
    data = build_legacy(tmp_path / "old app", notation="fdi")
    archive = legacy_zip(data.folder, tmp_path / "clinic-2024.zip")
    kill_during_import(tmp_path / "data", archive)

    runtime = open_runtime(load_settings(tmp_path / "data"))
    try:
        with runtime.sessions() as session:
            safety = Path(import_marker.unfinished(session)["safety_backup"])
        restore_backup(runtime, safety)
        assert count(runtime, Patient) == 0  # as before the import
        assert main_screen_status(runtime)["unfinished_import"] is None
    finally:
        runtime.close()
