"""Whether a process that recorded itself (a lease, the restore journal, an import marker) is
still running on this computer: its host name, process id and the time the process started.
The start time tells a process apart from a later one that got the same id."""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys
from functools import cache
from pathlib import Path

IS_WINDOWS = sys.platform.startswith("win")
STILL_ACTIVE = 259  # GetExitCodeProcess of a process that has not ended
_PROCESS_QUERY_LIMITED_INFORMATION = 0x1000
_ERROR_ACCESS_DENIED = 5


def this_host() -> str:
    return socket.gethostname()


def process_alive(pid: int) -> bool:
    """Whether a process with this id is running on this computer (a zombie counts as ended).

    Windows: a handle can be opened for a process that has ended while others still hold
    handles to it, so only an exit code of STILL_ACTIVE counts; a process we may not open
    (another user's, ERROR_ACCESS_DENIED) is running. Elsewhere signal 0 probes the id (never
    on Windows, where os.kill(pid, 0) sends CTRL_C_EVENT to the process group)."""
    if pid <= 0:
        return False
    if IS_WINDOWS:
        return _windows_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _linux_state(pid) != "Z"


@cache
def _kernel32() -> ctypes.CDLL:  # pragma: no cover - Windows only
    if sys.platform != "win32":  # also tells mypy to check the rest for Windows only
        raise OSError("kernel32 exists only on Windows")
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.argtypes = [wintypes.DWORD, wintypes.BOOL, wintypes.DWORD]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.GetExitCodeProcess.argtypes = [wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD)]
    kernel32.GetExitCodeProcess.restype = wintypes.BOOL
    kernel32.GetProcessTimes.argtypes = [wintypes.HANDLE] + [ctypes.POINTER(wintypes.FILETIME)] * 4
    kernel32.GetProcessTimes.restype = wintypes.BOOL
    kernel32.CloseHandle.argtypes = [wintypes.HANDLE]
    kernel32.CloseHandle.restype = wintypes.BOOL
    return kernel32


def _windows_alive(pid: int) -> bool:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        raise OSError("kernel32 exists only on Windows")
    from ctypes import wintypes

    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return ctypes.get_last_error() == _ERROR_ACCESS_DENIED
    try:
        code = wintypes.DWORD()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return False
        return code.value == STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def _linux_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[0] if fields else None


@cache
def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def process_start_time(pid: int | None = None) -> str | None:
    """An opaque text for when process `pid` (default: this one) started, the same each time
    it is asked for one process; None when the OS does not say (or the process is gone).

    Linux: the boot id and the start time in clock ticks from /proc; Windows: the creation
    time from GetProcessTimes; macOS and others: what `ps -o lstart=` prints."""
    pid = os.getpid() if pid is None else pid
    if IS_WINDOWS:
        return _windows_start_time(pid)
    if Path("/proc/self/stat").exists():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
            ticks = stat.rsplit(")", 1)[1].split()[19]
        except (OSError, IndexError):
            return None
        return f"{_boot_id()}:{ticks}"
    try:
        shown = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return shown or None


def _windows_start_time(pid: int) -> str | None:  # pragma: no cover - Windows only
    if sys.platform != "win32":
        raise OSError("kernel32 exists only on Windows")
    from ctypes import wintypes

    kernel32 = _kernel32()
    handle = kernel32.OpenProcess(_PROCESS_QUERY_LIMITED_INFORMATION, False, pid)
    if not handle:
        return None
    try:
        times = [wintypes.FILETIME() for _ in range(4)]
        if not kernel32.GetProcessTimes(handle, *(ctypes.byref(t) for t in times)):
            return None
        created = times[0]
        return str((created.dwHighDateTime << 32) | created.dwLowDateTime)
    finally:
        kernel32.CloseHandle(handle)


def running_here(host: str | None, pid: int | None, started: str | None) -> bool:
    """Whether the process (`host`, `pid`, `started`) is running on this computer now: False
    for another computer's (the caller decides what that means), for an id that has ended, and
    for an id now used by a process that started at another time than `started` (None: the
    time was not recorded, the id alone decides)."""
    if host != this_host() or pid is None:
        return False
    if not process_alive(pid):
        return False
    if started is None:
        return True
    now = process_start_time(pid)
    return now is None or now == started


def ended_here(host: str | None, pid: int | None, started: str | None) -> bool:
    """Whether the process is known to have ended: it was on this computer and is not running
    now. A process of another computer (or without an id) is never known to have ended."""
    return host == this_host() and pid is not None and not running_here(host, pid, started)
