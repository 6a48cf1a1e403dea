"""A PC that dies while it holds the store lock blocks the others only until its lease runs out;
a process of this PC that dies blocks nobody."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.locks import Lease, StoreLockHeld, current_lock
from backend.models import StoreLock
from tests import postgres

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from datetime import timedelta
from backend.db import create_db_engine, make_session_factory
from backend.locks import Lease
sessions = make_session_factory(create_db_engine(sys.argv[1]))
Lease(sessions, "backup", lease=timedelta(seconds=float(sys.argv[2])))
print("held", flush=True)
time.sleep(600)
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dental.db'}"
        engine = create_db_engine(url)
        upgrade_schema(engine)
        engine.dispose()
        yield url
        return
    admin = postgres.admin_url()
    postgres.create_template(admin)
    name, url = postgres.fresh_database(admin)
    yield url
    postgres.drop_database(admin, name)


def test_a_killed_holders_lease_expires_and_can_be_taken(db_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url, "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        sessions = make_session_factory(create_db_engine(db_url))
        with pytest.raises(StoreLockHeld):
            Lease(sessions, "restore")
        _as_if_on_another_pc(sessions)  # its pid means nothing here: only the expiry tells
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 10
        while current_lock(sessions) is not None and time.monotonic() < deadline:
            time.sleep(0.25)
        lease = Lease(sessions, "restore", lease=timedelta(seconds=30))
        assert current_lock(sessions).operation == "restore"
        lease.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def _as_if_on_another_pc(sessions) -> None:
    with sessions() as session:
        session.execute(update(StoreLock).values(host="RECEPTION-2"))
        session.commit()


def test_a_lease_of_a_process_killed_on_this_pc_is_taken_over_at_once(db_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db_url, "90"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        sessions = make_session_factory(create_db_engine(db_url))
        with pytest.raises(StoreLockHeld) as caught:
            Lease(sessions, "migration")  # alive: refused, and told which process
        assert f"(process {holder.pid}," in caught.value.message
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        assert current_lock(sessions).pid == holder.pid  # still unexpired for ~90 s
        started = time.monotonic()
        lease = Lease(sessions, "migration", lease=timedelta(seconds=30))
        assert time.monotonic() - started < 5
        lock = current_lock(sessions)
        assert (lock.operation, lock.holder, lock.pid) == ("migration", lease.holder, os.getpid())
        lease.release()
    finally:
        if holder.poll() is None:
            holder.kill()
