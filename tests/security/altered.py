"""A real backup made by the program, with its database altered by a test: the manifest agrees
with the altered file (size, checksum, and optionally the counts), so only the alteration
itself can give the archive away."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path


def altered_backup(
    good: Path,
    target: Path,
    work: Path,
    alter: Callable[[sqlite3.Connection], None],
    *,
    recount: bool = True,
) -> Path:
    """`good` with `alter(connection)` applied to its database.sqlite (committed), written to
    `target`. With `recount`, the manifest's counts become those of the altered tables."""
    database = work / f"{target.stem}-database.sqlite"
    database.unlink(missing_ok=True)
    with zipfile.ZipFile(good) as source:
        manifest = json.loads(source.read("manifest.json"))
        database.write_bytes(source.read("database.sqlite"))
        with contextlib.closing(sqlite3.connect(database)) as connection:
            alter(connection)
            connection.commit()
            if recount:
                for table in ("patients", "treatments", "images"):
                    (count,) = connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
                    manifest["counts"][table] = count
            connection.execute("PRAGMA journal_mode=DELETE")
        data = database.read_bytes()
        manifest["entries"]["database.sqlite"] = {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in source.infolist():
                if info.filename == "manifest.json":
                    continue
                if info.filename == "database.sqlite":
                    out.writestr("database.sqlite", data)
                else:
                    out.writestr(info, source.read(info))
            out.writestr("manifest.json", json.dumps(manifest))
    database.unlink()
    return target


def recreate_with(connection: sqlite3.Connection, table: str, extra_sql: str) -> None:
    """Recreate `table` with its own definition plus `extra_sql` inserted before its closing
    parenthesis (a constraint), keeping its rows (inserted without checking constraints)."""
    (sql,) = connection.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    connection.execute("PRAGMA foreign_keys=OFF")
    connection.execute("PRAGMA ignore_check_constraints=ON")
    connection.execute("PRAGMA legacy_alter_table=ON")  # other tables keep naming `table`
    connection.execute(f'ALTER TABLE "{table}" RENAME TO "{table}_old"')
    head, _close = sql.rstrip().rsplit(")", 1)
    connection.execute(f"{head}, {extra_sql})")
    connection.execute(f'INSERT INTO "{table}" SELECT * FROM "{table}_old"')
    connection.execute(f'DROP TABLE "{table}_old"')
