"""Serving the app on 127.0.0.1 with waitress: headless, or behind the desktop window."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Protocol

from waitress.server import create_server

from backend.runtime import Runtime
from backend.security import LaunchSecrets
from backend.webapp import create_app, set_port

log = logging.getLogger(__name__)

HOST = "127.0.0.1"


class BoundServer(Protocol):
    """What this module uses of the server waitress creates (waitress ships no types)."""

    def run(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class LocalServer:
    """A bound, not yet running server and the tokenised address that opens the UI."""

    port: int
    token: str
    prefix: str
    _server: BoundServer

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def app_url(self) -> str:
        """Where the app lies: the base address and the per-launch secret path prefix."""
        return self.base_url + self.prefix

    @property
    def launch_url(self) -> str:
        return f"{self.app_url}/?token={self.token}"

    def serve_forever(self) -> None:
        self._server.run()

    def start_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="http", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._server.close()


def bind_server(runtime: Runtime, port: int = 0) -> LocalServer:
    """Bind 127.0.0.1:`port` (0 = a free port chosen by the OS) with fresh launch secrets."""
    launch = LaunchSecrets.new()
    app = create_app(runtime, token=launch.launch_token, port=port, prefix=launch.prefix)
    server = create_server(app, host=HOST, port=port, threads=8, clear_untrusted_proxy_headers=True)
    actual_port = int(server.effective_port)
    set_port(app, actual_port)
    return LocalServer(
        port=actual_port, token=launch.launch_token, prefix=launch.prefix, _server=server
    )
