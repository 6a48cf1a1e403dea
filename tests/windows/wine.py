"""Running Windows programs under Wine for the Windows lane: paths both ways, the prefix's
per-user folders, and processes whose output is piped (Wine's Windows Python and our console
program cannot write to a regular file as stdout)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path, PureWindowsPath


def prefix() -> Path:
    return Path(os.environ["WINEPREFIX"])


def user_home() -> Path:
    """The Wine user's profile folder (C:\\users\\<name>), as a path on this machine."""
    users = prefix() / "drive_c" / "users"
    name = os.environ.get("USER") or os.environ.get("LOGNAME") or "root"
    return users / name


def appdata() -> Path:
    return user_home() / "AppData" / "Roaming"


def local_appdata() -> Path:
    return user_home() / "AppData" / "Local"


def windows_path(path: Path) -> str:
    """This machine's absolute `path` as Windows programs under Wine see it."""
    resolved = path.resolve()
    drive_c = (prefix() / "drive_c").resolve()
    if resolved.is_relative_to(drive_c):
        return str(PureWindowsPath("C:/", *resolved.relative_to(drive_c).parts))
    return str(PureWindowsPath("Z:/", *resolved.parts[1:]))


def env(**extra: str) -> dict[str, str]:
    """The environment for a Windows program: no CI flag (it changes what the program's tests
    do), Wine quiet, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if k != "CI"}
    base.setdefault("WINEDEBUG", "-all")
    base.update(extra)
    return base


def run(
    program: Path | str, *args: str, timeout: float = 600, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """Run a Windows program to its end, output piped and decoded as UTF-8."""
    return subprocess.run(
        ["wine", str(program), *args],
        input="",
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        env=env(**extra_env),
    )


def command(program: Path | str, *args: str) -> Sequence[str]:
    return ["wine", str(program), *args]


def kill_windows_program(image_name: str) -> None:
    """End every process of `image_name` (e.g. dental-images.exe) in the prefix."""
    subprocess.run(
        ["wine", "taskkill", "/F", "/IM", image_name],
        input="",
        capture_output=True,
        timeout=60,
        env=env(),
    )


def wait_for_wineserver(timeout: float = 120) -> None:
    """Wait until every Windows process of the prefix has ended (installers fork and return)."""
    deadline = time.monotonic() + timeout
    process = subprocess.Popen(["wineserver", "-w"], env=env())
    try:
        process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        raise
