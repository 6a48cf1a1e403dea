"""The launch secret does not leak to other ports of 127.0.0.1 (browsers send a host's cookies
to all of its ports), and whatever Chromium does send elsewhere opens nothing. In tests/e2e, so
that it shares the one Chromium of the session (a second Playwright in one process fails)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from backend.security import SESSION_COOKIE, TOKEN_HEADER


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


def test_another_local_port_receives_nothing_that_opens_the_api(browser, live_server, other_port):
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
