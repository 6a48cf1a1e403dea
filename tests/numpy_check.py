"""Whether numpy runs in this Python, for the DICOM tests. Under Wine 8, the Windows build of
numpy 2 dies at import (Wine's ucrtbase does not implement crealf) and takes the whole process
with it, so on Windows it is tried once in a child process; a real Windows runs it."""

from __future__ import annotations

import functools
import subprocess
import sys

import pytest

REASON = (
    "numpy cannot run in this Windows Python: under Wine 8 its import dies (ucrtbase.crealf is "
    "not implemented there); the Linux suite runs the DICOM tests"
)


@functools.cache
def numpy_runs() -> bool:
    if sys.platform != "win32":
        return True
    tried = subprocess.run(
        [sys.executable, "-c", "import numpy; numpy.zeros(2).sum()"],
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    return tried.returncode == 0


def skip_unless_numpy_runs() -> None:
    """Skip the calling test module (at its top, before it imports numpy or pydicom)."""
    if not numpy_runs():
        pytest.skip(REASON, allow_module_level=True)
