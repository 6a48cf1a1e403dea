"""The database lifecycle: engine, sessions, and schema upgrades applied at start."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Table, create_engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from backend.paths import migrations_dir

COPY_BATCH = 1000  # rows read and written at a time by copy_table_rows


def create_db_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys and a busy timeout on every
    connection; other engines are used as configured."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", _back_to_normal_sync)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


_DURABLE = "dental_images.durable"


def durable_commits(session: Session) -> None:
    """Make the commits of `session` durable when they return (they survive a power cut):
    call before the session writes anything. What an original may be removed after must be
    committed this way.

    PostgreSQL commits durably by itself. SQLite here runs in WAL mode with synchronous=NORMAL,
    where a commit reaches the disk only at the next checkpoint; this session's connection runs
    with synchronous=FULL instead, which syncs the WAL at each commit, and goes back to NORMAL
    when it returns to the pool. (SQLite refuses the change inside a transaction: hence before
    any write.)"""
    if session.get_bind().dialect.name != "sqlite":
        return
    connection = session.connection()
    connection.exec_driver_sql("PRAGMA synchronous=FULL")
    connection.info[_DURABLE] = True


def _back_to_normal_sync(dbapi_connection: sqlite3.Connection, record: ConnectionPoolEntry) -> None:
    if record.info.pop(_DURABLE, False):
        try:
            dbapi_connection.execute("PRAGMA synchronous=NORMAL")
        except Exception:  # still in a transaction: FULL is only slower, never less safe
            record.info[_DURABLE] = True


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for work outside a request (CLI, jobs): rolled back on error, always closed."""
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest schema revision (a cheap read, no upgrade)."""
    heads = set(ScriptDirectory.from_config(_alembic_config(engine)).get_heads())
    with engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    return current == heads


# pg_advisory_lock key of the schema upgrade: the same on every PC (any fixed 64-bit number).
UPGRADE_LOCK_KEY = 0x64656E74616C  # "dental"


def upgrade_schema(engine: Engine) -> bool:
    """Bring the schema to the newest revision. Returns True when anything was applied.

    Several PCs may start at once after an update, all on one PostgreSQL database: there the
    upgrade runs under an advisory lock (the first PC upgrades, the others wait, then find the
    schema current and apply nothing). The lock belongs to a connection of its own and goes
    with it if the process dies. SQLite needs none: its database file belongs to one PC."""
    if schema_is_current(engine):
        return False
    with _upgrade_lock(engine):
        if schema_is_current(engine):  # another PC upgraded while this one waited
            return False
        command.upgrade(_alembic_config(engine), "head")
    return True


@contextmanager
def _upgrade_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": UPGRADE_LOCK_KEY})
        try:
            yield
        finally:
            try:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": UPGRADE_LOCK_KEY}
                )
            except Exception:
                connection.invalidate()  # a closed connection holds no lock


def copy_table_rows(
    reading: Connection,
    writing: Connection,
    tables: Iterable[Table],
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Copy every row of `tables` (parents before children) from `reading` into `writing`,
    in batches, whatever the two engines; `on_batch(rows)` after each batch. Returns the rows
    written per table. The one whole-database copy loop: snapshots, their loading back, and
    the move onto a database server use it."""
    written: dict[str, int] = {}
    for table in tables:
        written[table.name] = 0
        rows = reading.execute(select(table).execution_options(yield_per=COPY_BATCH)).mappings()
        for batch in rows.partitions(COPY_BATCH):
            writing.execute(insert(table), [dict(row) for row in batch])
            written[table.name] += len(batch)
            if on_batch is not None:
                on_batch(len(batch))
    return written
