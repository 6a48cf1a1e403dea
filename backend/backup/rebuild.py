"""A backup's database is never adopted: a fresh database is made with our own migrations and
the known columns of the known tables are copied into it from the archive's file, opened as
untrusted data (backend.untrusted_db). Nothing of the archive's schema survives: no
trigger, view, index, constraint or default of its own, only values, each checked as the API
would check it (backend.backup.row_rules).

The archive may come from an older version of the program: its revision (alembic_version)
says which of our tables and columns it has; those are read, the columns added since take
their defaults. Verify and restore both go through `rebuild`, so what verify accepts is
exactly what a restore copies."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Table, create_engine

from backend.backup.dbcheck import known_revision
from backend.backup.errors import BackupInvalid
from backend.backup.row_rules import row_problem
from backend.backup.schema_shape import (
    describe,
    foreign_objects,
    fresh_database_bytes,
    reference_shape,
)
from backend.backup.snapshot import COUNTED_TABLES, SKIP_TABLES
from backend.config import sqlite_url
from backend.i18n import gettext
from backend.models import Base
from backend.search_keys import refresh_search_keys
from backend.taken_sources import derive_taken_sources
from backend.untrusted_db import (
    DEFAULT_BUDGET,
    Budget,
    OverBudget,
    UntrustedDatabase,
    open_untrusted,
)

MAX_PROBLEMS = 20
# The archive's own database file, unpacked beside the one rebuilt from it.
ARCHIVE_DATABASE = "archive-database.sqlite"
BATCH = 1000


@dataclass(frozen=True)
class Rebuilt:
    revision: str
    counts: dict[str, int]


def rebuild(source: Path, target: Path, *, budget: Budget = DEFAULT_BUDGET) -> Rebuilt:
    """Make a new database of our newest schema at `target` holding the rows of the outside
    database `source`. Raises BackupInvalid, each problem naming the object or the record,
    when `source` is damaged, altered, of an unknown schema, holds a record this program
    would not write, or costs more to read than its size allows; `target` is then removed."""
    try:
        with open_untrusted(source, budget) as database:
            revision = _revision(database)
            shape = reference_shape(revision)
            foreign = foreign_objects(database, revision)
            if foreign:
                raise BackupInvalid([describe(foreign)])
            kinds = {str(name): kind for kind, name, _t, _s in database.objects()}
            missing = [t for t in COUNTED_TABLES if kinds.get(t) != "table"]
            if missing:
                raise BackupInvalid(
                    [
                        gettext(
                            "The database in the backup has no {tables} table.",
                            tables=", ".join(missing),
                        )
                    ]
                )
            damage = [row[0] for row in database.all("PRAGMA integrity_check(20)")]
            if damage != ["ok"]:
                raise BackupInvalid(
                    [
                        gettext(
                            "The database in the backup is damaged ({damage}).",
                            damage="; ".join(damage[:3]),
                        )
                    ]
                )
            _new_database(target)
            with contextlib.closing(sqlite3.connect(target)) as writing:
                writing.execute("PRAGMA foreign_keys=ON")
                writing.execute("PRAGMA cache_size=-65536")  # 64 MB: indexes of a large clinic
                counts = _copy(database, writing, shape.tables.keys(), shape.columns)
                writing.commit()
                writing.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _derive_search_keys(target, taken_sources="taken_source" not in shape.columns("images"))
    except OverBudget as exc:
        _remove(target)
        raise BackupInvalid(
            [gettext("The database in the backup cannot be used. {reason}", reason=exc)]
        ) from exc
    except sqlite3.DatabaseError as exc:
        _remove(target)
        raise BackupInvalid(
            [gettext("The database in the backup cannot be read ({reason}).", reason=exc)]
        ) from exc
    except BaseException:
        _remove(target)
        raise
    return Rebuilt(revision, counts)


def _derive_search_keys(target: Path, *, taken_sources: bool) -> None:
    """The search keys are derived from each row's own values: computed here for every row,
    never taken from the archive (one from before the keys has none, and any archive's could
    disagree with its names). With `taken_sources` (an archive from before images had
    `taken_source`), each image's is derived as migration 0010 does."""
    engine = create_engine(sqlite_url(target))
    try:
        with engine.begin() as connection:
            refresh_search_keys(connection)
            if taken_sources:
                derive_taken_sources(connection)
    finally:
        engine.dispose()


