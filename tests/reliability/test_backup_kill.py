"""Backup and restore killed with SIGKILL in a subprocess at named points and at random
instants, then the program started again: a backup never leaves a file under its final name
unless it is complete (and never touches the backups already in its folder), and a restore
leaves either the old or the new data, complete. More random trials:
`python -m tests.reliability.backup_stress --trials N`."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.config import load_settings
from backend.security import TOKEN_HEADER
from backend.startup import open_runtime
from backend.webapp import create_app
from tests.conftest import PORT, TOKEN, LocalClient
from tests.reliability.backup_kill import (
    KILLED,
    Run,
    drive,
    final_backups_are_whole,
    fresh_copy,
    make_template,
    state_after_restart,
)

EARLIER_BACKUP = "dental-images-backup-20200101-080000.zip"
RANDOM_TRIALS = 10
# A random kill is drawn within this fraction of the time the operation takes when left alone,
# and at least this share of the trials must have been killed before the operation finished.
KILL_WINDOW = 0.8
REAL_KILLS_AT_LEAST = 0.8


@dataclass
class Durations:
    restore: float
    backup: float


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("backup-kill-template"))


@pytest.fixture(scope="module")
def durations(template, tmp_path_factory) -> Durations:
    """How long a restore and a backup take here when nobody kills them (the shorter of two
    runs), so that random kills can be drawn while they are still at work."""
    measured: dict[str, float] = {}
    for mode in ("restore", "backup"):
        runs = []
        for _ in range(2):
            folder = tmp_path_factory.mktemp(f"untouched-{mode}")
            data_dir = fresh_copy(template, folder)
            target = template.archive
            if mode == "backup":
                target = folder / "dest"
                target.mkdir()
            run = drive(mode, str(data_dir), str(target))
            assert run.returncode == 0 and run.finished, run
            runs.append(run.seconds)
        measured[mode] = min(runs)
    return Durations(**measured)


def with_earlier_backup(template, dest: Path) -> tuple[Path, bytes]:
    """An earlier, whole backup already in the destination folder, and its bytes."""
    earlier = dest / EARLIER_BACKUP
    shutil.copyfile(template.archive, earlier)
    return earlier, earlier.read_bytes()


def assert_share_of_real_kills(runs: list[Run], what: str) -> None:
    real = sum(run.killed_midway for run in runs)
    assert real >= REAL_KILLS_AT_LEAST * len(runs), (
        f"only {real} of {len(runs)} {what} were killed before they finished: {runs}"
    )


@pytest.mark.parametrize("point", ["file:3", "verify:1", "publish:1"])
def test_a_killed_backup_leaves_no_file_with_the_final_name(template, tmp_path, point):
    data_dir = fresh_copy(template, tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    earlier, earlier_bytes = with_earlier_backup(template, dest)
    assert drive("backup", str(data_dir), str(dest), point).returncode == KILLED
    assert final_backups_are_whole(dest) == [earlier]
    assert earlier.read_bytes() == earlier_bytes
    assert state_after_restart(data_dir) == template.old


@pytest.mark.parametrize(
    ("point", "outcome"),
    [
        ("file:2", "old"),  # the safety backup of the current data
        ("extract:3", "old"),
        ("phase-swapping:1", "old"),
        ("rename:1", "old"),
        ("rename:4", "old"),
        ("phase-swapped:1", "old"),
        ("phase-committed:1", "new"),
        ("cleanup:1", "new"),
    ],
)
def test_a_killed_restore_leaves_the_old_or_the_new_data_complete(
    template, tmp_path, point, outcome
):
    data_dir = fresh_copy(template, tmp_path)
    assert drive("restore", str(data_dir), str(template.archive), point).returncode == KILLED
    assert state_after_restart(data_dir) == getattr(template, outcome)


@pytest.mark.parametrize(("point", "said"), [("rename:1", "undone"), ("cleanup:1", "finished")])
def test_the_main_screen_says_what_became_of_an_interrupted_restore(
    template, tmp_path, point, said
):
    data_dir = fresh_copy(template, tmp_path)
    assert drive("restore", str(data_dir), str(template.archive), point).returncode == KILLED
    runtime = open_runtime(load_settings(data_dir))
    try:
        app = create_app(runtime, token=TOKEN, port=PORT)
        app.test_client_class = LocalClient
        client = app.test_client()
        notices = client.get("/api/status", headers={TOKEN_HEADER: TOKEN}).get_json()["notices"]
        assert len(notices) == 1
        assert f"An interrupted restore of {template.archive} was {said}" in notices[0]
        assert (
            client.delete("/api/status/notices", headers={TOKEN_HEADER: TOKEN}).status_code == 204
        )
        assert client.get("/api/status", headers={TOKEN_HEADER: TOKEN}).get_json()["notices"] == []
    finally:
        runtime.close()


def test_restores_killed_at_random_instants_leave_old_or_new_data(template, durations, tmp_path):
    rng = random.Random(1)
    runs = []
    for trial in range(RANDOM_TRIALS):
        data_dir = fresh_copy(template, tmp_path / f"trial-{trial}")
        delay = rng.uniform(0.0, KILL_WINDOW * durations.restore)
        run = drive("restore", str(data_dir), str(template.archive), kill_after_s=delay)
        assert run.returncode in (0, KILLED), (trial, run)
        assert state_after_restart(data_dir) in (template.old, template.new), f"trial {trial}"
        runs.append(run)
    assert_share_of_real_kills(runs, "restores")


def test_backups_killed_at_random_instants_leave_only_whole_backups(template, durations, tmp_path):
    rng = random.Random(50)
    runs = []
    for trial in range(RANDOM_TRIALS):
        data_dir = fresh_copy(template, tmp_path / f"trial-{trial}")
        dest = tmp_path / f"trial-{trial}" / "dest"
        dest.mkdir()
        earlier, earlier_bytes = with_earlier_backup(template, dest)
        delay = rng.uniform(0.0, KILL_WINDOW * durations.backup)
        run = drive("backup", str(data_dir), str(dest), kill_after_s=delay)
        assert run.returncode in (0, KILLED), (trial, run)
        finals = final_backups_are_whole(dest)
        assert earlier in finals, f"trial {trial}: the earlier backup is gone"
        assert earlier.read_bytes() == earlier_bytes, f"trial {trial}: earlier backup changed"
        assert state_after_restart(data_dir) == template.old, f"trial {trial}"
        runs.append(run)
    assert_share_of_real_kills(runs, "backups")
