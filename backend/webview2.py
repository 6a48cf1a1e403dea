"""Whether the Microsoft Edge WebView2 Runtime is installed (Windows), read the way Microsoft
documents and the installer checks: a version ("pv") under EdgeUpdate's client key for the
runtime, per machine (32- or 64-bit view) or per user."""

from __future__ import annotations

import sys

CLIENT_KEY = r"SOFTWARE\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
WOW64_CLIENT_KEY = CLIENT_KEY.replace("SOFTWARE\\", "SOFTWARE\\WOW6432Node\\", 1)


def webview2_version() -> str | None:
    """The installed runtime's version, or None (also on other OSes)."""
    if sys.platform != "win32":
        return None
    import winreg

    places = (
        (winreg.HKEY_LOCAL_MACHINE, WOW64_CLIENT_KEY),
        (winreg.HKEY_LOCAL_MACHINE, CLIENT_KEY),
        (winreg.HKEY_CURRENT_USER, CLIENT_KEY),
    )
    for root, key in places:
        try:
            with winreg.OpenKey(root, key) as handle:
                value, _ = winreg.QueryValueEx(handle, "pv")
        except OSError:
            continue
        if isinstance(value, str) and value and value != "0.0.0.0":
            return value
    return None
