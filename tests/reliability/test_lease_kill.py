"""A PC that dies while it holds the store lock blocks the others only until its lease runs out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.locks import Lease, StoreLockHeld, current_lock
from tests import postgres

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys, time
from datetime import timedelta
from backend.db import create_db_engine, make_session_factory
from backend.locks import Lease
sessions = make_session_factory(create_db_engine(sys.argv[1]))
Lease(sessions, "backup", lease=timedelta(seconds=3))
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
        [sys.executable, "-c", HOLDER, db_url], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        sessions = make_session_factory(create_db_engine(db_url))
        with pytest.raises(StoreLockHeld):
            Lease(sessions, "restore")
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
