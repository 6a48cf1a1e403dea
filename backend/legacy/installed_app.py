"""Where the earlier app installed itself on a Windows PC. Its later versions write their images
next to the program (legacy-formats.md), so an import looks there by default. Its installer was
per machine, default folder `C:\\Program Files\\DentalClinic - agorracode\\` (another could be
chosen), and it recorded the folder as its uninstall entry's InstallLocation."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

PRODUCT = "DentalClinic - agorracode"
UNINSTALL_KEY = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall"
WOW64_UNINSTALL_KEY = r"SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall"

# (DisplayName, InstallLocation) of every uninstall entry of the PC and of the user.
EntryReader = Callable[[], Iterable[tuple[str, str]]]


def install_folders(
    read_entries: EntryReader | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    windows: bool = os.name == "nt",
) -> list[Path]:
    """The earlier app's program folders that exist on this PC: the install locations its
    installer recorded, then its default folders under Program Files; without repeats. Empty
    elsewhere than Windows."""
    if not windows:
        return []
    environ = os.environ if environ is None else environ
    read_entries = read_entries or _registry_entries
    named = [
        Path(location.strip().strip('"'))
        for name, location in read_entries()
        if name.strip().startswith(PRODUCT) and location.strip().strip('"')
    ]
    defaults = [
        Path(environ[variable]) / PRODUCT
        for variable in ("ProgramFiles", "ProgramW6432", "ProgramFiles(x86)")
        if environ.get(variable)
    ]
    found: list[Path] = []
    for folder in (*named, *defaults):
        if folder.is_dir() and all(not _same(folder, known) for known in found):
            found.append(folder)
    return found


def _same(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _registry_entries() -> list[tuple[str, str]]:
    """Every uninstall entry's (DisplayName, InstallLocation), per machine (both views) and per
    user; entries without either value are left out. Windows only."""
    if sys.platform != "win32":  # also tells mypy to check the rest for Windows only
        raise OSError("the registry exists only on Windows")
    import winreg

    entries: list[tuple[str, str]] = []
    for root, key in (
        (winreg.HKEY_LOCAL_MACHINE, UNINSTALL_KEY),
        (winreg.HKEY_LOCAL_MACHINE, WOW64_UNINSTALL_KEY),
        (winreg.HKEY_CURRENT_USER, UNINSTALL_KEY),
    ):
        try:
            handle = winreg.OpenKey(root, key)
        except OSError:
            continue
        with handle:
            index = 0
            while True:
                try:
                    sub = winreg.EnumKey(handle, index)
                except OSError:
                    break
                index += 1
                try:
                    with winreg.OpenKey(handle, sub) as entry:
                        name, _ = winreg.QueryValueEx(entry, "DisplayName")
                        location, _ = winreg.QueryValueEx(entry, "InstallLocation")
                except OSError:
                    continue
                if isinstance(name, str) and isinstance(location, str):
                    entries.append((name, location))
    return entries
