"""The data-layer and API tests run on both engines: SQLite (default) and PostgreSQL.
DENTAL_IMAGES_TEST_ENGINES (a comma-separated choice of the two) narrows a run to some: the
Windows lane runs the whole suite on SQLite and its engine-specific modules on PostgreSQL
(scripts/windows-checks.sh)."""

from __future__ import annotations

import os

import pytest

from tests import postgres


@pytest.fixture(scope="session")
def _pg_template() -> str:
    url = postgres.admin_url()
    postgres.create_template(url)
    return url


ENGINES = os.environ.get("DENTAL_IMAGES_TEST_ENGINES", "sqlite,postgresql").split(",")
if not ENGINES or not set(ENGINES) <= {"sqlite", "postgresql"}:
    raise ValueError(f"DENTAL_IMAGES_TEST_ENGINES names no known engines: {ENGINES}")


@pytest.fixture(params=ENGINES)
def db_url(request):
    if request.param == "sqlite":
        yield None
        return
    admin = request.getfixturevalue("_pg_template")
    name, url = postgres.fresh_database(admin)
    yield url
    postgres.drop_database(admin, name)
