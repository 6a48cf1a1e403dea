"""A consistent copy of the database as one SQLite file, whatever the live engine (so one
archive format restores into SQLite and PostgreSQL alike), and the way back: the rows of such a
file loaded into a live database in one transaction."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, create_engine, delete

from backend.config import sqlite_url
from backend.db import copy_table_rows
from backend.models import Base

# Leases belong to running processes, not to the clinic's data.
SKIP_TABLES = frozenset({"store_locks"})
COUNTED_TABLES = ("patients", "treatments", "images")


@dataclass(frozen=True)
class SnapshotFacts:
    schema_version: str | None
    counts: dict[str, int]


def snapshot_database(engine: Engine, target: Path) -> SnapshotFacts:
    """Write a consistent copy of the live database to the new SQLite file `target`: SQLite's
    online backup (never the live file itself), or for other engines the same rows copied in
    one repeatable-read transaction into the same schema."""
    if engine.dialect.name == "sqlite":
        _online_backup(engine, target)
    else:
        copy_to_sqlite(engine, target)
    with contextlib.closing(sqlite3.connect(target)) as connection:
        for table in SKIP_TABLES:
            connection.execute(f'DELETE FROM "{table}"')
        connection.commit()
        connection.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    return read_facts(target)


def _online_backup(engine: Engine, target: Path) -> None:
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert source is not None  # an SQLite engine's pooled connection wraps its sqlite3 one
        with contextlib.closing(sqlite3.connect(target)) as destination:
            source.backup(destination)  # one step: a single read transaction
    finally:
        raw.close()


def copy_to_sqlite(source: Engine, target: Path) -> None:
    """Copy every table of the schema from `source` into a new SQLite file with the same
    schema, stamped with the source's schema revision."""
    destination = create_engine(sqlite_url(target))
    try:
        Base.metadata.create_all(destination)
        reading = source.connect()
        if source.dialect.name == "postgresql":
            reading = reading.execution_options(isolation_level="REPEATABLE READ")
        with reading, reading.begin(), destination.begin() as writing:
            revision = MigrationContext.configure(reading).get_current_revision()
            _copy_tables(reading, writing)
            writing.exec_driver_sql(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
            if revision:
                writing.exec_driver_sql(
                    "INSERT INTO alembic_version (version_num) VALUES (?)", (revision,)
                )
    finally:
        destination.dispose()


def _copy_tables(reading: Connection, writing: Connection) -> None:
    copy_table_rows(
        reading, writing, [t for t in Base.metadata.sorted_tables if t.name not in SKIP_TABLES]
    )


def load_into(
    engine: Engine, snapshot: Path, *, finish: Callable[[Connection], None] | None = None
) -> None:
    """Replace every row of the live database with the rows of the SQLite file `snapshot`
    (already at the live schema), in one transaction: all of them or none. `finish(connection)`
    runs inside the same transaction, before the commit."""
    source = create_engine(sqlite_url(snapshot))
    try:
        with source.connect() as reading, engine.begin() as writing:
            tables = [t for t in Base.metadata.sorted_tables if t.name not in SKIP_TABLES]
            for table in reversed(tables):
                writing.execute(delete(table))
            _copy_tables(reading, writing)
            if finish is not None:
                finish(writing)
    finally:
        source.dispose()


def read_facts(path: Path) -> SnapshotFacts:
    """The schema revision and the row counts of a SQLite snapshot."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.DatabaseError:
            row = None
        counts = {
            table: connection.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
            for table in COUNTED_TABLES
        }
    return SnapshotFacts(schema_version=row[0] if row else None, counts=counts)


def live_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the live database, for the restore preview: what the person at the desk
    sees, so the trash apart (its patients and images counted under `trash_patients` and
    `trash_images`)."""
    live = {
        "patients": 'SELECT COUNT(*) FROM "patients" WHERE deleted_at IS NULL',
        "treatments": 'SELECT COUNT(*) FROM "treatments" WHERE patient_id IN '
        '(SELECT id FROM "patients" WHERE deleted_at IS NULL)',
        "images": 'SELECT COUNT(*) FROM "images" WHERE deleted_at IS NULL',
        "trash_patients": 'SELECT COUNT(*) FROM "patients" WHERE deleted_at IS NOT NULL',
        "trash_images": 'SELECT COUNT(*) FROM "images" WHERE deleted_at IS NOT NULL',
    }
    with engine.connect() as connection:
        counts = {
            table: connection.exec_driver_sql(query).scalar_one() for table, query in live.items()
        }
        for table in COUNTED_TABLES:
            if table not in counts:
                counts[table] = connection.exec_driver_sql(
                    f'SELECT COUNT(*) FROM "{table}"'
                ).scalar_one()
    return counts
