"""One archive format for both engines: a backup made on PostgreSQL restores into SQLite, and a
backup of that restores back into PostgreSQL, with the same rows and byte-identical images."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from backend.backup.create import create_backup
from backend.backup.restore import restore_backup
from backend.config import load_settings
from backend.models import Image, LegacyLink
from backend.runtime import Runtime
from backend.startup import open_runtime
from tests import postgres
from tests.backup_data import files, populate, rows


@pytest.fixture
def installations(tmp_path, _pg_template):
    """open(name, engine): a new installation (its own data folder) on SQLite or on a fresh
    PostgreSQL database; all closed and dropped afterwards."""
    opened: list[Runtime] = []
    databases: list[str] = []

    def open_installation(name: str, engine: str) -> Runtime:
        settings = load_settings(tmp_path / name)
        if engine == "postgresql":
            database, url = postgres.fresh_database(_pg_template)
            databases.append(database)
            settings = replace(settings, db_url=url)
        runtime = open_runtime(settings)
        opened.append(runtime)
        assert runtime.engine.dialect.name == engine
        return runtime

    yield open_installation
    for runtime in opened:
        runtime.close()
    for database in databases:
        postgres.drop_database(_pg_template, database)


def image_bytes_of(runtime: Runtime) -> dict[str, bytes]:
    root = runtime.settings.images_dir
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_a_postgresql_backup_restores_into_sqlite_and_back_into_postgresql(installations):
    clinic = installations("clinic", "postgresql")
    ids = populate(clinic)
    with clinic.sessions() as session:
        session.execute(
            insert(LegacyLink).values(
                key="patient:42", kind="patient", target_id=ids[0], source_file="old.db"
            )
        )
        session.commit()
    before_rows = rows(clinic)
    before_images = image_bytes_of(clinic)
    assert len(before_rows["patients"]) == 3 and len(before_rows["images"]) == 9
    assert len(before_images) == 9 and before_rows["legacy_links"]

    from_postgresql = create_backup(clinic, clinic.settings.backups_dir).path
    laptop = installations("laptop", "sqlite")
    restore_backup(laptop, from_postgresql)

    assert rows(laptop) == before_rows
    assert image_bytes_of(laptop) == before_images
    assert files(laptop.settings.images_dir) == files(clinic.settings.images_dir)

    from_sqlite = create_backup(laptop, laptop.settings.backups_dir).path
    server = installations("server", "postgresql")
    restore_backup(server, from_sqlite)

    assert rows(server) == before_rows
    assert image_bytes_of(server) == before_images
    for runtime in (laptop, server):  # and every row names its own file
        with runtime.sessions() as session:
            for image in session.scalars(select(Image)):
                relative = Path(image.relative_path).relative_to("dental_images").as_posix()
                assert (
                    runtime.store.path_of(image.relative_path).read_bytes()
                    == (before_images[relative])
                )
