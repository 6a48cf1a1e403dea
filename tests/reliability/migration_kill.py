"""Kill the migration with SIGKILL at random instants, start it again, and check that nothing
was lost: shared by the CI test and the stress command."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from backend.config import load_settings
from backend.db import create_db_engine, make_session_factory
from backend.models import Image, MigrationJournal
from tests.legacy_data import LegacyData, build_legacy, check_imported

ROOT = Path(__file__).resolve().parents[2]
DRIVER = [sys.executable, "-m", "tests.reliability.migration_driver"]


@dataclass
class Template:
    folder: Path
    data: LegacyData
    duration: float  # seconds from START to the end of an uninterrupted migration


def _start(data_dir: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [*DRIVER, str(data_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("START"), f"driver did not start: {line!r}"
    return process


def _finish(data_dir: Path) -> float:
    process = _start(data_dir)
    started = time.monotonic()
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 0 and "DONE" in out, out
    return time.monotonic() - started


def make_template(folder: Path, extra: int = 24) -> Template:
    """A legacy data folder, and how long migrating a copy of it takes."""
    data = build_legacy(folder / "template", notation="fdi", extra=extra)
    probe = folder / "probe"
    shutil.copytree(data.folder, probe)
    duration = _finish(probe)
    shutil.rmtree(probe)
    return Template(data.folder, data, duration)


def _relative(template: Template, path: Path) -> str:
    return path.relative_to(template.folder).as_posix()


def run_trial(template: Template, workdir: Path, rng: random.Random, kills: int = 2) -> list[float]:
    """Copy the template, kill the migration up to `kills` times at random instants, run it
    to the end, and check the result. Returns the kill delays used."""
    data_dir = workdir / "data"
    shutil.copytree(template.folder, data_dir)
    delays = []
    for _ in range(rng.randint(1, kills)):
        process = _start(data_dir)
        delay = rng.uniform(0, template.duration * 1.1)
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        delays.append(delay)
    _finish(data_dir)
    check_trial(template, data_dir)
    return delays


def check_trial(template: Template, data_dir: Path) -> None:
    """Zero files lost, zero rows pointing at missing files, no duplicates, no leftovers."""
    settings = load_settings(data_dir)
    engine = create_db_engine(settings.db_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            data = _rebased(template, data_dir)
            check_imported(session, settings.image_store_root, data)
            assert session.scalars(select(MigrationJournal)).first() is None
            referenced = {
                (settings.image_store_root / r.relative_path).resolve()
                for r in session.scalars(select(Image))
            }
        held = {hashlib.sha256(p.read_bytes()).hexdigest() for p in referenced}
        originals = {data_dir / _relative(template, p) for p in template.data.legacy_files}
        for original in template.data.legacy_files:
            at = data_dir / _relative(template, original)
            digest = hashlib.sha256(original.read_bytes()).hexdigest()
            assert at.is_file() or digest in held, f"lost: {_relative(template, original)}"
        for path in (data_dir / "dental_images").rglob("*"):
            if path.is_file():
                assert not path.name.endswith(".part"), f"partial file left: {path}"
                assert path.resolve() in referenced or path in originals, f"stray file {path}"
    finally:
        engine.dispose()


def _rebased(template: Template, data_dir: Path) -> LegacyData:
    data = template.data
    return LegacyData(
        folder=data_dir,
        notation=data.notation,
        patients=data.patients,
        treatments=data.treatments,
        expected=data.expected,
    )
