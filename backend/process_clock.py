"""How long this process has been running: the start-up figure logged when the window is usable."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# Fallback where the OS does not say when the process started: measured from this import, so it
# misses the interpreter's own start-up (and, in a bundle, the unpacking of the boot loader).
_IMPORTED_AT = time.monotonic()


def process_age() -> float:
    """Seconds since the operating system started this process (Linux: from /proc, to 10 ms);
    elsewhere seconds since this module was imported, a lower bound."""
    if sys.platform != "win32":  # Windows has neither /proc nor os.sysconf
        try:
            stat = Path("/proc/self/stat").read_text(encoding="ascii")
            uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
            # Field 22 (start time in clock ticks after boot) counted after the ")" ending field 2.
            started_ticks = int(stat.rsplit(")", 1)[1].split()[19])
            return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError, AttributeError):
            pass
    return time.monotonic() - _IMPORTED_AT
