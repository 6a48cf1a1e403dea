"""`dental-images import-legacy` and `dental-images migrate` as scripts run them: real
processes, the exit codes of backend.exit_codes (0, 1, 3, 4, 5, 6)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.legacy_data import build_legacy

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _clean(folder: Path) -> None:
    """Drop the rows the generator makes unimportable, so that everything else can pass."""
    with sqlite3.connect(folder / "dental_clinic.db") as db:
        for table in ("tooth_treatment_images", "dental_treatment_images"):
            db.execute(
                f"DELETE FROM {table} WHERE image_path LIKE '%gone_1%'"
                " OR image_path LIKE '%notes_%' OR image_path LIKE '%/after/'"
            )
    # Files no row names that are not images, or in no patient's folder, keep the exit code
    # at 3: they go too.
    for pattern in ("stray_*", "notes_*"):
        for path in folder.rglob(pattern):
            path.unlink()


def test_exit_codes_tell_scripts_what_happened(tmp_path):
    data = build_legacy(tmp_path / "old", notation="fdi")
    home = str(tmp_path / "home")
    refused = run("import-legacy", str(tmp_path / "old"), "--data-dir", home)
    assert refused.returncode == 5 and "--yes" in refused.stderr  # not confirmed
    failed = run(
        "import-legacy",
        str(tmp_path / "old"),
        "--data-dir",
        home,
        "--yes",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert failed.returncode == 6, failed.stderr
    assert "tooth notation detected: fdi" in failed.stdout
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["imported"] == len(
        data.expected
    )

    build_legacy(tmp_path / "partial", notation="universal")
    with sqlite3.connect(tmp_path / "partial" / "dental_clinic.db") as db:
        db.execute("DELETE FROM tooth_treatment_images WHERE image_path LIKE '%notes_%'")
    partial = run("import-legacy", str(tmp_path / "partial"), "--data-dir", home, "--yes")
    assert partial.returncode == 3, partial.stdout + partial.stderr

    build_legacy(tmp_path / "clean", notation="universal")
    _clean(tmp_path / "clean")
    dry = run(
        "import-legacy",
        str(tmp_path / "clean"),
        "--data-dir",
        str(tmp_path / "h2"),
        "--dry-run",
        "--notation",
        "universal",
    )
    assert dry.returncode == 0 and "to import" in dry.stdout
    done = run(
        "import-legacy", str(tmp_path / "clean"), "--data-dir", str(tmp_path / "h2"), "--yes"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert run("migrate", "--data-dir", str(tmp_path / "h2")).returncode == 0
    assert run("import-legacy", str(tmp_path / "none"), "--data-dir", home, "--yes").returncode == 1


def test_an_import_while_another_pc_holds_the_store_exits_4_and_changes_nothing(tmp_path):
    from sqlalchemy import func, select

    from backend.config import load_settings
    from backend.models import Patient
    from backend.startup import open_runtime
    from tests.helpers import hold_store_lock_elsewhere

    build_legacy(tmp_path / "old", notation="fdi")
    home = tmp_path / "home"
    runtime = open_runtime(load_settings(home))
    hold_store_lock_elsewhere(runtime, "backup", "RECEPTION-2")
    busy = run("import-legacy", str(tmp_path / "old"), "--data-dir", str(home), "--yes")
    assert busy.returncode == 4, busy.stdout + busy.stderr
    assert "RECEPTION-2" in busy.stderr
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 0
    runtime.close()
