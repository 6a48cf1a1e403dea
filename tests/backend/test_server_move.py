"""Moving a clinic from its SQLite file onto a PostgreSQL server (and a shared images folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.config import load_settings
from backend.errors import Conflict
from backend.jobs import Progress
from backend.models import Image, Patient, Treatment
from backend.runtime import open_runtime
from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from backend.usecases.retrieval import locate_image
from backend.usecases.server_move import check_server, move_to_server
from tests import postgres
from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_url():
    """The source is the default SQLite installation: that is what clinics move from."""
    return None


@pytest.fixture
def server_url(_pg_template):
    admin = _pg_template
    name, url = postgres.fresh_database(admin)
    yield url
    postgres.drop_database(admin, name)


@pytest.fixture
def clinic(session, store):
    patient = patients.create_patient(session, {"full_name": "سارة أحمد"})
    crown = treatments.create_treatment(
        session, patient.id, {"tooth": "3", "treatment_type": "Crown"}
    )
    results = add_images(
        session,
        store,
        patient.id,
        "3",
        "before",
        [Upload("a.png", image_bytes("PNG")), Upload("b.jpg", image_bytes("JPEG"))],
        treatment_id=crown.id,
    )
    return patient, crown, [r.image for r in results]


def counts(session):
    return tuple(
        session.scalar(select(func.count()).select_from(model))
        for model in (Patient, Treatment, Image)
    )


def test_check_server_says_what_is_there(server_url):
    answer = check_server(server_url)
    assert answer["ok"] is True and "PostgreSQL" in answer["server"]
    assert answer["schema"] == "current"


def test_check_server_explains_an_unreachable_server():
    answer = check_server("postgresql+psycopg://nobody:x@127.0.0.1:1/none")
    assert answer["ok"] is False and answer["message"].startswith("Cannot connect:")


def test_move_copies_every_row_verified_and_points_this_pc_at_the_server(
    runtime, session, settings, clinic, server_url
):
    _patient, crown, images = clinic
    before = counts(session)
    report = move_to_server(settings, runtime.engine, server_url, Progress())
    assert report["rows"]["patients"] == 1 and report["rows"]["images"] == 2
    moved = load_settings(settings.data_dir)
    assert moved.db_url == server_url
    server = open_runtime(moved)
    try:
        with server.sessions() as on_server:
            assert counts(on_server) == before
            image = on_server.get(Image, images[0].id)
            assert image.treatment_id == crown.id and image.patient.full_name == "سارة أحمد"
            assert (
                locate_image(on_server, server.store, image).read_bytes()
                == (settings.data_dir / images[0].relative_path).read_bytes()
            )
    finally:
        server.close()


def test_move_refuses_a_server_that_already_holds_data(runtime, settings, clinic, server_url):
    move_to_server(settings, runtime.engine, server_url, Progress())
    with pytest.raises(Conflict, match="already holds"):
        move_to_server(settings, runtime.engine, server_url, Progress())


def test_move_with_a_shared_folder_copies_the_images_verified(
    runtime, settings, clinic, server_url, tmp_path
):
    share = tmp_path / "share"
    report = move_to_server(settings, runtime.engine, server_url, Progress(), images_root=share)
    assert report["images"] == {"copied": 2, "already_there": 0}
    for image in clinic[2]:
        assert (share / image.relative_path).read_bytes() == (
            settings.data_dir / image.relative_path
        ).read_bytes()
    assert load_settings(settings.data_dir).images_dir == share.resolve() / "dental_images"


def run_move_command(settings, server_url) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "backend",
            "move-to-server",
            server_url,
            "--data-dir",
            str(settings.data_dir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_move_to_server_command(settings, clinic, server_url):
    done = run_move_command(settings, server_url)
    assert done.returncode == 0, done.stderr
    assert "Moved to the server and verified: 1 patients, 1 treatments, 2 images" in done.stdout
    again = run_move_command(settings, server_url)
    assert again.returncode == 2 and "already holds" in again.stderr


def test_settings_api_tests_and_saves_the_server_for_this_pc(
    client, settings, server_url, tmp_path
):
    tested = client.post("/api/settings/server/test", json={"db_url": server_url}).get_json()
    assert tested["ok"] is True
    bad = client.post("/api/settings/server/test", json={"db_url": "mysql://x"})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "db_url"
    missing = client.put(
        "/api/settings/server", json={"db_url": "", "images_root": str(tmp_path / "nowhere")}
    )
    assert missing.status_code == 400 and missing.get_json()["error"]["field"] == "images_root"
    share = tmp_path / "share"
    share.mkdir()
    saved = client.put(
        "/api/settings/server", json={"db_url": server_url, "images_root": str(share)}
    )
    assert saved.status_code == 200 and "Restart" in saved.get_json()["message"]
    reloaded = load_settings(settings.data_dir)
    assert (
        reloaded.db_url == server_url and reloaded.images_dir == share.resolve() / "dental_images"
    )
    client.put("/api/settings/server", json={"db_url": "", "images_root": ""})
    assert load_settings(settings.data_dir).is_sqlite
