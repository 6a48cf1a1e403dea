"""Background upkeep: empty leftovers of interrupted writes are removed, named files never."""

from __future__ import annotations

import os
import time
from datetime import timedelta

from backend.models import utcnow
from backend.storage import image_folder
from backend.usecases.images import Upload, add_images
from backend.usecases.upkeep import (
    SWEEP_INTERVAL,
    claim_sweep,
    start_upkeep,
    sweep_leftovers,
    upkeep_round,
)
from tests.helpers import image_bytes


def _age(path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_old_empty_leftovers_go_and_everything_else_stays(runtime, session, patient):
    stored = add_images(
        session, runtime.store, patient.id, "8", "xray", [Upload("a.png", image_bytes())]
    )
    image = stored[0].image
    folder = runtime.store.path_of(image_folder(patient.id, "8", "xray"))
    leftover = folder / "crashed-1751793462764.png"
    leftover.touch()
    _age(leftover, 7200)
    fresh = folder / "being-written-1751793462765.png"
    fresh.touch()  # may be a write going on right now
    named = runtime.store.path_of(image.relative_path)
    named.write_bytes(b"")  # emptied by damage: the row still names it, so it is kept
    _age(named, 7200)

    removed = sweep_leftovers(runtime.sessions, runtime.store)

    assert removed == [image_folder(patient.id, "8", "xray") + leftover.name]
    assert not leftover.exists() and fresh.exists() and named.exists()


def test_staged_files_of_interrupted_uploads_go_once_old(runtime):
    """An upload is staged as a hidden file at the top of the image tree while it is checked
    (ImageStore.stage); a crash then leaves it behind."""
    runtime.store.images_dir.mkdir(parents=True, exist_ok=True)
    crashed = runtime.store.images_dir / ".0123456789abcdef.part"
    crashed.write_bytes(b"half an x-ray")
    _age(crashed, 7200)
    live = runtime.store.images_dir / ".fedcba9876543210.part"
    live.write_bytes(b"an upload being checked now")

    sweep_leftovers(runtime.sessions, runtime.store)

    assert not crashed.exists() and live.read_bytes() == b"an upload being checked now"


def _old_leftover(runtime, patient):
    """An empty file an interrupted write left two hours ago."""
    folder = runtime.store.path_of(image_folder(patient.id, "8", "xray"))
    folder.mkdir(parents=True)
    leftover = folder / "crashed-1751793462764.png"
    leftover.touch()
    _age(leftover, 7200)
    return leftover


def test_upkeep_runs_in_the_background_until_the_program_closes(runtime, patient):
    leftover = _old_leftover(runtime, patient)
    thread = start_upkeep(runtime)
    deadline = time.monotonic() + 30
    while leftover.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not leftover.exists()
    runtime.close()
    thread.join(timeout=10)
    assert not thread.is_alive()


def test_the_tree_is_walked_at_most_once_per_interval_for_every_pc_of_the_database(runtime):
    now = utcnow()
    assert claim_sweep(runtime.sessions, now)
    assert not claim_sweep(runtime.sessions, now + timedelta(minutes=5))  # another PC starts
    assert not claim_sweep(runtime.sessions, now + SWEEP_INTERVAL - timedelta(seconds=1))
    assert claim_sweep(runtime.sessions, now + SWEEP_INTERVAL)


def test_a_sweep_recorded_by_a_clock_that_ran_ahead_does_not_stop_the_sweeps(runtime):
    now = utcnow()
    assert claim_sweep(runtime.sessions, now + timedelta(days=365))  # a PC set a year ahead
    assert claim_sweep(runtime.sessions, now)


def test_upkeep_that_is_not_due_leaves_the_tree_alone(runtime, patient):
    leftover = _old_leftover(runtime, patient)
    assert claim_sweep(runtime.sessions)  # swept a moment ago, e.g. by another PC
    upkeep_round(runtime, sweep=True)
    assert leftover.exists()
