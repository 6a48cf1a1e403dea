"""Facts about the bundle shared by the PyInstaller spec, the installer scripts and their tests:
names, the version (read from backend/__init__.py, its one home), what each OS leaves out, and
the macOS Info.plist."""

from __future__ import annotations

import importlib.util
import plistlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APP_NAME = "Dental Images"
EXE_NAME = "dental-images"
BUNDLE_ID = "com.dentalimages.desktop"
PUBLISHER = "Dental Images"
COPYRIGHT = f"© {PUBLISHER}. All rights reserved."
ICONS_DIR = ROOT / "build" / "icons"
INFO_PLIST = ROOT / "installer" / "macos" / "Info.plist"
VERSION_PLACEHOLDER = "@VERSION@"

# (source, folder inside the bundle): the bundle mirrors the source tree (see backend/paths.py).
DATA_DIRS = (
    ("web/templates", "web/templates"),
    ("web/static", "web/static"),
    ("backend/migrations", "backend/migrations"),
    ("backend/translations", "backend/translations"),  # the compiled catalogs (.mo)
)
DATA_FILES = (("build/icons/dental-images.png", "build/icons"),)

# Never in a bundle: test and build tools, other GUI toolkits, Qt bindings we do not use.
ALWAYS_EXCLUDED = (
    "pytest",
    "_pytest",
    "pytest_timeout",
    "playwright",
    "ruff",
    "PyInstaller",
    "tkinter",
    "_tkinter",
    "PyQt5",
    "PySide2",
    "PySide6",
    "cefpython3",
    "webview.platforms.cef",
    "webview.platforms.mshtml",
    "webview.platforms.android",
    "alembic.testing",
    "sqlalchemy.testing",
    # Pulled in by optional paths the program never takes: Mako's syntax highlighting of
    # template errors (pygments), cffi's build-time compiler (setuptools, distutils), help()'s
    # topics; and Pillow's AVIF codec, 8 MB, for a format the program does not accept.
    "pygments",
    "setuptools",
    "pkg_resources",
    "distutils",
    "pydoc_data",
    "PIL._avif",
    "PIL.AvifImagePlugin",
    # Database engines other than SQLite and PostgreSQL (SQLAlchemy loads a dialect by its URL),
    # numpy's experimental array API, and the pure-Python decimal that _decimal stands in for.
    "sqlalchemy.dialects.mysql",
    "sqlalchemy.dialects.oracle",
    "sqlalchemy.dialects.mssql",
    "numpy.array_api",
    "_pydecimal",
)
# Each OS bundles only its own webview backend: Windows EdgeChromium (WebView2) through WinForms,
# macOS WKWebView through Cocoa, Linux Qt WebEngine.
EXCLUDED_BY_OS = {
    "win32": ("qtpy", "PyQt6", "gi", "webview.platforms.qt", "webview.platforms.gtk",
              "webview.platforms.cocoa"),
    "darwin": ("qtpy", "PyQt6", "gi", "clr", "webview.platforms.qt", "webview.platforms.gtk",
               "webview.platforms.winforms", "webview.platforms.edgechromium",
               "webview.platforms.win32"),
    "linux": ("gi", "clr", "webview.platforms.gtk", "webview.platforms.cocoa",
              "webview.platforms.winforms", "webview.platforms.edgechromium",
              "webview.platforms.win32"),
}  # fmt: skip
# Qt modules the Linux window does not use, though Qt WebEngine's hooks would pull some in.
QT_UNUSED = (
    "PyQt6.QtQml",
    "PyQt6.QtQuick",
    "PyQt6.QtQuickWidgets",
    "PyQt6.QtWebEngineQuick",
    "PyQt6.QtMultimedia",
    "PyQt6.QtSql",
    "PyQt6.QtTest",
    "PyQt6.QtDesigner",
    "PyQt6.QtBluetooth",
    "PyQt6.QtNfc",
    "PyQt6.QtSensors",
    "PyQt6.QtSerialPort",
    "PyQt6.QtPdf",
    "PyQt6.QtPdfWidgets",
    "PyQt6.Qt3DCore",
    "PyQt6.QtCharts",
    "PyQt6.QtDataVisualization",
)


def submodules_on_disk(package: str) -> list[str]:
    """`package` and every module under it, found from its files without importing any of it.
    (PyInstaller's collect_submodules imports every one: the build then runs nothing of them)."""
    top, *rest = package.split(".")
    spec = importlib.util.find_spec(top)  # a top-level package is located, not imported
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(package)
    folder = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    names = [package]
    for path in sorted(folder.rglob("*.py")):
        relative = path.relative_to(folder).with_suffix("")
        parts = [p for p in relative.parts if p != "__init__"]
        if parts and "__pycache__" not in relative.parts:
            names.append(".".join([package, *parts]))
    return names


def version() -> str:
    """The program's version, read from backend/__init__.py without importing the backend."""
    text = (ROOT / "backend" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if not found:
        raise RuntimeError("backend/__init__.py has no __version__")
    return found.group(1)


def os_key(platform: str) -> str:
    """'win32', 'darwin' or 'linux' for a sys.platform value."""
    return "linux" if platform.startswith("linux") else platform


# cryptography's native part does not load under Wine 8 either ("DLL load failed while importing
# _rust"): the Windows build leaves it out, and encrypted backups there run their AES on
# pycryptodomex (backend.backup.winzip_aes), the same bytes, slower.
WINE_UNLOADABLE = ("cryptography",)


def excluded_modules(platform: str) -> list[str]:
    """Modules PyInstaller must leave out of the bundle built on `platform` (sys.platform)."""
    key = os_key(platform)
    qt = QT_UNUSED if key == "linux" else ()
    wine = WINE_UNLOADABLE if key == "win32" else ()
    return [*ALWAYS_EXCLUDED, *EXCLUDED_BY_OS[key], *qt, *wine]


def mac_info_plist(app_version: str) -> dict[str, Any]:
    """installer/macos/Info.plist with the version filled in (it holds a placeholder instead)."""
    with INFO_PLIST.open("rb") as handle:
        plist = plistlib.load(handle)
    return {
        key: value.replace(VERSION_PLACEHOLDER, app_version) if isinstance(value, str) else value
        for key, value in plist.items()
    }


def windows_version_info(app_version: str) -> Any:
    """The version resource of dental-images.exe (Properties > Details in Explorer)."""
    from PyInstaller.utils.win32 import versioninfo as vi

    numbers = [int(n) for n in re.findall(r"\d+", app_version)[:4]]
    four = (*numbers, 0, 0, 0, 0)[:4]
    strings = {
        "CompanyName": PUBLISHER,
        "FileDescription": APP_NAME,
        "FileVersion": app_version,
        "InternalName": EXE_NAME,
        "LegalCopyright": COPYRIGHT,
        "OriginalFilename": f"{EXE_NAME}.exe",
        "ProductName": APP_NAME,
        "ProductVersion": app_version,
    }
    table = vi.StringTable("040904B0", [vi.StringStruct(k, v) for k, v in strings.items()])
    return vi.VSVersionInfo(
        ffi=vi.FixedFileInfo(filevers=four, prodvers=four),
        kids=[
            vi.StringFileInfo([table]),
            vi.VarFileInfo([vi.VarStruct("Translation", [1033, 1200])]),
        ],
    )


if __name__ == "__main__":
    print(version())  # for the build scripts: `python build/bundle_info.py`
