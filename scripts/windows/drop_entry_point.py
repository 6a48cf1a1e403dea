"""Remove one entry-point group of one installed distribution from a site-packages folder
(the Windows lane's build environment; see scripts/windows-checks.sh for why).
Usage: python drop_entry_point.py SITE_PACKAGES DISTRIBUTION GROUP"""

from __future__ import annotations

import sys
from pathlib import Path


def drop_group(site_packages: Path, distribution: str, group: str) -> bool:
    """Drop `[group]` from `distribution`'s entry_points.txt; True when it was there."""
    (info,) = site_packages.glob(f"{distribution}-*.dist-info")
    points = info / "entry_points.txt"
    if not points.is_file():
        return False
    kept, skipping, dropped = [], False, False
    for line in points.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("["):
            skipping = line.strip() == f"[{group}]"
            dropped = dropped or skipping
        if not skipping:
            kept.append(line)
    points.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return dropped


if __name__ == "__main__":
    folder, name, wanted = sys.argv[1:4]
    removed = drop_group(Path(folder), name, wanted)
    print(f"{name}: [{wanted}] " + ("removed" if removed else "absent"))
