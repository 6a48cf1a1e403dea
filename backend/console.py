"""The command line's terminal: output that never fails on a name the console cannot show, and
questions asked only of a person at a real console."""

from __future__ import annotations

import sys
from typing import TextIO

IS_WINDOWS = sys.platform.startswith("win")


def configure_streams() -> None:
    """Make printing any text safe. Redirected output (a file, a pipe) is written as UTF-8; a
    console keeps its own encoding and shows what it cannot encode as `?`. Without this, an
    Arabic patient name printed to a redirected stdout on Windows (cp1252) raises
    UnicodeEncodeError and turns a finished command's exit code into 1."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue  # replaced by something that is not a text file (a test's capture)
        try:
            if _is_terminal(stream):
                reconfigure(errors="replace")
            else:
                reconfigure(encoding="utf-8", errors="replace")
        except (ValueError, OSError):
            continue  # closed, or already written in another encoding: leave it as it is


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (ValueError, OSError):
        return False


def stdin_is_interactive(stdin: TextIO | None = None) -> bool:
    """Whether a person can answer a question on `stdin` (default `sys.stdin`). On Windows
    `isatty()` is also true for NUL (`< NUL`, a service, a scheduled task), so there the handle
    must also be a console (GetConsoleMode succeeds only on one)."""
    stdin = sys.stdin if stdin is None else stdin
    if stdin is None or not _is_terminal(stdin):
        return False
    if not IS_WINDOWS:
        return True
    return _windows_console(stdin)  # pragma: no cover - Windows only


def _windows_console(stdin: TextIO) -> bool:  # pragma: no cover - Windows only
    if sys.platform != "win32":  # also tells mypy to check the rest for Windows only
        raise OSError("the console API exists only on Windows")
    import ctypes
    import msvcrt
    from ctypes import wintypes

    try:
        handle = msvcrt.get_osfhandle(stdin.fileno())
    except (OSError, ValueError):
        return False
    mode = wintypes.DWORD()
    return bool(ctypes.windll.kernel32.GetConsoleMode(wintypes.HANDLE(handle), ctypes.byref(mode)))


def ask(question: str, stdin: TextIO | None = None) -> str | None:
    """The answer typed to `question`, stripped and in lower case; None when no one can answer
    (not a console, or the input ended: EOF, as NUL gives on Windows)."""
    stdin = sys.stdin if stdin is None else stdin
    if not stdin_is_interactive(stdin):
        return None
    print(question, end="", flush=True)
    try:
        line = stdin.readline()
    except (EOFError, OSError):
        return None
    if not line:  # end of input: nobody typed anything
        return None
    return line.strip().lower()


def ask_secret(question: str) -> str | None:
    """A secret typed at the console without showing it (getpass); None when no one can
    answer (not a console, or the input ended)."""
    if not stdin_is_interactive():
        return None
    import getpass

    try:
        return getpass.getpass(question) or None
    except (EOFError, OSError, KeyboardInterrupt):
        return None
