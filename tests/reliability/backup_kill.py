"""What the backup crash tests share: a template installation with a backup of an earlier
state, runs of the driver in a subprocess, and the checks made at the next start."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from backend.backup import journal
from backend.backup.create import create_backup
from backend.backup.verify import verify_archive
from backend.config import load_settings
from backend.models import Image, Patient
from backend.startup import open_runtime
from backend.usecases import patients
from backend.usecases.check import check_store
from backend.usecases.images import Upload, add_images
from tests.backup_data import files, populate
from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]
DRIVER = "tests.reliability.backup_driver"


@dataclass
class Template:
    data_dir: Path
    archive: Path
    old: dict
    new: dict


def fingerprint(runtime) -> dict:
    """The clinic's data as the program sees it: patients, image rows, every file's bytes."""
    with runtime.sessions() as session:
        people = sorted(session.scalars(select(Patient.full_name)))
        images = sorted(
            (i.id, i.relative_path, i.sha256, i.treatment_id)
            for i in session.scalars(select(Image))
        )
    return {"patients": people, "images": images, "files": files(runtime.settings.images_dir)}


def make_template(folder: Path) -> Template:
    """An installation whose backup holds one state ("new") while the live data holds another
    ("old"), so a restore's outcome can be told apart."""
    data_dir = folder / "data"
    runtime = open_runtime(load_settings(data_dir))
    populate(runtime, patients_count=3, images_each=4)
    new = fingerprint(runtime)
    archive = create_backup(runtime, folder).path
    with runtime.sessions() as session:
        first = patients.search_patients(session)[0]
        patients.delete_patient(session, runtime.store, first.id)
        later = patients.create_patient(session, {"full_name": "Only In The Old Data"})
        add_images(
            session,
            runtime.store,
            later.id,
            "2",
            "after",
            [Upload(f"late {n}.png", image_bytes("PNG", (50 + n, 40))) for n in range(3)],
        )
    old = fingerprint(runtime)
    runtime.close()
    assert old != new
    return Template(data_dir, archive, old, new)


def fresh_copy(template: Template, folder: Path) -> Path:
    data_dir = folder / "data"
    shutil.copytree(template.data_dir, data_dir)
    return data_dir


KILLED = -signal.SIGKILL


@dataclass(frozen=True)
class Run:
    returncode: int  # negative: killed by that signal
    finished: bool  # the driver printed DONE: the operation completed before any kill
    seconds: float  # from START to DONE (or to the end of the process)

    @property
    def killed_midway(self) -> bool:
        return self.returncode == KILLED and not self.finished


def drive(*args: str, kill_after_s: float | None = None, driver: str = DRIVER) -> Run:
    """Run the driver; with `kill_after_s`, SIGKILL it that long after it printed START. Says
    how it ended, whether the operation finished before any kill, and how long it took."""
    process = subprocess.Popen(
        [sys.executable, "-m", driver, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "START", line
    started = time.monotonic()
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        process.send_signal(signal.SIGKILL)  # does nothing once the process has ended
    finished = False
    ended = None
    for line in process.stdout:
        if line.strip() == "DONE":
            finished, ended = True, time.monotonic()
    returncode = process.wait(timeout=120)
    return Run(returncode, finished, (ended or time.monotonic()) - started)


def state_after_restart(data_dir: Path) -> dict:
    """Start the program again (which recovers) and say what data it holds; the store must be
    whole and no restore leftovers may remain."""
    runtime = open_runtime(load_settings(data_dir))
    try:
        assert journal.load_journal(runtime.settings) is None
        assert not [p for p in data_dir.iterdir() if p.name.startswith(".restore")]
        with runtime.sessions() as session:
            report = check_store(session, runtime.store)
        assert report.ok, report.problems()
        return fingerprint(runtime)
    finally:
        runtime.close()


def final_backups_are_whole(folder: Path) -> list[Path]:
    """Every file with a final backup name in `folder` verifies; returns them."""
    finals = [p for p in folder.glob("*.zip") if not p.name.startswith(".")]
    for path in finals:
        assert verify_archive(path).ok, path
    return finals
