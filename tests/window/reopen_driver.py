"""Runs the real program window (pywebview, Qt), then gives the server new launch secrets, as a
new start of the server would: the page's next question is refused, and the window must load
the program's current page by itself (no click) and work again. Writes what it saw to a JSON
file. Usage: reopen_driver.py DATA_DIR RESULT_JSON"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from backend import desktop, security, server
from backend.bridge import Bridge
from backend.usecases import patients
from tests.window.window_driver import reported, runtime_with_patient, wait_for


def main() -> None:
    data_dir, result_path = (Path(a) for a in sys.argv[1:3])
    runtime = runtime_with_patient(data_dir, "Window Test")
    servers: list[Any] = []
    apps: list[Any] = []
    bind, create = desktop.bind_server, server.create_app

    def keep(*args: Any, **kwargs: Any) -> Any:
        servers.append(bind(*args, **kwargs))
        return servers[-1]

    def keep_app(*args: Any, **kwargs: Any) -> Any:
        apps.append(create(*args, **kwargs))
        return apps[-1]

    desktop.bind_server = keep  # type: ignore[assignment]
    server.create_app = keep_app  # type: ignore[assignment]
    fresh: dict[str, str] = {}

    def current_address() -> str:
        bound = servers[0]
        return f"{bound.app_url}/?token={fresh.get('token', bound.token)}"

    def drive(window: Any, result: dict[str, object]) -> None:
        wait_for(window, "document.querySelectorAll('#patient-list li[data-patient-id]').length")
        app = apps[0]
        old = app.config["LAUNCH_SECRETS"]
        fresh["token"] = security.new_token()
        app.config["LAUNCH_SECRETS"] = security.LaunchSecrets(
            launch_token=fresh["token"], prefix=old.prefix
        )
        with runtime.sessions() as session:
            patients.create_patient(session, {"full_name": "Added after the restart"})
        result["before"] = window.evaluate_js(
            "document.querySelectorAll('#patient-list li[data-patient-id]').length"
        )
        # The page asks (a search): the server no longer knows its key.
        window.evaluate_js(
            "document.querySelector('#patient-search').dispatchEvent(new Event('input'))"
        )
        result["after"] = wait_for(
            window,
            "document.querySelectorAll('#patient-list li[data-patient-id]').length === 2 && "
            "!document.querySelector('#connection-dialog')?.open && 2",
            timeout=60,
        )
        result["url_has_token"] = "token=" in (window.get_current_url() or "")
        result["connection_state"] = window.evaluate_js("document.body.dataset.connection || ''")

    run_window(
        runtime,
        bridge=Bridge(runtime, page_address=current_address),
        on_shown=reported(drive, result_path),
    )
    runtime.close()


run_window = desktop.run_window

if __name__ == "__main__":
    main()
