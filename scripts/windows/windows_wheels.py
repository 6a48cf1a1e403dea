"""Install the Windows (win_amd64, CPython 3.11) wheels of everything the program, its tests and
its PyInstaller build need into a Windows Python's site-packages, from this Linux machine.

The pins come from pyproject.toml (dependencies, the window extra for Windows, pytest and the
build extra) and scripts/windows/requirements-windows.txt (win32-only dependencies, which pip
would leave out: it evaluates environment markers for the machine it runs on), whose pins win
over pyproject's (numpy 1.26.4 on Windows, see there). The pylibjpeg plugins, which ask for
numpy 2, are installed after the rest without their dependencies. Packages that PyPI has only
as an sdist (proxy_tools, pure Python) are built into wheels here first.

Usage: python scripts/windows/windows_wheels.py WHEEL_CACHE_DIR SITE_PACKAGES_DIR"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = [
    "--platform", "win_amd64", "--python-version", "3.11",
    "--implementation", "cp", "--abi", "cp311", "--only-binary=:all:",
]  # fmt: skip
SDIST_ONLY = ["proxy_tools==0.1.0"]
TEST_TOOLS = ("pytest", "pytest-timeout", "babel")  # babel: the catalog tests
NO_DEPS = ("pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle")


def _name(requirement: str) -> str:
    return requirement.split("==")[0].strip().lower()


def requirements() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    window = [r.split(";")[0].strip() for r in extras["window"] if "!= 'linux'" in r]
    tests = [r for r in extras["test"] if r.split("==")[0] in TEST_TOOLS]
    pinned = (ROOT / "scripts" / "windows" / "requirements-windows.txt").read_text(encoding="utf-8")
    windows_only = [line for line in pinned.splitlines() if line and not line.startswith("#")]
    overridden = {_name(r) for r in windows_only}
    common = [*project["dependencies"], *window, *tests, *extras["build"]]
    return [*(r for r in common if _name(r) not in overridden), *windows_only]


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True)


def main(wheels: Path, site_packages: Path) -> None:
    wheels.mkdir(parents=True, exist_ok=True)
    pip("wheel", "--no-deps", "-w", str(wheels), *SDIST_ONLY)
    wanted = requirements()
    rest = [r for r in wanted if _name(r) not in NO_DEPS]
    alone = [r for r in wanted if _name(r) in NO_DEPS]
    for group, deps in ((rest, []), (alone, ["--no-deps"])):
        pip("download", *TARGET, *deps, "-d", str(wheels), "--find-links", str(wheels), *group)
        pip(
            "install", *TARGET, *deps, "--no-index", "--find-links", str(wheels), "--no-compile",
            "--upgrade", "--target", str(site_packages), *group,
        )  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
