"""Moving a clinic from its SQLite file onto a PostgreSQL server (and a shared images folder)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from backend.config import load_settings
from backend.db import create_db_engine, make_session_factory
from backend.errors import Conflict
from backend.jobs import Cancelled, Progress
from backend.locks import StoreLockHeld, current_lock
from backend.models import Base, Image, LegacyLink, MigrationJournal, Patient, Treatment
from backend.startup import open_runtime
from backend.usecases import patients, server_move, treatments
from backend.usecases.images import Upload, add_images
from backend.usecases.retrieval import locate_image
from backend.usecases.server_move import check_server, move_to_server
from tests import postgres
from tests.helpers import hold_store_lock_elsewhere, image_bytes

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
        encoding="utf-8",
        timeout=120,
    )


def test_move_to_server_command(settings, clinic, server_url):
    done = run_move_command(settings, server_url)
    assert done.returncode == 0, done.stderr
    assert "Moved to the server and verified: 1 patients, 1 treatments, 2 images" in done.stdout
    again = run_move_command(settings, server_url)
    assert again.returncode == 1 and "already holds" in again.stderr


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


def all_rows(engine) -> dict[str, list[tuple]]:
    """Every row of every table but the leases (and the server's own migration check)."""
    found = {}
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name != "store_locks":
                found[table.name] = sorted(
                    (tuple(row) for row in connection.execute(select(table))), key=repr
                )
    return found


def server_counts(server_url) -> dict[str, int]:
    engine = create_db_engine(server_url)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


def server_is_empty(server_url) -> bool:
    return not any(n for name, n in server_counts(server_url).items())


def test_every_table_of_the_schema_is_moved_including_legacy_links_and_the_journal(
    runtime, session, settings, clinic, server_url
):
    patient, _crown, images = clinic
    session.execute(
        insert(LegacyLink).values(
            key="patient:17", kind="patient", target_id=patient.id, source_file="old.db"
        )
    )
    session.execute(
        insert(MigrationJournal).values(
            id="j-1",
            operation="import",
            source_path="C:/old/x.png",
            folder_path=images[0].folder_path,
            file_name="x.png",
            sha256="0" * 64,
            size_bytes=1,
            image_id=images[0].id,
            state="planned",
        )
    )
    session.commit()
    here = all_rows(runtime.engine)

    report = move_to_server(settings, runtime.engine, server_url, Progress())

    assert report["rows"]["legacy_links"] == 1 and report["rows"]["migration_journal"] == 1
    assert "store_locks" not in report["rows"]
    target = create_db_engine(server_url)
    try:
        assert all_rows(target) == here
    finally:
        target.dispose()


class FailingProgress(Progress):
    """Progress that breaks off (as a failure would) once `after` rows have been copied."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def advance(self, items: int = 1, nbytes: int = 0) -> None:
        super().advance(items, nbytes)
        if self.message == "Copying records" and self.current >= self.after:
            raise Cancelled()


def test_a_move_that_fails_while_copying_rows_leaves_nothing_and_can_be_retried(
    runtime, settings, clinic, server_url, tmp_path
):
    share = tmp_path / "share"
    with pytest.raises(Cancelled):
        move_to_server(
            settings, runtime.engine, server_url, FailingProgress(after=1), images_root=share
        )
    assert server_is_empty(server_url)
    assert [p for p in share.rglob("*") if p.is_file()] == []  # the copied images taken back
    assert load_settings(settings.data_dir).is_sqlite  # this PC was not switched

    report = move_to_server(settings, runtime.engine, server_url, Progress(), images_root=share)
    assert report["rows"]["images"] == 2 and report["images"]["copied"] == 2


def test_counts_are_checked_before_the_commit(runtime, settings, clinic, server_url, monkeypatch):
    real_count = server_move._count
    lied = []

    def count_missing_one_image(connection, table):
        n = real_count(connection, table)
        if connection.engine.dialect.name == "postgresql" and table.name == "images":
            lied.append(n)
            if len(lied) == 2:  # the check after the copy: as if one row did not arrive
                return n - 1
        return n

    monkeypatch.setattr(server_move, "_count", count_missing_one_image)
    with pytest.raises(Conflict, match="does not match"):
        move_to_server(settings, runtime.engine, server_url, Progress())
    assert server_is_empty(server_url)
    monkeypatch.undo()
    assert move_to_server(settings, runtime.engine, server_url, Progress())["rows"]["images"] == 2


def test_images_are_copied_before_the_rows_so_a_failed_image_copy_leaves_no_rows(
    runtime, settings, clinic, server_url, tmp_path
):
    share = tmp_path / "share"
    clash = share / clinic[2][0].relative_path
    clash.parent.mkdir(parents=True)
    clash.write_bytes(b"another clinic's file")
    with pytest.raises(Conflict, match="other content"):
        move_to_server(settings, runtime.engine, server_url, Progress(), images_root=share)
    assert server_is_empty(server_url)
    assert clash.read_bytes() == b"another clinic's file"  # not ours: never touched
    assert load_settings(settings.data_dir).is_sqlite

    clash.unlink()
    report = move_to_server(settings, runtime.engine, server_url, Progress(), images_root=share)
    assert report["images"]["copied"] == 2 and report["rows"]["patients"] == 1


def test_the_move_holds_the_store_lease_of_both_databases(
    runtime, settings, clinic, server_url, monkeypatch
):
    server_sessions = make_session_factory(create_db_engine(server_url))
    seen = []
    real_copy_rows = server_move.copy_rows

    def watching(*args, **kwargs):
        seen.append((current_lock(runtime.sessions), current_lock(server_sessions)))
        return real_copy_rows(*args, **kwargs)

    monkeypatch.setattr(server_move, "copy_rows", watching)
    move_to_server(settings, runtime.engine, server_url, Progress())
    [(here, there)] = seen
    assert here.operation == there.operation == "move to the server"
    assert current_lock(runtime.sessions) is None and current_lock(server_sessions) is None
    server_sessions.kw["bind"].dispose()


def test_no_move_while_a_backup_runs_elsewhere(runtime, settings, clinic, server_url):
    hold_store_lock_elsewhere(runtime, "backup", "RECEPTION-2 (process 7, abcdef)")
    with pytest.raises(StoreLockHeld, match="backup is running on RECEPTION-2"):
        move_to_server(settings, runtime.engine, server_url, Progress())
    assert server_counts(server_url)["patients"] == 0
    assert load_settings(settings.data_dir).is_sqlite
