"""A running program's local server, driven as its window drives it: started as a process that
prints its tokenised address, then the token cookie once and the token header on every change.
Used by the bundle tests (Linux bundle) and the Windows lane (the installed program under Wine)."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Sequence
from http.cookiejar import CookieJar
from typing import Any
from urllib.parse import parse_qs, urlsplit
from urllib.request import HTTPCookieProcessor, Request, build_opener

URL = re.compile(r"http://127\.0\.0\.1:\d+/[\w-]+/\?token=[\w-]+")


class Client:
    """Talks to the program's server as the window does: the tokenised address once (cookie),
    then the X-Dental-Token header on every change."""

    def __init__(self, launch_url: str) -> None:
        parts = urlsplit(launch_url)
        # the app lies under the per-launch secret path prefix, the launch address's folder
        self.base = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.token = parse_qs(parts.query)["token"][0]
        self.opener = build_opener(HTTPCookieProcessor(CookieJar()))
        with self.opener.open(launch_url, timeout=30) as response:
            self.index_html = response.read().decode()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> tuple[int, Any, bytes]:
        request = Request(self.base + path, data=body, method=method, headers=headers or {})
        if method not in ("GET", "HEAD"):
            request.add_header("X-Dental-Token", self.token)
        with self.opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()

    def json(self, method: str, path: str, payload: dict | None = None) -> tuple[int, Any]:
        body = json.dumps(payload).encode() if payload is not None else None
        headers = {"Content-Type": "application/json"} if body else {}
        status, _, raw = self.call(method, path, body, headers)
        return status, json.loads(raw)

    def upload(
        self, path: str, fields: dict[str, str], name: str, data: bytes, field: str = "files"
    ) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        status, _, raw = self.call("POST", path, body, headers)
        return status, json.loads(raw)


def start_serving(
    command: Sequence[str], *, env: dict[str, str] | None = None, wait_s: float = 60
) -> tuple[subprocess.Popen[str], str]:
    """Start `command` (a `serve` of the program) and return it with the address it printed.
    Its output is piped (also what Windows programs under Wine need); RuntimeError, with what it
    printed, when no address came within `wait_s`."""
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    printed: list[str] = []  # everything it prints, for `stop_serving` to show
    process.printed = printed  # type: ignore[attr-defined]

    def read() -> None:
        for line in stdout:
            printed.append(line)
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=wait_s)
        except queue.Empty:
            process.kill()
            raise RuntimeError(
                f"no address printed within {wait_s:.0f} s:\n" + "".join(seen)
            ) from None
        seen.append(line)
        found = URL.search(line)
        if found:
            return process, found.group(0)


def stop_serving(process: subprocess.Popen[str], timeout_s: float) -> int:
    """Ctrl+C the `serve` started by start_serving and return its exit status. When it has not
    ended within `timeout_s`, it is asked for every thread's stack (SIGUSR1, where the OS has
    it: the program registers faulthandler for it), killed, and the test fails showing them."""
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        if hasattr(signal, "SIGUSR1"):
            process.send_signal(signal.SIGUSR1)
            time.sleep(3)
        process.kill()
        process.wait(30)
        printed = "".join(getattr(process, "printed", []))
        raise AssertionError(
            f"serve did not end within {timeout_s:.0f} s of Ctrl+C; what it printed, its "
            f"threads' stacks last:\n{printed[-12000:]}"
        ) from None
