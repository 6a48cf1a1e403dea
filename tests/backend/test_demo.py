"""Demo data: real patients, treatments and image files, only on an empty installation."""

import hashlib
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from PIL import Image as PillowImage
from sqlalchemy import func, select

from backend import cli, demo
from backend.errors import Conflict
from backend.models import TREATMENT_STATUSES, Image, Patient, Treatment
from backend.usecases import images
from tests.backend.test_error_shape import assert_error_shape
from tests.helpers import image_row_count

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2025, 6, 30)
EXPECTED = {"patients": 4, "treatments": 11, "images": 16}


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_demo_data_is_real_and_on_disk(session, store):
    assert demo.create_demo_data(session, store, today=TODAY) == EXPECTED
    assert count(session, Patient) == 4 and count(session, Treatment) == 11

    names = set(session.scalars(select(Patient.full_name)))
    assert "أحمد خليل" in names and len(names) == 4
    assert set(session.scalars(select(Treatment.status))) == set(TREATMENT_STATUSES)
    assert all(c and c.startswith("#") for c in session.scalars(select(Treatment.color)))

    rows = list(session.scalars(select(Image)))
    assert len(rows) == 16
    for row in rows:
        path = store.path_of(row.relative_path)
        assert path.is_file() and path.stat().st_size == row.size_bytes
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        assert store.thumbnail_path(row.id).is_file()
        with PillowImage.open(path) as picture:
            assert picture.size == (row.width, row.height)
            if row.image_type == "xray":
                assert picture.mode == "L" and row.format == "PNG"
    assert {r.image_type for r in rows} == {"before", "after", "xray", "clinical", "other"}
    assert len({(r.width, r.height) for r in rows}) >= 4
    assert len({r.format for r in rows}) >= 3

    dates = sorted(r.taken_date for r in rows)
    assert (dates[-1] - dates[0]).days >= 180 and dates[-1] <= TODAY
    assert sum(1 for r in rows if r.treatment_id) >= 10


def test_before_and_after_pairs_on_at_least_two_teeth(session, store):
    demo.create_demo_data(session, store, today=TODAY)
    pairs = []
    for patient in session.scalars(select(Patient)):
        for tooth in {r.tooth for r in patient.images}:
            found = images.list_tooth_images(session, patient.id, tooth)
            kinds = [i.image_type for i in found]
            if "before" in kinds and "after" in kinds:
                before = found[kinds.index("before")]
                after = found[kinds.index("after")]
                assert before.taken_date < after.taken_date
                pairs.append((patient.full_name, tooth))
    assert len(pairs) >= 2


def test_refused_when_a_patient_exists(session, store, patient):
    with pytest.raises(Conflict):
        demo.create_demo_data(session, store)
    assert count(session, Patient) == 1 and image_row_count(session) == 0
    assert not any(store.images_dir.iterdir())


def test_a_failure_halfway_leaves_an_empty_installation(session, store, monkeypatch):
    real_add = images.add_images
    calls = []

    def failing_add(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise OSError("disk full")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(images, "add_images", failing_add)
    with pytest.raises(OSError):
        demo.create_demo_data(session, store)
    assert count(session, Patient) == 0 and count(session, Treatment) == 0
    assert image_row_count(session) == 0
    assert store.tree_usage() == (0, 0) and store.tree_usage(trash=True) == (0, 0)
    monkeypatch.setattr(images, "add_images", real_add)
    assert demo.create_demo_data(session, store) == EXPECTED


def test_demo_api_creates_then_refuses(client):
    response = client.post("/api/demo")
    assert response.status_code == 201 and response.get_json() == EXPECTED
    listed = client.get("/api/patients").get_json()["patients"]
    assert sum(p["image_count"] for p in listed) == 16
    assert_error_shape(client.post("/api/demo"), 409, "conflict")
    assert len(client.get("/api/patients").get_json()["patients"]) == 4


def test_demo_api_needs_the_token(anonymous_client, session):
    assert_error_shape(anonymous_client.post("/api/demo"), 403, "forbidden")
    assert count(session, Patient) == 0


def test_cli_demo_flag_on_the_main_parser_and_on_serve():
    parser = cli.build_parser()
    assert parser.parse_args(["--demo"]).demo is True
    assert parser.parse_args(["serve", "--demo", "--port", "0"]).demo is True
    assert parser.parse_args(["--demo", "serve"]).command == "serve"
    assert not hasattr(parser.parse_args([]), "demo")


def test_cli_adds_demo_data_once_and_says_so(runtime, capsys):
    assert cli.add_demo_data(runtime) == EXPECTED
    assert "Demo data added: 4 patients, 11 treatments, 16 images." in capsys.readouterr().out
    assert cli.add_demo_data(runtime) is None
    assert "already has patients" in capsys.readouterr().out
    with runtime.sessions() as session:
        assert count(session, Patient) == 4


def test_serve_with_demo_prints_what_was_made_then_serves(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DENTAL_IMAGES_HOME"}
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--demo", "serve", "--data-dir", str(tmp_path / "d")],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        env=env,
    )
    try:
        assert process.stdout is not None
        output = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            output.append(process.stdout.readline())
            if re.search(r"http://127\.0\.0\.1:\d+/[\w-]+/\?token=", output[-1]):
                break
        text = "".join(output)
        assert "Demo data added: 4 patients, 11 treatments, 16 images." in text
        assert "?token=" in text
        assert len(list((tmp_path / "d" / "dental_images").rglob("*.png"))) >= 5
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_one_demo_tooth_has_treatments_of_two_statuses(session, store):
    """The chart shows a tooth's crown split in the colours of its statuses: the demo has one."""
    demo.create_demo_data(session, store, today=TODAY)
    statuses: dict[tuple[str, str], set[str]] = {}
    for row in session.scalars(select(Treatment)):
        statuses.setdefault((row.patient_id, row.tooth), set()).add(row.status)
    assert any(len(found) >= 2 for found in statuses.values()), statuses
