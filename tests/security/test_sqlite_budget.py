"""The budget of the untrusted reader: a statement that would keep SQLite busy for ever is
stopped after the steps a file of its size may cost, with a sentence, and the file is left as
it was (read-only)."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import time

import pytest

from backend.untrusted_db import Budget, OverBudget, open_untrusted

ENDLESS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT max(x) FROM n"


@pytest.fixture
def small_database(tmp_path):
    path = tmp_path / "small.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
        connection.commit()
    return path


def test_an_endless_statement_is_stopped_by_the_step_budget(small_database):
    started = time.monotonic()
    with open_untrusted(small_database) as database, pytest.raises(OverBudget) as caught:
        database.all(ENDLESS)
    seconds = time.monotonic() - started
    print(f"\nendless statement stopped after {seconds:.2f} s")
    assert seconds < 10
    assert "stopped after" in str(caught.value) and "nothing of it is used" in str(caught.value)


def test_the_time_budget_stops_it_too(small_database):
    budget = Budget(base_steps=10**15, steps_per_page=0, base_seconds=0.5, seconds_per_mib=0)
    started = time.monotonic()
    with open_untrusted(small_database, budget) as database, pytest.raises(OverBudget):
        database.all(ENDLESS)
    assert time.monotonic() - started < 5


def test_the_reader_writes_nothing(small_database):
    before = hashlib.sha256(small_database.read_bytes()).hexdigest()
    with open_untrusted(small_database) as database:
        with pytest.raises(sqlite3.OperationalError):
            database.all("INSERT INTO t VALUES (2)")
        with pytest.raises(sqlite3.OperationalError):
            database.all("CREATE TABLE u (y)")
        assert database.all("SELECT x FROM t") == [(1,)]
    assert hashlib.sha256(small_database.read_bytes()).hexdigest() == before
