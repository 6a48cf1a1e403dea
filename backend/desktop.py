"""The desktop shell: the local server behind a pywebview window, or headless when there is no
screen to open a window on."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Callable
from types import FrameType
from typing import Any

from backend import __version__
from backend.i18n import gettext
from backend.paths import icon_file
from backend.runtime import Runtime
from backend.server import LocalServer, bind_server

log = logging.getLogger(__name__)

WINDOW_TITLE = f"Dental Images {__version__}"


def display_available() -> bool:
    """False on a Linux machine with no X11/Wayland screen (and no offscreen Qt platform)."""
    if not sys.platform.startswith("linux"):
        return True
    return bool(
        os.environ.get("DISPLAY")
        or os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("QT_QPA_PLATFORM") == "offscreen"
    )


def missing_webview_runtime() -> str | None:
    """What keeps the window from opening on this OS, or None. Windows draws it with the Edge
    WebView2 Runtime, which Windows 10 may lack (the installer asks for it, but IT can skip
    that); without it pywebview would fail deep inside .NET with no word to the user."""
    if sys.platform != "win32":
        return None
    from backend.webview2 import webview2_version

    if webview2_version():
        return None
    return gettext("The Microsoft Edge WebView2 Runtime is not installed")


def _start_pending_migration(runtime: Runtime) -> None:
    """Once the server answers (so the window opens at once), migrate what the start-up check
    found; the Settings page shows its progress."""
    from backend.migration.runner import start_if_needed

    start_if_needed(runtime)


def _start_upkeep(runtime: Runtime) -> None:
    """Background upkeep (leftovers of interrupted writes), after the window can open."""
    from backend.usecases.upkeep import start_upkeep

    start_upkeep(runtime)


def _start_receiver(runtime: Runtime) -> None:
    """The DICOM receiver, when this PC's setting turns it on (it stops with the runtime)."""
    if runtime.receiver is not None:
        runtime.receiver.start_if_enabled()


def _start_scheduled_backups(runtime: Runtime) -> None:
    """The thread that runs scheduled backups while the program is open."""
    from backend.backup.service import start_scheduler

    start_scheduler(runtime)


def serve_headless(runtime: Runtime, port: int = 0, *, open_browser: bool = False) -> int:
    """Serve until interrupted, printing the address that opens the program in a browser, and
    with `open_browser` also opening it in the default browser (where no window can open)."""
    server = bind_server(runtime, port)
    print(
        gettext(
            "Dental Images {version} is running. Open this address in a browser:",
            version=__version__,
        )
    )
    print(f"  {server.launch_url}", flush=True)
    log.info("serving headless on %s", server.base_url)
    if open_browser:
        opened = webbrowser.open(server.launch_url)
        log.info(
            "opened in the default browser: %s" if opened else "no default browser to open %s",
            server.base_url,
        )
    _start_pending_migration(runtime)
    _start_scheduled_backups(runtime)
    _start_upkeep(runtime)
    _start_receiver(runtime)
    _stop_on_terminate()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


def _stop_on_terminate() -> None:
    """SIGTERM (a service manager, `kill`) ends serving as Ctrl+C does, with the same clean
    close, instead of killing the process wherever it is."""
    if hasattr(signal, "SIGTERM") and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run_window(
    runtime: Runtime,
    *,
    bridge: object | None = None,
    on_shown: Callable[[Any], None] | None = None,
) -> int:
    """Open the program's window; fall back to headless serving where no window can open.
    `bridge` replaces the default js_api object and `on_shown(window)` runs in a thread once the
    window is up (both for tests that drive a real window)."""
    if not display_available():
        print(gettext("No display found: starting without a window."), flush=True)
        return serve_headless(runtime)
    missing = missing_webview_runtime()
    if missing:
        log.warning("%s: opening in the default browser instead of a window", missing)
        print(
            gettext("{missing}: opening in the default browser instead.", missing=missing),
            flush=True,
        )
        runtime.notices.append(
            gettext(
                "{missing}, so Dental Images opened in your web browser instead of its own "
                "window. Everything works here; for the program's window, install the free "
                "WebView2 Runtime from Microsoft and start Dental Images again.",
                missing=missing,
            )
        )
        return serve_headless(runtime, open_browser=True)
    try:
        import webview
    except ImportError:
        print(
            gettext("The window component (pywebview) is not installed: starting without a window.")
        )
        return serve_headless(runtime, open_browser=True)
    from backend.bridge import Bridge

    server: LocalServer = bind_server(runtime)
    server.start_in_thread()
    _start_pending_migration(runtime)
    _start_scheduled_backups(runtime)
    _start_upkeep(runtime)
    _start_receiver(runtime)
    log.info("window opening on %s", server.base_url)
    if bridge is None:
        bridge = Bridge(runtime, page_address=lambda: server.launch_url)
    window = webview.create_window(
        WINDOW_TITLE,
        server.launch_url,
        js_api=bridge,
        width=1280,
        height=800,
        min_size=(1024, 700),
    )
    options: dict[str, Any] = {"private_mode": True}
    if sys.platform.startswith("linux") and "PYWEBVIEW_GUI" not in os.environ:
        options["gui"] = "qt"  # the toolkit we install and bundle; pywebview would try GTK first
    if icon_file().is_file():
        options["icon"] = str(icon_file())
    try:
        if on_shown is None:
            webview.start(**options)
        else:
            webview.start(on_shown, (window,), **options)
    except Exception as exc:  # no GUI toolkit usable: keep the program usable
        log.warning("window could not open (%s): opening in the default browser instead", exc)
        server.close()
        return serve_headless(runtime, open_browser=True)
    server.close()
    return 0
