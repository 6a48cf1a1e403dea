"""The real server on a real port: the same checks a browser or the window goes through."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from backend.security import TOKEN_HEADER
from backend.server import bind_server
from tests.helpers import image_bytes
from tests.served import Client, start_serving


@pytest.fixture
def live(runtime):
    server = bind_server(runtime, 0)
    server.start_in_thread()
    yield server
    server.close()


def request(server, method, path, body=None, headers=None, host=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    all_headers = {"Host": host or f"127.0.0.1:{server.port}", TOKEN_HEADER: server.token}
    all_headers.update(headers or {})
    connection.request(method, server.prefix + path, body=body, headers=all_headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def multipart(fields: dict[str, str], files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for key, value in fields.items():
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
        parts.append(f"{head}{value}\r\n".encode())
    for name, content in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def test_server_listens_on_loopback_with_a_random_port(live):
    assert live.base_url == f"http://127.0.0.1:{live.port}" and live.port > 0
    assert live._server.socket.getsockname()[0] == "127.0.0.1"
    status, body = request(live, "GET", "/api/health")
    assert status == 200 and json.loads(body)["status"] == "ok"


def test_real_socket_refuses_foreign_host_and_missing_token(live):
    assert request(live, "GET", "/api/health", host="attacker.example")[0] == 403
    assert request(live, "GET", "/api/health", headers={TOKEN_HEADER: "wrong"})[0] == 403


def test_launch_url_opens_the_page_with_a_cookie(live):
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    connection.request("GET", f"{live.prefix}/?token={live.token}")
    response = connection.getresponse()
    response.read()
    assert response.status == 302
    cookie = response.getheader("Set-Cookie").split(";")[0]
    connection.request("GET", f"{live.prefix}/", headers={"Cookie": cookie})
    page = connection.getresponse()
    assert page.status == 200 and b"Dental Images" in page.read()
    connection.close()


def test_many_parallel_uploads_are_all_stored_without_clashes(live, settings):
    status, body = request(
        live,
        "POST",
        "/api/patients",
        json.dumps({"full_name": "Parallel"}),
        {"Content-Type": "application/json"},
    )
    patient_id = json.loads(body)["id"]
    payloads = [image_bytes("PNG", (32, 32), (i, 255 - i, 7)) for i in range(60)]

    def send(i: int) -> dict:
        data, content_type = multipart({"image_type": "xray"}, [("same name.png", payloads[i])])
        code, answer = request(
            live,
            "POST",
            f"/api/patients/{patient_id}/teeth/19/images",
            data,
            {"Content-Type": content_type},
        )
        assert code == 201, answer
        return json.loads(answer)["results"][0]["image"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        stored = list(pool.map(send, range(60)))
    assert len({s["file_name"] for s in stored}) == 60
    on_disk = {
        hashlib.sha256((settings.data_dir / s["path"]).read_bytes()).hexdigest() for s in stored
    }
    assert on_disk == {hashlib.sha256(p).hexdigest() for p in payloads}
    status, body = request(live, "GET", f"/api/patients/{patient_id}/chart")
    assert status == 200
    assert json.loads(body)["teeth"]["19"]["counts"]["xray"] == 60


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals (Windows has none)")
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_serve_ends_cleanly_on_ctrl_c_and_on_terminate(tmp_path, stop):
    """Ctrl+C at the console and SIGTERM from a service manager or `kill` both end `serve`
    with the same clean close and exit status 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENTAL_IMAGES_")}
    process, url = start_serving(
        [sys.executable, "-m", "backend", "serve", "--data-dir", str(tmp_path / "data")], env=env
    )
    assert Client(url).json("GET", "/api/health")[0] == 200
    process.send_signal(getattr(signal, stop))
    assert process.wait(60) == 0, "".join(process.printed)  # type: ignore[attr-defined]
