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
from typing import Any, TextIO

from backend.backup.errors import BackupInvalid
from backend.i18n import gettext
from backend.legacy.database import IMAGE_TABLES, PATIENT_IMAGES, TREATMENT_TABLES

MAX_EXPORT_BYTES = 256 * 1024 * 1024  # the earlier app's exports are far smaller
# Parsed one record at a time (see _StreamingExport): memory grows with the records kept, never
# with the file. A 210 MB file of empty objects parsed whole took 5 GB; no clinic's export holds
# a million records, nor one record of 16 MB.
MAX_RECORDS = 1_000_000
MAX_VALUE_CHARS = 16 * 1024 * 1024
_CHUNK_CHARS = 1024 * 1024
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
    except _TooLarge as exc:
        return {}, [str(exc)]
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


class _TooLarge(ValueError):
    """The export is beyond MAX_RECORDS or MAX_VALUE_CHARS; the message names the limit."""


class Skipped(list[Any]):
    """A list of records this program does not keep: empty, with the number it had."""

    def __init__(self, records: int) -> None:
        super().__init__()
        self.records = records


def _load(path: Path) -> Any:
    """The export's top-level object, read in chunks: the rows of the tables this program keeps,
    the other tables only counted (`Skipped`), anything else as it is. Not an object: parsed
    whole within MAX_VALUE_CHARS. ValueError when not JSON, _TooLarge beyond the limits."""
    with open(path, encoding="utf-8-sig") as handle:
        return _StreamingExport(handle).top()


class _StreamingExport:
    """A bounded incremental parse: json.JSONDecoder.raw_decode of one value at a time from a
    buffer that holds at most the current value and one chunk more."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.records = 0
        self.decoder = json.JSONDecoder()

    def _more(self) -> bool:
        if self.eof:
            return False
        chunk = self.handle.read(_CHUNK_CHARS)
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            while self.pos < len(self.buffer) and self.buffer[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ""

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise ValueError(f"expected {char!r} at character {self.pos} of a chunk")
        self.pos += 1

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
                if end < len(self.buffer) or self.eof:  # a number may go on in the next chunk
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                if self.eof:
                    raise
            if len(self.buffer) - self.pos > MAX_VALUE_CHARS:
                raise _TooLarge(
                    gettext(
                        "The .json file holds a value longer than {size} MB of text; no export "
                        "of the earlier app does: it is not one.",
                        size=MAX_VALUE_CHARS // (1024 * 1024),
                    )
                )
            self._more()

    def top(self) -> Any:
        if self._peek() != "{":
            return self._value() if self._peek() != "[" else self._list(keep=False)
        self.pos += 1
        result: dict[str, Any] = {}
        if self._peek() == "}":
            self.pos += 1
            return self._end(result)
        while True:
            key = self._value()
            if not isinstance(key, str):
                raise ValueError("an object key is not a string")
            self._expect(":")
            if self._peek() == "[":
                result[key] = self._list(keep=key in KEPT_TABLES)
            else:
                result[key] = self._value()
            if self._peek() == ",":
                self.pos += 1
                continue
            self._expect("}")
            return self._end(result)

    def _end(self, result: Any) -> Any:
        if self._peek() != "":
            raise ValueError("extra data after the export's object")
        return result

    def _list(self, *, keep: bool) -> list[Any]:
        self._expect("[")
        kept: list[Any] = []
        count = 0
        if self._peek() == "]":
            self.pos += 1
            return kept if keep else Skipped(0)
        while True:
            item = self._value()
            count += 1
            self.records += 1
            if self.records > MAX_RECORDS:
                raise _TooLarge(
                    gettext(
                        "The .json file holds more than {count} records; no export of the "
                        "earlier app holds as many: it is not one.",
                        count=f"{MAX_RECORDS:,}",
                    )
                )
            if keep:
                kept.append(item)
            if self._peek() == ",":
                self.pos += 1
                continue
            self._expect("]")
            return kept if keep else Skipped(count)


def not_kept_summary(data: dict[str, Any]) -> str | None:
    """A sentence naming what the export holds that this program does not keep, or None."""
    parts = []
    for key, value in data.items():
        if key in KEPT_TABLES or key == "metadata":
            continue
        count = len(value) if isinstance(value, list) else 0
        if isinstance(value, Skipped):
            count = value.records
        if count:
            parts.append(f"{count} {key}")
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
