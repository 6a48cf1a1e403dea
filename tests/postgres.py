"""Throw-away PostgreSQL databases for tests: one migrated template per test session, and a
fresh copy of it per test (CREATE DATABASE ... TEMPLATE is fast).

Every name carries the pid of the test process that made it, and every database the host it
was made on (in its comment): the template is dropped when the process ends, and what a killed
run left behind is dropped by the next run on the same host once that pid is gone."""

from __future__ import annotations

import atexit
import os
import re
import socket
import sys
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.db import create_db_engine, upgrade_schema
from backend.processes import process_alive

ADMIN_URL_ENV = "DENTAL_IMAGES_TEST_PG_URL"
# One template per test process: test runs of several checkouts may share the server.
TEMPLATE_PREFIX = "dental_images_template_"
TEMPLATE = f"{TEMPLATE_PREFIX}{os.getpid()}"
TEST_PREFIX = "dental_test_"
_OURS = re.compile(rf"^(?:{TEMPLATE_PREFIX}|{TEST_PREFIX})(\d+)(?:_[0-9a-f]+)?$")
_COMMENT = "dental-images test database, host {host}"


def _comment(platform: str = sys.platform) -> str:
    # The OS is part of the host: Windows Python under Wine on the same machine has the same
    # host name but its own pids, which a Linux run must not judge (nor the other way round).
    return _COMMENT.format(host=f"{socket.gethostname()} ({platform})").replace("'", "")


_to_drop_at_exit: set[str] = set()


def admin_url() -> str:
    url = os.environ.get(ADMIN_URL_ENV)
    if not url:
        message = f"{ADMIN_URL_ENV} is not set: run scripts/test.sh, which starts PostgreSQL"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return url


def _admin_engine(url: str):
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _alive(pid: int) -> bool:
    # The program's own check: os.kill(pid, 0) would send CTRL_C_EVENT on Windows.
    return process_alive(pid)


def _create(
    connection, name: str, template: str | None = None, platform: str = sys.platform
) -> None:
    clause = f' TEMPLATE "{template}"' if template else ""
    connection.execute(text(f'CREATE DATABASE "{name}"{clause}'))
    connection.execute(text(f"COMMENT ON DATABASE \"{name}\" IS '{_comment(platform)}'"))


def stale_databases(connection) -> list[str]:
    """Test databases (templates and copies) that runs on this host left behind: their pid is
    no longer alive. Those of other hosts are left alone (their pids mean nothing here), and
    so are those without a host, unless they are templates (only earlier versions of this
    module made those)."""
    ours = _comment()
    rows = connection.execute(
        text(
            "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname LIKE 'dental\\_images\\_template\\_%' "
            "OR datname LIKE 'dental\\_test\\_%'"
        )
    )
    stale = []
    for name, comment in rows:
        match = _OURS.match(name)
        if match is None or _alive(int(match.group(1))):
            continue
        if comment == ours or (comment is None and name.startswith(TEMPLATE_PREFIX)):
            stale.append(name)
    return stale


def drop_stale_databases(url: str) -> list[str]:
    admin = _admin_engine(url)
    try:
        with admin.connect() as connection:
            stale = stale_databases(connection)
    finally:
        admin.dispose()
    dropped = []
    for name in stale:
        try:
            drop_database(url, name, attempts=3)
        except (OperationalError, ProgrammingError) as exc:  # the next run tries again
            print(f"could not drop the stale test database {name}: {exc}", file=sys.stderr)
        else:
            dropped.append(name)
    return dropped


def create_template(url: str) -> None:
    drop_stale_databases(url)
    admin = _admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
        _create(connection, TEMPLATE)
    admin.dispose()
    if not _to_drop_at_exit:
        atexit.register(_drop_at_exit, url, os.getpid())
    _to_drop_at_exit.add(TEMPLATE)
    engine = create_db_engine(make_url(url).set(database=TEMPLATE).render_as_string(False))
    upgrade_schema(engine)
    engine.dispose()


def _drop_at_exit(url: str, creator: int) -> None:
    if os.getpid() != creator:  # a forked child exiting: the template is its parent's
        return
    for name in sorted(_to_drop_at_exit):
        try:
            drop_database(url, name)
        except Exception as exc:  # the next run drops it as stale
            print(f"could not drop the test template {name}: {exc}", file=sys.stderr)
    _to_drop_at_exit.clear()


def _new_name() -> str:
    return f"{TEST_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"


def fresh_database(url: str) -> tuple[str, str]:
    """(name, url) of a new database copied from the migrated template."""
    name = _new_name()
    admin = _admin_engine(url)
    with admin.connect() as connection:
        _create(connection, name, TEMPLATE)
    admin.dispose()
    return name, make_url(url).set(database=name).render_as_string(False)


def empty_database(url: str) -> tuple[str, str]:
    """(name, url) of a new database without any table (the schema is not created)."""
    name = _new_name()
    admin = _admin_engine(url)
    with admin.connect() as connection:
        _create(connection, name)
    admin.dispose()
    return name, make_url(url).set(database=name).render_as_string(False)


def drop_database(url: str, name: str, *, attempts: int = 20) -> None:
    """Drop `name`, closing its connections. An autovacuum worker visiting a new database is a
    connection this role may not close (the drop is refused): it leaves by itself, so wait."""
    admin = _admin_engine(url)
    try:
        for attempt in range(attempts):
            try:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                return
            except (OperationalError, ProgrammingError):
                if attempt == attempts - 1:
                    raise
                time.sleep(0.25)
    finally:
        admin.dispose()
