"""The PostgreSQL test databases clean up after themselves, also after a killed run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from tests import postgres
from tests.helpers import dead_pid

ROOT = Path(__file__).resolve().parents[2]


def database_names(admin: str) -> set[str]:
    engine = create_engine(admin)
    try:
        with engine.connect() as connection:
            return set(connection.execute(text("SELECT datname FROM pg_database")).scalars())
    finally:
        engine.dispose()


def test_the_template_is_dropped_when_the_test_process_ends():
    admin = postgres.admin_url()
    script = (
        "import os, sys\n"
        "from tests import postgres\n"
        "postgres.create_template(sys.argv[1])\n"
        "print(postgres.TEMPLATE, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, admin],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    template = done.stdout.strip()
    assert template.startswith("dental_images_template_")
    assert template not in database_names(admin)


def test_leftovers_of_killed_runs_are_dropped_and_live_runs_kept():
    admin = postgres.admin_url()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = dead_pid()
    names = {
        "stale template": f"dental_images_template_{dead}",
        "stale copy": f"dental_test_{dead}_0123456789ab",
        "live template": f"dental_images_template_{sleeper.pid}",
    }
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            # as an earlier version of this module left it: no comment
            connection.execute(text(f'CREATE DATABASE "{names["stale template"]}"'))
            postgres._create(connection, names["stale copy"])
            postgres._create(connection, names["live template"])
        dropped = postgres.drop_stale_databases(admin)
        present = database_names(admin)
        assert {names["stale template"], names["stale copy"]} <= set(dropped)
        assert names["stale template"] not in present and names["stale copy"] not in present
        assert names["live template"] in present
    finally:
        sleeper.kill()
        sleeper.wait()
        postgres.drop_database(admin, names["live template"])
        engine.dispose()


def test_databases_of_the_other_os_on_this_machine_are_left_to_it():
    """Windows Python under Wine shares the host name, not the pids: its live run's template
    must survive a Linux run's clean-up (and the other way round)."""
    admin = postgres.admin_url()
    name = f"dental_images_template_{dead_pid()}"
    other_os = "linux" if sys.platform == "win32" else "win32"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            postgres._create(connection, name, platform=other_os)
        assert name not in postgres.drop_stale_databases(admin)
        assert name in database_names(admin)
    finally:
        postgres.drop_database(admin, name)
        engine.dispose()
