"""Where the program's own files (templates, static files) are, from source or from a bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resource_root() -> Path:
    """The folder holding `web/` and `backend/`: the bundle's unpack folder when frozen."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if bundle else Path(__file__).resolve().parent.parent


def web_dir() -> Path:
    return resource_root() / "web"
