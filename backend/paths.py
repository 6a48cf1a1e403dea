"""Where the program's own files (templates, static files, migrations, icon) are, from source or
from a bundle. The bundle mirrors the source tree under its unpack folder, so every lookup is one
relative path from `resource_root()`."""

from __future__ import annotations

import sys
from pathlib import Path


def is_frozen() -> bool:
    """True when running from a PyInstaller bundle."""
    return bool(getattr(sys, "frozen", False))


def resource_root() -> Path:
    """The folder holding `web/` and `backend/`: the bundle's unpack folder when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if bundle else Path(__file__).resolve().parent.parent


def web_dir() -> Path:
    return resource_root() / "web"


def migrations_dir() -> Path:
    """The Alembic scripts (env.py, versions/) that bring a database to the newest schema."""
    return resource_root() / "backend" / "migrations"


def icon_file() -> Path:
    """The program's icon as PNG (the window icon on Linux)."""
    return resource_root() / "build" / "icons" / "dental-images.png"
