"""The earlier app's oldest backup: a whole-database `.json` export, an object of the shape
`{"metadata": {...}, "patients": [...], "appointments": [...], "payments": [...],
"treatments": [...], "settings": {...}}` whose lists hold table rows. It is turned into a
database of the earlier app's schema, so that the one legacy importer brings it in exactly as it
brings in a `.db`. This program keeps patients, their tooth treatments and their images; the
other parts (appointments, payments, the treatment list, settings) are counted and named in a
warning, never silently dropped."""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from backend.backup.errors import BackupInvalid
from backend.legacy.database import IMAGE_TABLES, PATIENT_IMAGES, TREATMENT_TABLES

MAX_EXPORT_BYTES = 256 * 1024 * 1024  # parsed whole; the earlier app's exports are far smaller
KEPT_TABLES = ("patients", *TREATMENT_TABLES, *IMAGE_TABLES, PATIENT_IMAGES)
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def read_export(path: Path) -> dict[str, Any]:
    """The parsed export. Raises BackupInvalid, each problem in its own sentence, when the file
    is too large, not JSON, or not the earlier app's export (an object with a `patients` list
    of rows)."""
    data, problems = examine_export(path)
    if problems:
        raise BackupInvalid(problems)
    return data


def examine_export(path: Path) -> tuple[dict[str, Any], list[str]]:
    """The file read once: its data and what makes it unusable as the earlier app's .json
    export (no problems: it is one; with problems the data is empty)."""
    size = path.stat().st_size
    if size > MAX_EXPORT_BYTES:
        return {}, [
            f"The .json file is {size // (1024 * 1024)} MB, more than any export of the "
            "earlier app: it is not one."
        ]
    try:
        data = _load(path)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, [f"The file is not readable JSON ({exc})."]
    if not isinstance(data, dict) or not isinstance(data.get("patients"), list):
        return {}, [
            "The .json file is not an export of the earlier app: it has no list of patients."
        ]
    problems = []
    for table in KEPT_TABLES:
        rows = data.get(table, [])
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            problems.append(f'"{table}" in the .json file is not a list of records.')
    return (data if not problems else {}), problems


def _load(path: Path) -> Any:
    with open(path, encoding="utf-8-sig") as handle:
        return json.load(handle)


def not_kept_summary(data: dict[str, Any]) -> str | None:
    """A sentence naming what the export holds that this program does not keep, or None."""
    parts = []
    for key, value in data.items():
        if key in KEPT_TABLES or key == "metadata":
            continue
        if isinstance(value, list) and value:
            parts.append(f"{len(value)} {key}")
        elif isinstance(value, dict) and value:
            parts.append(key)
    if not parts:
        return None
    return (
        "This program keeps patients, tooth treatments and images; the export's "
        + ", ".join(parts)
        + " are not brought in (keep the .json file if they are still needed)."
    )


def write_legacy_database(data: dict[str, Any], database: Path) -> dict[str, int]:
    """Write the export's tables that this program keeps into a new SQLite file of the earlier
    app's schema at `database`; returns {table: rows written}."""
    written = {}
    with closing(sqlite3.connect(database)) as connection:
        for table in KEPT_TABLES:
            rows = [_snake_keys(row) for row in data.get(table, []) if isinstance(row, dict)]
            if table != "patients" and not rows:
                continue
            columns = _columns(table, rows)
            names = ", ".join(f'"{c}"' for c in columns)
            connection.execute(f'CREATE TABLE "{table}" ({names})')  # names checked above
            marks = ", ".join("?" for _ in columns)
            connection.executemany(
                f'INSERT INTO "{table}" ({names}) VALUES ({marks})',
                [[_cell(row.get(c)) for c in columns] for row in rows],
            )
            written[table] = len(rows)
        connection.commit()
    return written


def _columns(table: str, rows: list[dict[str, Any]]) -> list[str]:
    """Every key the rows use that can be a column; SQLite's names ignore case, so of `Id` and
    `id` the first seen is kept."""
    columns = {"id": "id", "patient_id": "patient_id"} if table != "patients" else {"id": "id"}
    for row in rows:
        for key in row:
            if _COLUMN.match(key):
                columns.setdefault(key.lower(), key)
    return list(columns.values())


def _snake_keys(row: dict[str, Any]) -> dict[str, Any]:
    """Keys as the database columns spell them (`fullName` -> `full_name`), where the row does
    not already carry the column's own spelling."""
    out = dict(row)
    for key, value in row.items():
        snake = _CAMEL.sub(r"_\1", key).lower()
        out.setdefault(snake, value)
    return out


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value
