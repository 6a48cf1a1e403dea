"""The Linux bundle the bundle tests and the start-up benchmark run: built with the documented
command (`bash build/build.sh`), or reused when the last build came from the same sources."""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
BUNDLE = DIST / "dental-images"
EXECUTABLE = BUNDLE / "dental-images"
STAMP = ROOT / "build" / "out" / "bundle-stamp.json"
# Everything that ends up in the bundle or decides how it is made.
SOURCES = ("app.py", "pyproject.toml", "backend", "web", "build", "installer/linux")
SKIPPED_PARTS = {"__pycache__", "out"}


@dataclass(frozen=True)
class Bundle:
    folder: Path
    executable: Path
    tarball: Path
    deb: Path | None
    version: str
    build_seconds: float
    reused: bool


def sources_hash() -> str:
    """A digest of every source file (path and bytes) and of the Python that builds."""
    digest = hashlib.sha256(sys.version.encode())
    for name in SOURCES:
        top = ROOT / name
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if SKIPPED_PARTS.intersection(path.relative_to(ROOT).parts) or path.suffix == ".pyc":
                continue
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def load_bundle_info() -> ModuleType:
    """build/bundle_info.py (names and version shared with the spec), which is no package."""
    spec = importlib.util.spec_from_file_location("bundle_info", ROOT / "build" / "bundle_info.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _artefacts(version: str) -> tuple[Path, Path | None]:
    tarball = next(iter(sorted(DIST.glob(f"DentalImages-{version}-linux-*.tar.gz"))), None)
    deb = next(iter(sorted(DIST.glob(f"dental-images_{version}_*.deb"))), None)
    return (tarball or DIST / "missing.tar.gz"), deb


@contextmanager
def bundle_in_use() -> Iterator[Bundle]:
    """The bundle of these sources, built unless dist/ already holds it, and kept there while the
    caller uses it: a lock on build/out/ lets one run build (exclusive) and any number use the
    build (shared), so two test runs on one work tree never build over a bundle in use."""
    STAMP.parent.mkdir(parents=True, exist_ok=True)
    with (STAMP.parent / "bundle.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = _build_unless_current()
        fcntl.flock(lock, fcntl.LOCK_SH)
        yield built


def _build_unless_current() -> Bundle:
    version = load_bundle_info().version()
    wanted = sources_hash()
    stamp = json.loads(STAMP.read_text(encoding="utf-8")) if STAMP.exists() else {}
    tarball, deb = _artefacts(version)
    if stamp.get("hash") == wanted and EXECUTABLE.exists() and tarball.exists():
        return Bundle(BUNDLE, EXECUTABLE, tarball, deb, version, stamp["seconds"], True)
    STAMP.unlink(missing_ok=True)
    started = time.monotonic()
    completed = subprocess.run(
        ["bash", str(ROOT / "build" / "build.sh")],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=900,
    )
    seconds = time.monotonic() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"build/build.sh failed ({completed.returncode}):\n"
            + completed.stdout[-3000:]
            + completed.stderr[-6000:]
        )
    STAMP.write_text(json.dumps({"hash": wanted, "seconds": round(seconds, 1)}), encoding="utf-8")
    tarball, deb = _artefacts(version)
    return Bundle(BUNDLE, EXECUTABLE, tarball, deb, version, seconds, False)
