"""Settings → test a server: only PostgreSQL addresses, and a listener that never answers
holds the request for a few seconds, not minutes."""

import socket
import threading
import time
from pathlib import Path

import pytest

from backend.usecases.server_move import CONNECT_TIMEOUT_S


@pytest.fixture
def silent_listener():
    """A local TCP port that accepts connections and never says anything."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


def test_a_silent_listener_is_given_up_on_within_the_connect_timeout(client, silent_listener):
    started = time.monotonic()
    response = client.post(
        "/api/settings/server/test",
        json={"db_url": f"postgresql+psycopg://dental:x@127.0.0.1:{silent_listener}/dental"},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["ok"] is False and answer["message"].startswith("Cannot connect:")
    assert elapsed < CONNECT_TIMEOUT_S + 5, elapsed
    assert CONNECT_TIMEOUT_S <= 10


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/created.db",
        "sqlite:////{tmp}/created.db",
        "mysql://x@127.0.0.1/db",
        "postgresqlx://x@127.0.0.1/db",
        "not a url",
    ],
)
def test_only_postgresql_addresses_are_tried(client, tmp_path: Path, url):
    response = client.post("/api/settings/server/test", json={"db_url": url.format(tmp=tmp_path)})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == "db_url" and "postgresql" in error["message"]
    assert not (tmp_path / "created.db").exists()


def test_saving_a_sqlite_address_as_the_server_is_refused(client, tmp_path: Path, settings):
    response = client.put(
        "/api/settings/server",
        json={"db_url": f"sqlite:///{tmp_path}/other.db", "images_root": ""},
    )
    assert response.status_code == 400
    assert not (tmp_path / "other.db").exists()
    assert not (settings.data_dir / "config.json").exists()
