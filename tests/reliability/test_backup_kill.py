"""Backup and restore killed with SIGKILL in a subprocess at named points and at random
instants, then the program started again: a backup never leaves a file under its final name
unless it is complete, and a restore leaves either the old or the new data, complete. More
random trials: `python -m tests.reliability.backup_stress --trials N`."""

from __future__ import annotations

import random

import pytest

from tests.reliability.backup_kill import (
    final_backups_are_whole,
    fresh_copy,
    make_template,
    run_driver,
    state_after_restart,
)

KILLED = -9


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_template(tmp_path_factory.mktemp("backup-kill-template"))


@pytest.mark.parametrize("point", ["file:3", "verify:1", "publish:1"])
def test_a_killed_backup_leaves_no_file_with_the_final_name(template, tmp_path, point):
    data_dir = fresh_copy(template, tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    assert run_driver("backup", str(data_dir), str(dest), point) == KILLED
    assert final_backups_are_whole(dest) == []
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
    assert run_driver("restore", str(data_dir), str(template.archive), point) == KILLED
    assert state_after_restart(data_dir) == getattr(template, outcome)


@pytest.mark.parametrize("trial", range(3))
def test_a_restore_killed_at_a_random_instant_leaves_old_or_new_data(template, tmp_path, trial):
    data_dir = fresh_copy(template, tmp_path)
    delay = random.Random(trial).uniform(0.0, 0.8)
    run_driver("restore", str(data_dir), str(template.archive), kill_after_s=delay)
    assert state_after_restart(data_dir) in (template.old, template.new)


@pytest.mark.parametrize("trial", range(2))
def test_a_backup_killed_at_a_random_instant_leaves_only_whole_backups(template, tmp_path, trial):
    data_dir = fresh_copy(template, tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    run_driver(
        "backup", str(data_dir), str(dest), kill_after_s=random.Random(50 + trial).uniform(0, 0.3)
    )
    final_backups_are_whole(dest)
    assert state_after_restart(data_dir) == template.old
