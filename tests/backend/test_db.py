import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from backend.db import create_db_engine, schema_is_current, upgrade_schema


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
