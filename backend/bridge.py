"""The Python side of the JS bridge: native things the window can ask for through
`window.pywebview.api` (dialogs, the OS file viewer). Records and uploads go through the HTTP
API; the only data here is the content of files the user picked in a native dialog."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from backend import __version__
from backend.db import session_scope
from backend.dicom import PREAMBLE_BYTES, looks_like_dicom
from backend.errors import AppError
from backend.fileio import human_size
from backend.i18n import N_, gettext
from backend.imaging import MIME_TYPES
from backend.runtime import Runtime
from backend.usecases import images
from backend.usecases.retrieval import locate_image

log = logging.getLogger(__name__)

OPEN = "open"
FOLDER = "folder"
# pywebview's filters, "Description (*.ext;*.ext)"; shown in the current language (the
# description is letters and spaces only, which pywebview requires).
IMAGE_FILE_TYPES = (
    N_("Images (*.png;*.jpg;*.jpeg;*.webp;*.bmp;*.gif;*.tif;*.tiff;*.heic;*.heif)"),
    N_("All files (*.*)"),
)
BACKUP_FILE_TYPES = (N_("Backups (*.zip;*.db;*.json)"), N_("All files (*.*)"))
MAX_FILE_BYTES = images.DEFAULT_LIMITS.max_bytes
MAX_DICOM_BYTES = images.DEFAULT_LIMITS.max_dicom_bytes


def shown_file_types(file_types: Sequence[str]) -> tuple[str, ...]:
    """A dialog's file filters in the current language."""
    return tuple(gettext(file_type) for file_type in file_types)


class FileDialog(Protocol):
    """Shows a native dialog of `kind` (OPEN or FOLDER) and returns the chosen paths, [] when
    the user cancels."""

    def __call__(
        self, kind: str, *, allow_multiple: bool = False, file_types: Sequence[str] = ()
    ) -> Sequence[str]: ...


def pywebview_dialog(
    kind: str, *, allow_multiple: bool = False, file_types: Sequence[str] = ()
) -> list[str]:
    """The program window's own dialog (pywebview)."""
    import webview

    if not webview.windows:
        log.warning("no window to show a %s dialog on", kind)
        return []
    dialog_type = webview.FileDialog.FOLDER if kind == FOLDER else webview.FileDialog.OPEN
    chosen = webview.windows[0].create_file_dialog(
        dialog_type, allow_multiple=allow_multiple, file_types=tuple(file_types)
    )
    if isinstance(chosen, str):  # some platforms answer a single choice with a bare string
        return [chosen]
    return [str(path) for path in chosen or ()]


def _load_in_window(address: str) -> None:
    import webview

    if webview.windows:
        webview.windows[0].load_url(address)


def open_with_os(path: Path) -> None:
    """Open a file or folder with the operating system's own program for it."""
    if sys.platform == "win32":
        os.startfile(path)
    elif sys.platform == "darwin":
        subprocess.Popen(["open", str(path)])
    else:
        subprocess.Popen(["xdg-open", str(path)])


def _limit_of(path: Path) -> int:
    """The largest file of `path`'s kind the server takes: a DICOM file (by its DICM mark) may
    be larger than a photo."""
    with open(path, "rb") as handle:
        head = handle.read(PREAMBLE_BYTES + 4)
    return MAX_DICOM_BYTES if looks_like_dicom(head) else MAX_FILE_BYTES


def _picked_file(path: Path) -> dict[str, Any]:
    """{"name", "mime", "size_bytes", "data_base64"}, or "error" instead of the data when the
    file is too large or cannot be read."""
    extension = path.suffix.lower().lstrip(".")
    picked: dict[str, Any] = {
        "name": path.name,
        "mime": MIME_TYPES.get(extension, "application/octet-stream"),
    }
    try:
        size = path.stat().st_size
        limit = _limit_of(path)
        if size <= limit:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)  # bounded: the file may grow meanwhile
            size = len(data)
    except OSError as exc:
        log.warning("picked file not readable: %s (%s)", path, exc)
        return {**picked, "error": gettext("The file cannot be read.")}
    picked["size_bytes"] = size
    if size > limit:
        return {
            **picked,
            "error": gettext(
                "The file is larger than {limit}, the most one image may be.",
                limit=human_size(limit),
            ),
        }
    return {**picked, "data_base64": base64.b64encode(data).decode("ascii")}


class Bridge:
    """Methods exposed to the page. Each returns plain JSON-able data. pywebview exposes every
    public attribute, so everything else is kept private."""

    def __init__(
        self,
        runtime: Runtime,
        dialog: FileDialog = pywebview_dialog,
        *,
        page_address: Callable[[], str] | None = None,
        load_page: Callable[[str], None] | None = None,
    ) -> None:
        """`page_address()` is the address that opens the program's page now (with its launch
        token); `load_page(address)` shows an address in the window (pywebview's by default)."""
        self._runtime = runtime
        self._dialog = dialog
        self._page_address = page_address
        self._load_page = load_page or _load_in_window

    def app_info(self) -> dict[str, str]:
        return {"version": __version__, "data_dir": str(self._runtime.settings.data_dir)}

    def reveal_data_folder(self) -> bool:
        return self._open(self._runtime.settings.data_dir)

    def choose_image_files(self) -> list[dict[str, Any]]:
        """Image files picked in the native dialog: [{"name", "mime", "size_bytes",
        "data_base64"}] (or "error" instead of "data_base64"); [] when cancelled."""
        paths = self._dialog(
            OPEN, allow_multiple=True, file_types=shown_file_types(IMAGE_FILE_TYPES)
        )
        return [_picked_file(Path(p)) for p in paths]

    def choose_folder(self) -> str | None:
        """A folder picked in the native dialog, or None when cancelled."""
        return self._first(self._dialog(FOLDER))

    def choose_backup_file(self) -> str | None:
        """A backup file (.zip, .db or .json) picked in the native dialog, or None."""
        return self._first(self._dialog(OPEN, file_types=shown_file_types(BACKUP_FILE_TYPES)))

    def open_image(self, image_id: str) -> bool:
        """Open an image's file in the OS viewer. False when it cannot be found or opened."""
        try:
            with session_scope(self._runtime.sessions) as session:
                image = images.get_image(session, str(image_id))
                path = locate_image(session, self._runtime.store, image)
        except AppError as exc:
            log.warning("image %s not opened: %s", image_id, exc.message)
            return False
        return self._open(path)

    def reopen_page(self) -> bool:
        """The page found that the server no longer takes its key (it belongs to an earlier
        start of the server): load the server's current page in the window. False when this
        window does not know that address."""
        if self._page_address is None:
            return False
        address = self._page_address()
        log.info("reopening the program's page: the window's page was from an earlier start")
        self._load_page(address)
        return True

    def open_log_folder(self) -> bool:
        folder = self._runtime.settings.logs_dir
        folder.mkdir(parents=True, exist_ok=True)
        return self._open(folder)

    @staticmethod
    def _first(paths: Sequence[str]) -> str | None:
        return str(paths[0]) if paths else None

    @staticmethod
    def _open(path: Path) -> bool:
        try:
            open_with_os(path)
        except OSError as exc:
            log.warning("could not open %s with the OS: %s", path, exc)
            return False
        return True
