"""Fresh installation per test: a real data folder on disk with a real SQLite database."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import replace

import keyring
import pytest
from flask import Flask
from flask.testing import FlaskClient
from keyring.backend import KeyringBackend
from sqlalchemy.orm import Session

from backend import i18n
from backend.config import (
    DB_URL_ENV,
    HOME_ENV,
    IMAGES_ROOT_ENV,
    LEGACY_ROOTS_ENV,
    Settings,
    load_settings,
)
from backend.runtime import Runtime
from backend.security import TOKEN_HEADER
from backend.startup import open_runtime
from backend.usecases import patients
from backend.webapp import create_app

# A suite started in the background by a shell without job control (as CI scripts and `nohup
# … &` do) inherits SIGINT ignored, and so would every program it starts: the Ctrl+C the tests
# stop `serve` with would do nothing, and the test would wait out its timeout. Caught here,
# SIGINT is back at its default in each program the tests start.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


class MemoryKeyring(KeyringBackend):
    """A credential store in memory, as Windows Credential Manager or the Keychain would be."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


TOKEN = "test-launch-token"
PORT = 5000
BASE_URL = f"http://127.0.0.1:{PORT}"
PREFIX = "/test-secret-prefix"  # the app's per-launch secret path prefix (backend.security)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (HOME_ENV, DB_URL_ENV, LEGACY_ROOTS_ENV, IMAGES_ROOT_ENV):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _process_locale() -> Iterator[None]:
    """Each test leaves the process's language and digits as it found them: a test that
    chooses Arabic on its PC sets it for every text made outside a request (and the page of an
    earlier start)."""
    before = i18n.process_locale()
    digits = i18n.process_digits()
    yield
    i18n.set_process_locale(before)
    i18n.set_process_digits(digits)


@pytest.fixture(autouse=True)
def _memory_keyring() -> Iterator[MemoryKeyring]:
    """A credential store of the test's own: no test writes into this computer's keyring."""
    previous = keyring.get_keyring()
    store = MemoryKeyring()
    keyring.set_keyring(store)
    yield store
    keyring.set_keyring(previous)


@pytest.fixture
def db_url(tmp_path) -> str | None:
    """The database of the test installation; None means the default SQLite file. The data
    layer and API tests override this to run on PostgreSQL too (tests/backend/conftest.py)."""
    return None


@pytest.fixture
def settings(tmp_path, db_url) -> Settings:
    loaded = load_settings(tmp_path / "data")
    return replace(loaded, db_url=db_url) if db_url else loaded


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = open_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def session(runtime: Runtime) -> Iterator[Session]:
    with runtime.sessions() as s:
        yield s


@pytest.fixture
def store(runtime: Runtime):
    return runtime.store


class LocalClient(FlaskClient):
    """Addresses 127.0.0.1:PORT under the app's secret path prefix, as the window does: a path
    such as "/api/patients" (as the API names its own addresses) is asked for at
    "<prefix>/api/patients"."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("base_url", BASE_URL)
        prefix = self.application.config.get("URL_PREFIX", "")
        if args and isinstance(args[0], str) and not args[0].startswith(prefix + "/"):
            args = (prefix + "/" + args[0].lstrip("/"), *args[1:])
        return super().open(*args, **kwargs)


def local_app(runtime: Runtime) -> Flask:
    """The web app of `runtime`, whose test clients address it as the window does."""
    application = create_app(runtime, token=TOKEN, port=PORT, prefix=PREFIX)
    application.test_client_class = LocalClient
    return application


def window_client(application: Flask) -> FlaskClient:
    """A client that, like the window, sends the launch token."""
    test_client = application.test_client()
    test_client.environ_base["HTTP_" + TOKEN_HEADER.upper().replace("-", "_")] = TOKEN
    return test_client


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return local_app(runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return window_client(app)


@pytest.fixture
def anonymous_client(app: Flask) -> FlaskClient:
    """A client with the right Host but no token."""
    return app.test_client()


@pytest.fixture
def patient(session: Session):
    return patients.create_patient(session, {"full_name": "Layla Haddad", "phone": "555-0101"})
