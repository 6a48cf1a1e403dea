"""The built Linux bundle, shared by the bundle tests (built once, or reused when dist/ holds a
build of the same sources, and kept from other runs' rebuilds until they are done), and the
figures the run measured."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bundle.build_cache import ROOT, Bundle, bundle_in_use

ARTIFACTS = ROOT / "artifacts"
REPORT = ARTIFACTS / "bundle" / "report.json"


@pytest.fixture(scope="package")
def bundle() -> Iterator[Bundle]:
    for tool in ("objdump", "xvfb-run", "xdotool"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: run scripts/test.sh to install the system packages")
    with bundle_in_use() as built:
        record(
            version=built.version,
            build_seconds=round(built.build_seconds, 1),
            build_reused=built.reused,
            bundle_bytes=folder_bytes(built.folder),
            tarball_bytes=built.tarball.stat().st_size,
            deb_bytes=built.deb.stat().st_size if built.deb else None,
        )
        yield built


def folder_bytes(folder: Path) -> int:
    """Bytes on disk, as `du` counts them (symbolic links by their own size)."""
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


def record(**figures: object) -> None:
    """Add figures to artifacts/bundle/report.json."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text(encoding="utf-8")) if REPORT.exists() else {}
    report.update(figures)
    REPORT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
