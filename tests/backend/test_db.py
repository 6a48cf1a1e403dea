import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from backend.db import _alembic_config, create_db_engine, schema_is_current, upgrade_schema
from tests import postgres

ROOT = Path(__file__).resolve().parents[2]


def test_start_creates_every_table_through_migrations(runtime):
    tables = set(inspect(runtime.engine).get_table_names())
    assert {"patients", "treatments", "images", "app_state", "alembic_version"} <= tables
    assert schema_is_current(runtime.engine)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(runtime, settings):
    if not settings.is_sqlite:
        pytest.skip("SQLite pragmas only")
    with runtime.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_second_start_applies_nothing(runtime, settings):
    engine = create_db_engine(settings.db_url)
    try:
        assert upgrade_schema(engine) is False
    finally:
        engine.dispose()


def test_foreign_keys_refuse_an_image_of_an_unknown_patient(runtime):
    with runtime.engine.connect() as connection, pytest.raises(IntegrityError):
        connection.execute(
            text(
                "INSERT INTO images (id, patient_id, tooth, image_type, folder_path, "
                "file_name, created_at, updated_at, size_bytes, sha256, width, height, "
                "format) VALUES ('x', 'nobody', '8', 'xray', 'f/', 'n.png', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1, 'h', 1, 1, 'PNG')"
            )
        )


UPGRADER = """
import sys, time
from backend.db import create_db_engine, upgrade_schema
engine = create_db_engine(sys.argv[1])
start = float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
print("applied" if upgrade_schema(engine) else "nothing to apply", flush=True)
"""


def test_pcs_starting_at_once_upgrade_a_shared_postgresql_database_once():
    admin = postgres.admin_url()
    name, url = postgres.empty_database(admin)
    try:
        start = time.time() + 4  # every PC has loaded the program by then
        pcs = [
            subprocess.Popen(
                [sys.executable, "-c", UPGRADER, url, str(start)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            for _ in range(3)
        ]
        outputs = [pc.communicate(timeout=120) for pc in pcs]
        assert [pc.returncode for pc in pcs] == [0, 0, 0], [err for _, err in outputs]
        assert sorted(out.strip() for out, _ in outputs) == [
            "applied",
            "nothing to apply",
            "nothing to apply",
        ]
        engine = create_db_engine(url)
        try:
            with engine.connect() as connection:
                versions = connection.execute(text("SELECT version_num FROM alembic_version"))
                heads = ScriptDirectory.from_config(_alembic_config(engine)).get_heads()
                assert [row[0] for row in versions] == heads
            assert schema_is_current(engine)
        finally:
            engine.dispose()
    finally:
        postgres.drop_database(admin, name)
