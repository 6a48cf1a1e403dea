"""A backup into a backup set, and the pruning after it, killed with SIGKILL in a subprocess at
named points and at random instants: the set stays valid (every complete backup verifies and
the newest one restores to the state it was made of), partial work is invisible, the live data
is untouched, and the next backup cleans up what the killed one left."""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from backend.backup import backup_set as bs
from backend.backup.restore import restore_backup
from backend.backup.set_create import FREEZE_PREFIX, create_set_backup
from backend.backup.set_prune import prune_set
from backend.backup.set_verify import verify_set
from backend.config import load_settings
from backend.startup import open_runtime
from backend.usecases import patients, trash
from backend.usecases.images import Upload, add_images
from tests.backup_data import populate
from tests.helpers import image_bytes
from tests.reliability.backup_kill import KILLED, drive, fingerprint, state_after_restart

DRIVER = "tests.reliability.set_backup_driver"
RANDOM_TRIALS = 8
KILL_WINDOW = 0.9
REAL_KILLS_AT_LEAST = 0.6
LONG_AGO = 1_000_000_000


@dataclass
class Template:
    data_dir: Path
    dest: Path
    first: str  # the set's one backup before the run
    first_state: dict
    live_state: dict


def set_of(dest: Path) -> Path:
    return dest / "dental-images-backup-set"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Template:
    """A set holding one backup of an earlier state; the live data has since lost a patient
    (whose files only that backup names) and gained one with new images."""
    folder = tmp_path_factory.mktemp("set-kill-template")
    data_dir, dest = folder / "data", folder / "dest"
    dest.mkdir()
    runtime = open_runtime(load_settings(data_dir))
    populate(runtime, patients_count=3, images_each=4)
    first_state = fingerprint(runtime)
    first = create_set_backup(runtime, dest)
    with runtime.sessions() as session:
        gone = patients.search_patients(session)[0]
        patients.delete_patient(session, runtime.store, gone.id)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        later = patients.create_patient(session, {"full_name": "Only In The Live Data"})
        add_images(
            session,
            runtime.store,
            later.id,
            "2",
            "after",
            [Upload(f"late {n}.png", image_bytes("PNG", (50 + n, 40))) for n in range(5)],
        )
    live_state = fingerprint(runtime)
    runtime.close()
    return Template(data_dir, dest, first.path.name, first_state, live_state)


def fresh(template: Template, folder: Path) -> tuple[Path, Path]:
    data_dir, dest = folder / "data", folder / "dest"
    shutil.copytree(template.data_dir, data_dir)
    shutil.copytree(template.dest, dest)
    return data_dir, dest


def restored_state(template: Template, backup: Path, folder: Path) -> dict:
    """What restoring `backup` into a copy of the template's installation gives."""
    data_dir = folder / "restored"
    shutil.copytree(template.data_dir, data_dir)
    runtime = open_runtime(load_settings(data_dir))
    try:
        restore_backup(runtime, backup)
        return fingerprint(runtime)
    finally:
        runtime.close()


def assert_set_valid(template: Template, dest: Path, folder: Path) -> list[str]:
    """The set verifies, its complete backups are the earlier one and/or the new one, and the
    newest restores to the state it was made of. Returns the complete backups' names."""
    set_dir = set_of(dest)
    names = [p.name for p in bs.complete_backups(set_dir)]
    assert names, "no complete backup left"
    assert names[0] == template.first or len(names) == 1
    assert len(names) <= 2
    report = verify_set(set_dir)
    assert report.ok, report.problems
    newest = bs.complete_backups(set_dir)[-1]
    expected = template.first_state if newest.name == template.first else template.live_state
    assert restored_state(template, newest, folder) == expected
    return names


def assert_next_backup_cleans_up(data_dir: Path, dest: Path) -> None:
    """Once the leftovers of the killed run are old, the next backup and pruning remove them."""
    set_dir = set_of(dest)
    settings = load_settings(data_dir)
    leftovers = [p for p in (set_dir / "backups").iterdir() if p.name.startswith(".")]
    leftovers += list((set_dir / ".work").iterdir())
    leftovers += list(settings.image_store_root.glob(f"{FREEZE_PREFIX}*"))
    for path in leftovers:
        os.utime(path, (LONG_AGO, LONG_AGO))
    runtime = open_runtime(settings)
    try:
        result = create_set_backup(runtime, dest)
        prune_set(set_dir, 1)
    finally:
        runtime.close()
    assert [p.name for p in (set_dir / "backups").iterdir()] == [result.path.name]
    assert list((set_dir / ".work").iterdir()) == []
    assert not list(settings.image_store_root.glob(f"{FREEZE_PREFIX}*"))
    named = {e.sha256 for e in bs.image_entries(result.manifest).values()}
    assert {p.name for p in (set_dir / "files").glob("*/*")} == named
    assert verify_set(set_dir).ok


@pytest.mark.parametrize(
    ("point", "newest"),
    [
        ("store:1", "first"),
        ("store:4", "first"),
        ("file:1", "first"),
        ("file:4", "first"),
        ("written:1", "first"),
        ("publish:1", "first"),
        ("hide:1", "new"),
        ("unlink:1", "new"),
        ("unlink:3", "new"),
    ],
)
def test_a_killed_set_backup_leaves_the_set_valid(template, tmp_path, point, newest):
    data_dir, dest = fresh(template, tmp_path)
    assert drive(str(data_dir), str(dest), point, driver=DRIVER).returncode == KILLED
    names = assert_set_valid(template, dest, tmp_path)
    assert (names[-1] == template.first) == (newest == "first"), names
    assert state_after_restart(data_dir) == template.live_state
    assert_next_backup_cleans_up(data_dir, dest)


def test_set_backups_killed_at_random_instants_leave_the_set_valid(template, tmp_path):
    data_dir, dest = fresh(template, tmp_path / "untouched")
    untouched = drive(str(data_dir), str(dest), driver=DRIVER)
    assert untouched.returncode == 0 and untouched.finished
    rng = random.Random(13)
    runs = []
    for trial in range(RANDOM_TRIALS):
        folder = tmp_path / f"trial-{trial}"
        data_dir, dest = fresh(template, folder)
        delay = rng.uniform(0.0, KILL_WINDOW * untouched.seconds)
        run = drive(str(data_dir), str(dest), kill_after_s=delay, driver=DRIVER)
        assert run.returncode in (0, KILLED), (trial, run)
        assert_set_valid(template, dest, folder)
        assert state_after_restart(data_dir) == template.live_state, f"trial {trial}"
        runs.append(run)
    assert_next_backup_cleans_up(data_dir, dest)
    real = sum(run.killed_midway for run in runs)
    assert real >= REAL_KILLS_AT_LEAST * len(runs), runs
