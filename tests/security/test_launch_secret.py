"""The launch secret does not leak to other ports of 127.0.0.1 (browsers send a host's cookies
to all of its ports), and whatever a browser does send elsewhere opens nothing."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from backend.security import SESSION_COOKIE, TOKEN_HEADER
from tests.conftest import PREFIX, TOKEN
from tests.e2e.conftest import CHROMIUM_ARGS, browser, live_server  # noqa: F401


class Recorder(BaseHTTPRequestHandler):
    """Another program on this machine: answers every request and keeps its headers."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        type(self).seen.append({"path": self.path, **dict(self.headers.items())})
        body = b"<!doctype html><title>other</title><img src='/pixel.png'>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_port() -> Iterator[tuple[int, list[dict[str, str]]]]:
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], Recorder.seen
    server.shutdown()
    server.server_close()


def call(live, method: str, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    connection.request(method, path, body=b"{}" if method == "POST" else None, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


@pytest.mark.browser
def test_another_local_port_receives_nothing_that_opens_the_api(browser, live_server, other_port):  # noqa: F811
    port, seen = other_port
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.launch_url)
    page.wait_for_selector("body[data-ready='true']")
    (cookie,) = context.cookies()
    assert cookie["name"] == SESSION_COOKIE and cookie["path"] == live_server.prefix + "/"
    page_key = page.get_attribute('meta[name="dental-token"]', "content")
    secrets = [live_server.token, live_server.prefix.strip("/"), cookie["value"], page_key]
    for path in ("/", "/api/patients", "/images/x/file", "/static/js/app.js"):
        page.goto(f"http://127.0.0.1:{port}{path}")
    page.goto(f"http://localhost:{port}/")
    context.close()

    assert len(seen) >= 5
    leaked = [request.get("Cookie", "") for request in seen]
    for header in seen:
        for value in header.values():
            assert not any(secret in value for secret in secrets), header
    # Whatever arrived there, used as cookie or as token header, opens nothing: not under the
    # prefix (which the other port never learns), and not even under it.
    for cookie in leaked:
        for token in [cookie, *[part.split("=", 1)[-1] for part in cookie.split("; ")]]:
            for path in ("/api/patients", f"{live_server.prefix}/api/patients"):
                assert call(live_server, "GET", path, {"Cookie": cookie}) in (403, 404)
                assert call(live_server, "POST", path, {TOKEN_HEADER: token}) in (403, 404)
            assert call(live_server, "GET", f"{live_server.prefix}/", {"Cookie": cookie}) == 403


def test_the_page_carries_neither_the_launch_token_nor_the_session(anonymous_client, app):
    launch = app.config["LAUNCH_SECRETS"]
    opened = anonymous_client.get(f"/?token={TOKEN}", follow_redirects=True)
    html = opened.get_data(as_text=True)
    assert opened.status_code == 200 and launch.page_key in html
    assert TOKEN not in html and launch.session not in html
    assert f'<base href="{PREFIX}/">' in html


def test_the_session_cookie_reads_but_is_no_token_and_cannot_write(app):
    launch = app.config["LAUNCH_SECRETS"]
    client = app.test_client()
    client.get(f"/?token={TOKEN}")
    assert client.get("/api/patients").status_code == 200  # the page's own cookie reads
    assert client.post("/api/patients", json={"full_name": "x"}).status_code == 403
    stranger = app.test_client()
    as_header = stranger.post(
        "/api/patients", json={"full_name": "x"}, headers={TOKEN_HEADER: launch.session}
    )
    assert as_header.status_code == 403
    assert stranger.get("/api/patients", headers={TOKEN_HEADER: launch.session}).status_code == 403


def test_the_page_key_writes(app):
    launch = app.config["LAUNCH_SECRETS"]
    client = app.test_client()
    created = client.post(
        "/api/patients", json={"full_name": "Via page"}, headers={TOKEN_HEADER: launch.page_key}
    )
    assert created.status_code == 201


def test_nothing_is_served_outside_the_secret_prefix(app):
    from werkzeug.test import Client

    raw = Client(app)  # no prefix added: what another program guessing addresses gets
    for path in (
        "/",
        "/api/health",
        f"/?token={TOKEN}",
        "/static/js/app.js",
        PREFIX,
        "/x" + PREFIX,
    ):
        response = raw.get(path, base_url="http://127.0.0.1:5000", headers={TOKEN_HEADER: TOKEN})
        assert response.status_code == 404, path
        assert response.get_data() == b"Not found.\n"
