"""Removing the legacy folders a migration emptied, and nothing else: a folder is removed
only when it is empty (rmdir refuses otherwise), walking up to, never including, a root."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from backend import fileio

log = logging.getLogger(__name__)


def remove_emptied(folders: Iterable[Path], roots: Iterable[Path]) -> int:
    """rmdir each of `folders` and then its parents while they are empty, stopping at any of
    `roots` (and their dental_images/). Returns how many folders were removed."""
    stops = set()
    for root in roots:
        stops.add(fileio.real_path(root))
        stops.add(fileio.real_path(Path(root) / "dental_images"))
    removed = 0
    for folder in sorted({fileio.real_path(f) for f in folders}, key=len, reverse=True):
        current = folder
        while current not in stops and any(current.startswith(s + os.sep) for s in stops):
            try:
                os.rmdir(current)
            except OSError:
                break  # not empty (or already gone and its parent holds something)
            removed += 1
            log.info("emptied legacy folder removed: %s", current)
            current = os.path.dirname(current)
    return removed
