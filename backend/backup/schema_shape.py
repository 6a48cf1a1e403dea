"""What this program's database looks like at each schema revision, and what in an outside
database is not that.

The reference is made, not written down: our own migrations are run up to the revision into a
database in memory (and, for the newest revision, the models are also created directly, as a
backup taken from PostgreSQL does). An outside database is compared with it object by object:
tables by their columns and CHECK constraints, indexes by their definition. Triggers, views,
virtual tables, generated columns, unknown tables and indexes, and CHECKs or index expressions
we never wrote are all "foreign objects".

A foreign object refuses the archive rather than being skipped: this program never creates
one, so its presence proves the file was altered after it was written, and the person at the
desk cannot judge whether the rest of an altered database is what the clinic had. (Refusing is
also what keeps verify fast: a foreign object is found by reading the schema, before any of its
expressions could run.) SQLite's own statistics tables are not foreign: they are never read."""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass, field

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import StaticPool

from backend.i18n import gettext
from backend.models import Base
from backend.paths import migrations_dir
from backend.untrusted_db import UntrustedDatabase

SQLITE_OWN = frozenset({"sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3"})
SQLITE_OWN |= {"sqlite_stat4"}
SHOWN = 5

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\[[^\]]*\]|`[^`]*`|\w+|[^\s\w]")


@dataclass
class TableShape:
    columns: set[tuple[str, str]] = field(default_factory=set)  # (name, declared type)
    checks: set[str] = field(default_factory=set)


@dataclass
class SchemaShape:
    """Every shape our program gives its objects at one revision (the union of the ways a
    database of that revision is made)."""

    tables: dict[str, TableShape] = field(default_factory=dict)
    indexes: dict[str, set[str]] = field(default_factory=dict)  # name -> normalised SQL

    def columns(self, table: str) -> set[str]:
        return {name for name, _type in self.tables[table].columns}


def tokens(sql: str) -> list[str]:
    """SQL as tokens, quoting of names and case of words undone (string literals kept)."""
    found = []
    for token in _TOKEN.findall(sql):
        if token[0] in '"[`':
            token = token[1:-1]
        found.append(token if token.startswith("'") else token.lower())
    return found


def check_bodies(sql: str) -> set[str]:
    """The expression of every CHECK constraint in a CREATE TABLE statement, normalised."""
    words = tokens(sql)
    bodies = set()
    for start, word in enumerate(words):
        if word != "check" or start + 1 >= len(words) or words[start + 1] != "(":
            continue
        depth, end = 0, start + 1
        while end < len(words):
            depth += {"(": 1, ")": -1}.get(words[end], 0)
            if depth == 0:
                break
            end += 1
        bodies.add(" ".join(words[start + 2 : end]))
    return bodies


def _columns(connection: sqlite3.Connection, table: str) -> set[tuple[str, str]]:
    rows = connection.execute(f'PRAGMA table_xinfo("{table}")').fetchall()  # our own names
    return {(str(row[1]), str(row[2]).upper()) for row in rows}


def _add_schema(shape: SchemaShape, connection: sqlite3.Connection) -> None:
    for kind, name, _table, sql in connection.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master"
    ):
        if kind == "table" and name not in SQLITE_OWN:
            table = shape.tables.setdefault(name, TableShape())
            table.columns |= _columns(connection, name)
            table.checks |= check_bodies(sql or "")
        elif kind == "index" and sql:
            shape.indexes.setdefault(name, set()).add(" ".join(tokens(sql)))


def migrated_in_memory(revision: str) -> Engine:
    """A database in memory made by our migrations up to `revision` (the caller disposes of
    the engine, which holds its one connection)."""
    engine = create_engine(
        "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
    )
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    command.upgrade(config, revision)
    return engine


def _sqlite_driver(connection: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under an SQLAlchemy connection to an SQLite engine."""
    driver = connection.connection.driver_connection
    assert driver is not None  # an SQLite engine's pooled connection wraps its sqlite3 one
    sqlite: sqlite3.Connection = driver
    return sqlite


@functools.lru_cache(maxsize=1)
def fresh_database_bytes() -> bytes:
    """The whole file of a new, empty database of our newest schema, made by our migrations
    once per process (a restore or verify copies it rather than migrating again)."""
    engine = migrated_in_memory("heads")
    try:
        with engine.connect() as connection:
            image: bytes = _sqlite_driver(connection).serialize()
            return image
    finally:
        engine.dispose()


@functools.lru_cache(maxsize=16)
def reference_shape(revision: str) -> SchemaShape:
    """Our schema at `revision` (a revision our migrations know)."""
    shape = SchemaShape()
    engine = migrated_in_memory(revision)
    try:
        with engine.connect() as connection:
            _add_schema(shape, _sqlite_driver(connection))
    finally:
        engine.dispose()
    if revision in ScriptDirectory(str(migrations_dir())).get_heads():
        engine = create_engine("sqlite://", poolclass=StaticPool)
        try:
            Base.metadata.create_all(engine)
            with engine.connect() as connection:
                _add_schema(shape, _sqlite_driver(connection))
        finally:
            engine.dispose()
    return shape


def foreign_objects(database: UntrustedDatabase, revision: str) -> list[str]:
    """Every object of `database` that our program does not create at `revision`, each
    named with what it is ("trigger rename_patients", "view images", "table extra", "CHECK
    on patients"...). Reads only the schema."""
    reference = reference_shape(revision)
    foreign: list[str] = []
    for kind, name, table, sql in database.objects():
        name, sql = str(name), str(sql or "")
        if kind == "table" and name in SQLITE_OWN:
            continue
        if kind == "table" and name in reference.tables:
            foreign += _table_differences(database, name, sql, reference)
        elif kind == "index" and not sql and str(table) in reference.tables:
            continue  # the index SQLite keeps for a UNIQUE or PRIMARY KEY of a known table
        elif kind == "index" and " ".join(tokens(sql)) in reference.indexes.get(name, set()):
            continue
        else:
            foreign.append(f"{kind} {name[:80]}")
    return foreign


def _table_differences(
    database: UntrustedDatabase, name: str, sql: str, reference: SchemaShape
) -> list[str]:
    if tokens(sql)[:3] == ["create", "virtual", "table"]:
        return [f"virtual table {name}"]
    known = reference.tables[name]
    found = []
    for row in database.all(f'PRAGMA table_xinfo("{name}")'):  # a name of our own schema
        column, declared, hidden = str(row[1]), str(row[2]).upper(), row[6]
        if hidden:
            found.append(f"generated column {name}.{column[:60]}")
        elif (column, declared) not in known.columns:
            found.append(f"column {name}.{column[:60]} ({declared[:30]})")
    found += [f"CHECK ({body[:80]}) on {name}" for body in check_bodies(sql) - known.checks]
    return found


def describe(foreign: list[str]) -> str:
    """The sentence refusing an archive whose database holds `foreign` objects."""
    # One sentence for any count (a test reads this English for a single object); the
    # objects are named as SQLite names them ("trigger x", "CHECK (...) on y").
    return gettext(
        "The database in the backup holds {count} schema objects this program never creates "
        "({objects}): the file was altered after it was made, so nothing of it is restored. "
        "Use another backup.",
        count=len(foreign),
        objects=", ".join(foreign[:SHOWN]),
    )
