"""Throw-away PostgreSQL databases for tests: one migrated template per test session, and a
fresh copy of it per test (CREATE DATABASE ... TEMPLATE is fast)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from backend.db import create_db_engine, upgrade_schema

ADMIN_URL_ENV = "DENTAL_IMAGES_TEST_PG_URL"
# One template per test process: test runs of several checkouts may share the server.
TEMPLATE = f"dental_images_template_{os.getpid()}"


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


def create_template(url: str) -> None:
    admin = _admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{TEMPLATE}"'))
    admin.dispose()
    engine = create_db_engine(make_url(url).set(database=TEMPLATE).render_as_string(False))
    upgrade_schema(engine)
    engine.dispose()


def fresh_database(url: str) -> tuple[str, str]:
    """(name, url) of a new database copied from the migrated template."""
    name = f"dental_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))
    admin.dispose()
    return name, make_url(url).set(database=name).render_as_string(False)


def drop_database(url: str, name: str) -> None:
    admin = _admin_engine(url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
