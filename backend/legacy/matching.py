"""Folder-only rows: several rows name one folder, so the row alone does not say which file is
its own. Rows and files are paired deterministically; what cannot be paired is reported, and
two rows never get one file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# `<stem>_<ms>-<ms>.<ext>` (the earlier app) or `<stem>-<ms>.<ext>` (ours): 13-digit ms times.
_MS_IN_NAME = re.compile(r"(?<!\d)(1\d{12})(?!\d)")
NEAR_MS = 120_000


@dataclass
class RowRef:
    """A folder-only row as the matcher sees it: its key and when it was created (ms)."""

    key: str
    created_ms: int | None


@dataclass
class FolderMatch:
    pairs: dict[str, Path] = field(default_factory=dict)  # row key -> file
    unmatched_rows: list[str] = field(default_factory=list)
    unmatched_files: list[Path] = field(default_factory=list)


def name_time_ms(name: str) -> int | None:
    """The first millisecond timestamp in a file name, if any."""
    found = _MS_IN_NAME.search(name)
    return int(found.group(1)) if found else None


def timestamp_ms(value: Any) -> int | None:
    """A legacy timestamp (ISO text, SQLite text, epoch ms or s) as epoch milliseconds, UTC
    when no zone is given."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value if value > 1e11 else value * 1000)
    text = str(value or "").strip().replace("Z", "+00:00")
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def match_folder(rows: Sequence[RowRef], files: Sequence[Path]) -> FolderMatch:
    """Pair rows with files of one folder.

    1. One row, one file: they belong together.
    2. As many rows as files: creation order of the rows against the order of the times in
       the file names (name order where a name has none).
    3. Otherwise: nearest time pairs within two minutes, closest first; rows and files left
       over are reported, never guessed.
    """
    result = FolderMatch()
    ordered_rows = sorted(rows, key=lambda r: (r.created_ms is None, r.created_ms or 0, r.key))
    ordered_files = sorted(files, key=lambda p: (name_time_ms(p.name) or 0, p.name, str(p)))
    same_count = len(ordered_rows) == len(ordered_files)
    if same_count and (len(ordered_rows) == 1 or _order_is_known(ordered_rows, ordered_files)):
        result.pairs = {r.key: f for r, f in zip(ordered_rows, ordered_files, strict=True)}
        return result
    candidates = []
    for row in ordered_rows:
        for path in ordered_files:
            file_ms = name_time_ms(path.name)
            if row.created_ms is not None and file_ms is not None:
                gap = abs(row.created_ms - file_ms)
                if gap <= NEAR_MS:
                    candidates.append((gap, row.key, path.name, str(path), row, path))
    taken_rows: set[str] = set()
    taken_files: set[Path] = set()
    for _gap, _key, _name, _full, row, path in sorted(candidates, key=lambda c: c[:4]):
        if row.key not in taken_rows and path not in taken_files:
            result.pairs[row.key] = path
            taken_rows.add(row.key)
            taken_files.add(path)
    result.unmatched_rows = [r.key for r in ordered_rows if r.key not in taken_rows]
    result.unmatched_files = [p for p in ordered_files if p not in taken_files]
    return result


def _order_is_known(rows: Sequence[RowRef], files: Sequence[Path]) -> bool:
    """Creation order pairs rows with files only when every row has a time (so the order is
    not an accident of ids) and every file a time in its name."""
    return all(r.created_ms is not None for r in rows) and all(
        name_time_ms(f.name) is not None for f in files
    )
