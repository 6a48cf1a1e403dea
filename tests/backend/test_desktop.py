"""Where the window cannot open (no WebView2 Runtime on Windows, no GUI toolkit), the program
opens its tokenised address in the default browser and says so in the log; the Windows lane
proves the same with the installed program under Wine."""

from __future__ import annotations

import logging
import sys
import threading
import time
import urllib.request
from types import SimpleNamespace

import pytest

from backend import desktop, webview2


def test_no_webview2_runtime_opens_the_default_browser(runtime, monkeypatch, caplog):
    opened: list[str] = []
    monkeypatch.setattr(desktop, "display_available", lambda: True)
    monkeypatch.setattr(
        desktop, "missing_webview_runtime", lambda: "The WebView2 Runtime is missing"
    )
    monkeypatch.setattr(desktop.webbrowser, "open", lambda url: opened.append(url) or True)
    caplog.set_level(logging.INFO, logger="backend.desktop")
    monkeypatch.setattr(desktop, "_start_scheduled_backups", lambda rt: None)
    monkeypatch.setattr(desktop, "_start_upkeep", lambda rt: None)
    monkeypatch.setattr(desktop, "_start_pending_migration", lambda rt: None)
    servers = []
    original_bind = desktop.bind_server

    def bind(rt, port=0):
        server = original_bind(rt, port)
        servers.append(server)
        return server

    monkeypatch.setattr(desktop, "bind_server", bind)
    thread = threading.Thread(target=desktop.run_window, args=(runtime,), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not opened:
        assert time.monotonic() < deadline, "the browser was never opened"
        time.sleep(0.05)
    (url,) = opened
    assert url == servers[0].launch_url and "?token=" in url
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url, timeout=10) as page:
        assert page.status == 200
    (notice,) = runtime.notices  # the main screen says why it is in the browser
    assert "opened in your web browser" in notice and "WebView2 Runtime" in notice
    servers[0].close()
    thread.join(10)
    messages = [r.getMessage() for r in caplog.records]
    assert any("WebView2 Runtime is missing: opening in the default browser" in m for m in messages)
    assert any(m.startswith("opened in the default browser: http://127.0.0.1:") for m in messages)


def test_webview2_is_found_where_microsoft_documents_it(monkeypatch):
    values = {
        ("machine", webview2.WOW64_CLIENT_KEY): "0.0.0.0",
        ("user", webview2.CLIENT_KEY): "131.0.2903.70",
    }
    fake = SimpleNamespace(HKEY_LOCAL_MACHINE="machine", HKEY_CURRENT_USER="user")

    class Key:
        def __init__(self, place):
            self.place = place

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def open_key(root, key):
        if (root, key) not in values:
            raise OSError("no such key")
        return Key((root, key))

    fake.OpenKey = open_key
    fake.QueryValueEx = lambda handle, name: (values[handle.place], 1)
    monkeypatch.setitem(sys.modules, "winreg", fake)
    monkeypatch.setattr(webview2.sys, "platform", "win32")
    assert webview2.webview2_version() == "131.0.2903.70"  # "0.0.0.0" means removed
    del values[("user", webview2.CLIENT_KEY)]
    assert webview2.webview2_version() is None


@pytest.mark.skipif(sys.platform == "win32", reason="elsewhere than Windows")
def test_other_systems_need_no_webview2_runtime():
    assert desktop.missing_webview_runtime() is None
