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
from backend.i18n import gettext
from backend.untrusted_db import OverBudget, UntrustedDatabase, open_untrusted

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
    # In WAL mode (header bytes 18-19), copied while open without its -wal: rows may be missing.
    wal_missing: bool = False

    def warnings(self) -> list[str]:
        """What the person must know about this copy before trusting its counts."""
        if not self.wal_missing:
            return []
        return [
            f"{self.path.name} was written in WAL mode and no {self.path.name}-wal lies beside "
            "it: the rows the earlier app wrote last may be missing from this copy (their "
            "files may still be there; files no record names are listed)."
        ]

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
            header = handle.read(20)
            magic = header[: len(SQLITE_MAGIC)]
    except OSError as exc:
        raise ValidationError(
            gettext("{path} cannot be read: {strerror}.", path=path, strerror=exc.strerror),
            field="source",
        ) from exc
    if magic != SQLITE_MAGIC:
        raise ValidationError(
            gettext("{path} is not an SQLite database.", path=path), field="source"
        )
    with tempfile.TemporaryDirectory(prefix="legacy-db-") as folder:
        copy = Path(folder) / DB_NAME
        shutil.copyfile(path, copy)
        for suffix in ("-wal", "-shm"):  # a database the earlier app left open
            sidecar = path.with_name(path.name + suffix)
            if sidecar.is_file():
                shutil.copyfile(sidecar, copy.with_name(copy.name + suffix))
        has_wal = path.with_name(path.name + "-wal").is_file()
        try:
            # The copy is opened as data, never as code: read-only, no schema-defined function
            # or trigger runs, and a file made to keep SQLite busy is stopped (untrusted_db).
            with open_untrusted(copy) as untrusted:
                database = _read(untrusted, path, has_wal)
            # A -shm exists only while the database is open: with it but no -wal, the copy was
            # taken from a running app without the file that holds its newest rows.
            shm = path.with_name(path.name + "-shm").is_file()
            database.wal_missing = header[18:20] == b"\x02\x02" and shm and not has_wal
            return database
        except OverBudget as exc:
            raise ValidationError(
                gettext("{name} cannot be used. {problem}", name=path.name, problem=exc),
                field="source",
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise ValidationError(
                gettext("{path} cannot be read: {exc}.", path=path, exc=exc), field="source"
            ) from exc


def _read(untrusted: UntrustedDatabase, path: Path, has_wal: bool = False) -> LegacyDatabase:
    schema = {
        str(name): sql or "" for kind, name, _table, sql in untrusted.objects() if kind == "table"
    }
    if "patients" not in schema:
        if not schema and not has_wal:
            # The earlier app kept its rows in the -wal file until a checkpoint: a .db copied
            # without it can be an empty shell.
            raise ValidationError(
                gettext(
                    "{name} holds no tables: it looks like the earlier app's database copied "
                    "without its {name}-wal file, which holds the newest rows. Copy both files "
                    "(and any -shm) together and choose the .db again.",
                    name=path.name,
                ),
                field="source",
            )
        if has_wal:
            message = gettext(
                "{name} is not the earlier app's database (it has no patients table).",
                name=path.name,
            )
        else:
            message = gettext(
                "{name} is not the earlier app's database (it has no patients table); if it was "
                "copied without its {name}-wal file, rows may be missing.",
                name=path.name,
            )
        raise ValidationError(message, field="source")
    database = LegacyDatabase(path=path, create_sql=schema)
    for table in ("patients", *TREATMENT_TABLES, *IMAGE_TABLES, PATIENT_IMAGES):
        if table in schema:
            # Stored columns only, named: a generated column's expression never runs.
            columns = [
                str(row[1])
                for row in untrusted.all(f'PRAGMA table_xinfo("{table}")')  # our own list
                if not row[6]
            ]
            names = ", ".join('"' + c.replace('"', '""') + '"' for c in columns)
            rows = untrusted.rows(f'SELECT {names} FROM "{table}"') if columns else iter(())
            database.tables[table] = [dict(zip(columns, row, strict=True)) for row in rows]
    if "schema_version" in schema:
        versions = untrusted.rows("SELECT version FROM schema_version")
        database.schema_versions = sorted(
            int(v) for (v,) in versions if isinstance(v, int | str) and str(v).isdigit()
        )
    return database
