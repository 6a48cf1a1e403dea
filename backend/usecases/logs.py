"""The newest records of the program's log, read from the end of the file in blocks so a big
log costs no more than the records shown."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from backend import validation as check
from backend.config import Settings
from backend.logging_setup import LOG_FILE_NAME

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
FILTER_LEVELS = ("debug", "info", "warning", "error")
DEFAULT_LIMIT = 200
MAX_LIMIT = 2000
BLOCK_SIZE = 64 * 1024
MAX_BACKUPS = 20

# The first line of a record as logging_setup.FORMAT writes it; other lines continue the record
# above them (tracebacks, multi-line messages).
_RECORD = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<clock>\d{2}:\d{2}:\d{2}),(?P<ms>\d{3}) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<logger>\S+?): (?P<message>.*)$"
)


def log_file_path(settings: Settings) -> Path:
    """The current log file of an installation (older ones are `<name>.1`, `<name>.2`...)."""
    return settings.logs_dir / LOG_FILE_NAME


def recent_entries(
    log_file: Path, *, level: Any = None, limit: Any = None, query: Any = None
) -> list[dict[str, str]]:
    """Up to `limit` records, newest first, of at least `level` (DEBUG, INFO, WARNING or ERROR)
    whose logger or message contains `query` (any case). Rotated older files are read when the
    current one holds too few. Each record: {"time", "level", "logger", "message"}; `time` is
    local time as YYYY-MM-DDTHH:MM:SS.mmm and `message` keeps its continuation lines."""
    minimum = LEVELS[check.choice(level, "level", FILTER_LEVELS, default="debug").upper()]
    count = check.optional_int(limit, "limit", minimum=1, maximum=MAX_LIMIT) or DEFAULT_LIMIT
    text = check.text(query, "q", max_length=200)
    needle = text.casefold() if text else None
    entries: list[dict[str, str]] = []
    for path in _log_files(log_file):
        for entry in _records(_reversed_lines(path)):
            if LEVELS[entry["level"]] < minimum:
                continue
            if needle and needle not in f"{entry['logger']} {entry['message']}".casefold():
                continue
            entries.append(entry)
            if len(entries) >= count:
                return entries
    return entries


def _log_files(log_file: Path) -> Iterator[Path]:
    """The current file, then the rotated ones from newest to oldest, as far as they exist."""
    if log_file.is_file():
        yield log_file
    for number in range(1, MAX_BACKUPS + 1):
        backup = log_file.with_name(f"{log_file.name}.{number}")
        if not backup.is_file():
            return
        yield backup


def _records(lines_from_end: Iterable[str]) -> Iterator[dict[str, str]]:
    """Records from lines read last to first. Lines above a file's first record (none in a file
    this program wrote) belong to no record and are skipped."""
    continuation: list[str] = []
    for line in lines_from_end:
        match = _RECORD.match(line)
        if match is None:
            continuation.append(line)
            continue
        message = "\n".join([match["message"], *reversed(continuation)]).rstrip()
        continuation.clear()
        yield {
            "time": f"{match['date']}T{match['clock']}.{match['ms']}",
            "level": match["level"],
            "logger": match["logger"],
            "message": message,
        }


def _reversed_lines(path: Path) -> Iterator[str]:
    """The lines of `path` as it is now, last first."""
    try:
        with open(path, "rb") as handle:
            yield from _lines_backwards(handle)
    except FileNotFoundError:  # rotated away since it was listed
        return


def _lines_backwards(handle: BinaryIO) -> Iterator[str]:
    """Lines from the current end of `handle` back to its start, reading blocks backwards."""
    position = handle.seek(0, os.SEEK_END)
    if position == 0:
        return
    partial = b""  # the start of a line whose beginning lies in the next block back
    at_end = True
    while position > 0:
        step = min(BLOCK_SIZE, position)
        position -= step
        handle.seek(position)
        pieces = (handle.read(step) + partial).split(b"\n")
        partial = pieces[0]
        complete = pieces[1:]
        if at_end and complete and complete[-1] == b"":
            complete.pop()  # the newline that ends the file ends no further line
        at_end = False
        for raw in reversed(complete):
            yield _text(raw)
    yield _text(partial)


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="replace")
