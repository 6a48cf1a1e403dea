"""The Python side of the JS bridge: native things the window can ask for through
`window.pywebview.api` (dialogs, the OS file viewer). Data never goes through here: it goes
through the HTTP API."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from backend import __version__
from backend.runtime import Runtime


def open_with_os(path: Path) -> None:
    """Open a file or folder with the operating system's own program for it."""
    if sys.platform.startswith("win"):
        os.startfile(path)  # type: ignore[attr-defined]
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)])
    else:
        subprocess.Popen(["xdg-open", str(path)])


class Bridge:
    """Methods exposed to the page. Each returns plain JSON-able data."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def app_info(self) -> dict[str, str]:
        return {"version": __version__, "data_dir": str(self._runtime.settings.data_dir)}

    def reveal_data_folder(self) -> bool:
        open_with_os(self._runtime.settings.data_dir)
        return True
