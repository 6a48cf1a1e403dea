"""The earlier app's SQLite database, read from a private copy so that the original is never
opened for writing (nor locked while the earlier app may still run)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.errors import ValidationError

DB_NAME = "dental_clinic.db"
SQLITE_MAGIC = b"SQLite format 3\x00"
TREATMENT_TABLES = ("tooth_treatments", "dental_treatments")
IMAGE_TABLES = {  # image table -> its column linking to a treatment
    "tooth_treatment_images": "tooth_treatment_id",
    "dental_treatment_images": "dental_treatment_id",
}
PATIENT_IMAGES = "patient_images"


@dataclass
class LegacyDatabase:
    """Every row the import needs, read once: {table: [row dicts]} for the tables present,
    the CREATE statements (the notation's evidence) and the schema versions."""

    path: Path
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    create_sql: dict[str, str] = field(default_factory=dict)
    schema_versions: list[int] = field(default_factory=list)

    def rows(self, table: str) -> list[dict[str, Any]]:
        return self.tables.get(table, [])

    def has(self, table: str) -> bool:
        return table in self.tables


def read_database(path: Path) -> LegacyDatabase:
    """Read the legacy database at `path`. Raises ValidationError when it is not an SQLite
    database or has no patients table."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise ValidationError(f"{path} cannot be read: {exc.strerror}.", field="source") from exc
    if magic != SQLITE_MAGIC:
        raise ValidationError(f"{path} is not an SQLite database.", field="source")
    with tempfile.TemporaryDirectory(prefix="legacy-db-") as folder:
        copy = Path(folder) / DB_NAME
        shutil.copyfile(path, copy)
        for suffix in ("-wal", "-shm"):  # a database the earlier app left open
            sidecar = path.with_name(path.name + suffix)
            if sidecar.is_file():
                shutil.copyfile(sidecar, copy.with_name(copy.name + suffix))
        connection = sqlite3.connect(copy)
        try:
            return _read(connection, path)
        except sqlite3.DatabaseError as exc:
            raise ValidationError(f"{path} cannot be read: {exc}.", field="source") from exc
        finally:
            connection.close()


def _read(connection: sqlite3.Connection, path: Path) -> LegacyDatabase:
    connection.row_factory = sqlite3.Row
    schema = {
        row["name"]: row["sql"] or ""
        for row in connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    }
    if "patients" not in schema:
        raise ValidationError(
            f"{path} is not the earlier app's database (it has no patients table).",
            field="source",
        )
    database = LegacyDatabase(path=path, create_sql=schema)
    for table in ("patients", *TREATMENT_TABLES, *IMAGE_TABLES, PATIENT_IMAGES):
        if table in schema:
            cursor = connection.execute(f'SELECT * FROM "{table}"')  # names from our own list
            database.tables[table] = [dict(row) for row in cursor]
    if "schema_version" in schema:
        versions = connection.execute("SELECT version FROM schema_version")
        database.schema_versions = sorted(
            int(v) for (v,) in versions if isinstance(v, int | str) and str(v).isdigit()
        )
    return database