def _revision(database: UntrustedDatabase) -> str:
    kinds = {name: kind for kind, name, _t, _s in database.objects()}
    if kinds.get("alembic_version") != "table":
        raise BackupInvalid(
            [
                gettext(
                    "The database in the backup has no schema revision: it was not made by "
                    "this program."
                )
            ]
        )
    row = database.one("SELECT version_num FROM alembic_version")
    revision = row[0] if row else None
    if not isinstance(revision, str) or not known_revision(revision):
        raise BackupInvalid(
            [
                gettext(
                    "The backup's database has schema {revision}, which this version of the "
                    "program does not know. Update the program, then restore it.",
                    revision=str(revision)[:40] if revision else gettext("unknown"),
                )
            ]
        )
    return revision


def _new_database(target: Path) -> None:
    """A new database of our newest schema at `target`, as our migrations make it."""
    _remove(target)
    with open(target, "xb") as handle:
        handle.write(fresh_database_bytes())


def _copy(
    database: UntrustedDatabase,
    writing: sqlite3.Connection,
    known: Iterable[str],
    columns_of: Callable[[str], set[str]],
) -> dict[str, int]:
    """Copy every table of our models that the archive's revision has (`known`), its columns
    that revision has (`columns_of`), in the order that keeps references satisfied."""
    known = set(known)
    counts: dict[str, int] = {}
    problems: list[str] = []
    present = {str(n): k for k, n, _t, _s in database.objects()}
    for table in Base.metadata.sorted_tables:
        if table.name in SKIP_TABLES or table.name not in known:
            continue
        if present.get(table.name) != "table":
            problems.append(
                gettext("The database in the backup has no {tables} table.", tables=table.name)
            )
            continue
        have = {str(row[1]) for row in database.all(f'PRAGMA table_info("{table.name}")')}
        columns = [c for c in table.columns if c.name in columns_of(table.name)]
        lacking = [c.name for c in columns if c.name not in have]
        if lacking:
            problems.append(
                gettext(
                    "The {table} table in the backup has no {columns} column.",
                    table=table.name,
                    columns=", ".join(lacking),
                )
            )
            continue
        counts[table.name] = _copy_table(database, writing, table, columns, problems)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise BackupInvalid(problems)
    return counts


def _copy_table(
    database: UntrustedDatabase,
    writing: sqlite3.Connection,
    table: Table,
    columns: list[Column[Any]],
    problems: list[str],
) -> int:
    names = ", ".join(f'"{c.name}"' for c in columns)  # names from our models
    insert = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join("?" * len(columns))})'
    copied = 0
    batch: list[tuple[Any, ...]] = []
    for values in database.rows(f'SELECT {names} FROM "{table.name}"'):
        problem = row_problem(table.name, columns, values)
        if problem is not None:
            problems.append(problem)
            if len(problems) >= MAX_PROBLEMS:
                break
        else:
            batch.append(values)
        copied += 1
        if len(batch) >= BATCH:
            database.check_budget()
            _insert(writing, insert, table.name, batch, problems)
            batch = []
    _insert(writing, insert, table.name, batch, problems)
    return copied


def _insert(
    writing: sqlite3.Connection,
    insert: str,
    table: str,
    batch: list[tuple[Any, ...]],
    problems: list[str],
) -> None:
    """Insert a batch at once; when our schema refuses one of its rows (a unique value
    repeated, a record pointing at one that is missing), find and name that row."""
    if not batch:
        return
    writing.execute("SAVEPOINT batch")
    try:
        writing.executemany(insert, batch)
        writing.execute("RELEASE batch")
        return
    except sqlite3.IntegrityError:
        writing.execute("ROLLBACK TO batch")
        writing.execute("RELEASE batch")
    for values in batch:
        try:
            writing.execute(insert, values)
        except sqlite3.IntegrityError as exc:
            problems.append(_integrity_problem(table, values, exc))
            if len(problems) >= MAX_PROBLEMS:
                return


def _integrity_problem(table: str, values: tuple[Any, ...], exc: sqlite3.IntegrityError) -> str:
    reason = str(exc)
    if "FOREIGN KEY" in reason:
        why = gettext("it points at a record the backup does not hold")
    elif "UNIQUE" in reason:
        why = gettext(
            "it repeats a value that must be unique ({columns})",
            columns=reason.split(":")[-1].strip(),
        )
    else:
        why = reason
    return gettext(
        "The {table} record {record} in the backup is not valid: {why}.",
        table=table,
        record=repr(str(values[0])[:60]),
        why=why,
    )


def _remove(target: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
