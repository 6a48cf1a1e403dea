"""Opening a SQLite file that came from outside (a backup's database, the earlier app's) as
data, never as code, and never for longer than a real file of its size needs.

The connection is read-only (`mode=ro`), runs no schema-defined function or virtual table that
is not innocuous (`trusted_schema=OFF`), writes nothing (`query_only`), evaluates no CHECK
constraint while checking integrity (`ignore_check_constraints`), caps the length of any value
it builds, and works under a budget of virtual-machine steps and of seconds, both in proportion
to the file's size: a crafted expression that would keep SQLite busy for minutes is stopped and
reported as the hostile file it is."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEP_INTERVAL = 10_000  # virtual-machine instructions between two budget checks
PAGE_SIZE_ASSUMED = 4096
MAX_VALUE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Budget:
    """What reading a file may cost: a base allowance plus so much per 4 KB page of it.
    A real database needs a few thousand steps per page to be checked and read whole; the
    allowance is a hundred times that."""

    base_steps: int = 20_000_000
    steps_per_page: int = 400_000
    base_seconds: float = 20.0
    seconds_per_mib: float = 2.0

    def for_size(self, size_bytes: int) -> tuple[int, float]:
        pages = max(1, size_bytes // PAGE_SIZE_ASSUMED)
        steps = self.base_steps + pages * self.steps_per_page
        seconds = self.base_seconds + self.seconds_per_mib * size_bytes / (1024 * 1024)
        return steps, seconds


DEFAULT_BUDGET = Budget()


class OverBudget(Exception):
    """Reading the file took more steps or seconds than any real file of its size needs."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(
            f"Reading its database was stopped after {seconds:.1f} s: it makes SQLite work far "
            "longer than any real database of its size needs (a file made to stall the "
            "program), so nothing of it is used."
        )


class _Meter:
    def __init__(self, steps: int, seconds: float) -> None:
        self.calls_left = max(1, steps // STEP_INTERVAL)
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.exceeded = False

    def __call__(self) -> int:
        self.calls_left -= 1
        if self.calls_left <= 0 or time.monotonic() > self.deadline:
            self.exceeded = True
            return 1  # SQLite stops the statement with "interrupted"
        return 0

    def elapsed(self) -> float:
        return time.monotonic() - self.started


class UntrustedDatabase:
    """A read-only connection to an outside SQLite file under a budget. Every query goes
    through `rows`/`one`, which turn a stopped statement into OverBudget."""

    def __init__(self, connection: sqlite3.Connection, meter: _Meter) -> None:
        self.connection = connection
        self._meter = meter

    def rows(self, sql: str, parameters: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.connection.execute(sql, parameters)
        except sqlite3.OperationalError as exc:
            if self._meter.exceeded:
                raise OverBudget(self._meter.elapsed()) from exc
            raise

    def all(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return list(self.rows(sql, parameters))

    def one(self, sql: str, parameters: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        for row in self.rows(sql, parameters):
            return row
        return None

    def check_budget(self) -> None:
        """Also count the time spent on the rows in Python (validation between steps)."""
        if time.monotonic() > self._meter.deadline:
            raise OverBudget(self._meter.elapsed())

    def objects(self) -> list[tuple[str, str, str, str | None]]:
        """(type, name, table name, sql) of every schema object, read from the schema table
        itself, which no file can replace with a view."""
        return self.all("SELECT type, name, tbl_name, sql FROM sqlite_master")


@contextlib.contextmanager
def open_untrusted(path: Path, budget: Budget = DEFAULT_BUDGET) -> Iterator[UntrustedDatabase]:
    """Open the SQLite file at `path` as data under `budget` (see the module). Raises
    sqlite3.DatabaseError when it is not a database, OverBudget when reading costs too much."""
    path = Path(path)
    steps, seconds = budget.for_size(path.stat().st_size)
    meter = _Meter(steps, seconds)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        connection.set_progress_handler(meter, STEP_INTERVAL)
        for pragma in ("trusted_schema=OFF", "query_only=ON", "ignore_check_constraints=ON"):
            connection.execute(f"PRAGMA {pragma}")
        yield UntrustedDatabase(connection, meter)
    finally:
        connection.close()
