"""The data-layer and API tests run on both engines: SQLite (default) and PostgreSQL."""

from __future__ import annotations

import pytest

from tests import postgres


@pytest.fixture(scope="session")
def _pg_template() -> str:
    url = postgres.admin_url()
    postgres.create_template(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request):
    if request.param == "sqlite":
        yield None
        return
    admin = request.getfixturevalue("_pg_template")
    name, url = postgres.fresh_database(admin)
    yield url
    postgres.drop_database(admin, name)
