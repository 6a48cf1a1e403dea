"""A backup's database is data, never code: restore builds a fresh database with our own
migrations and copies only values into it. A trigger, view, extra table or CHECK of the
archive's is named and refuses the archive before anything of it runs; rows our API would
refuse are refused with the record named; a database made to stall SQLite is stopped within
its budget, and no work folder stays behind."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backend.backup.create import create_backup
from backend.backup.restore import restore_backup
from backend.backup.verify import verify_archive
from tests.backup_data import populate, rows
from tests.reliability.test_hostile_archives import assert_refused_and_nothing_changed
from tests.security.altered import altered_backup, recreate_with

# Each evaluation costs SQLite about 10 ms: a program that checks this CHECK on its 1,500 rows
# (as PRAGMA integrity_check does) is busy for about 15 s on a 1 MB, 7 KB-compressed file.
BOMB = "CHECK (length(replace(hex(zeroblob(100000 + length(full_name))), '0', '01')) > 0)"
RECURSIVE = (
    "CREATE VIEW images AS WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
    "SELECT x AS id, x AS patient_id, '8' AS tooth, 'before' AS image_type, '' AS folder_path, "
    "'' AS file_name, NULL AS sha256 FROM n"
)


@pytest.fixture
def good(runtime) -> Path:
    populate(runtime, patients_count=2, images_each=2)
    return create_backup(runtime, runtime.settings.backups_dir).path


def work_folders(*folders: Path) -> list[str]:
    return [p.name for f in folders for p in f.iterdir() if p.name.startswith("dental-verify-")]


def test_a_trigger_that_renames_patients_is_named_and_nothing_is_restored(runtime, good, tmp_path):
    def add_trigger(c):
        c.execute(
            "CREATE TRIGGER rename_patients AFTER INSERT ON images "
            "BEGIN UPDATE patients SET full_name = 'renamed'; END"
        )
        c.execute(
            "CREATE TRIGGER rename_on_restore AFTER INSERT ON patients "
            "BEGIN UPDATE patients SET full_name = 'renamed'; END"
        )

    archive = altered_backup(good, tmp_path / "trigger.zip", tmp_path, add_trigger)
    report = verify_archive(archive)
    assert not report.ok
    assert any("trigger rename_patients" in p for p in report.problems), report.problems
    assert_refused_and_nothing_changed(runtime, archive, "trigger rename_patients")
    assert "renamed" not in json.dumps(rows(runtime)["patients"], default=str)


def test_a_cpu_bomb_check_is_refused_in_moments(runtime, good, tmp_path):
    def bomb(c):
        recreate_with(c, "patients", BOMB)
        c.executemany(
            "INSERT INTO patients (id, serial_number, full_name, date_added, created_at, "
            "updated_at) VALUES (?, ?, 'x', '2025-01-01', '2025-01-01', '2025-01-01')",
            [(f"bomb-{n}", f"b{n}") for n in range(1500)],
        )

    archive = altered_backup(good, tmp_path / "bomb.zip", tmp_path, bomb)
    assert archive.stat().st_size < 200_000
    started = time.monotonic()
    report = verify_archive(archive, work_dir=tmp_path)
    seconds = time.monotonic() - started
    print(f"\nverify of the CPU-bomb CHECK archive: refused in {seconds:.2f} s")
    assert not report.ok
    assert any("CHECK (length" in p and "on patients" in p for p in report.problems)
    assert seconds < 3, seconds
    assert work_folders(tmp_path) == []
    assert_refused_and_nothing_changed(runtime, archive, "schema objects this program never")


def test_a_recursive_view_named_images_is_refused_fast_and_leaves_no_work_folder(
    runtime, good, tmp_path
):
    def view(c):
        c.execute("PRAGMA foreign_keys=OFF")
        c.execute("DROP TABLE images")
        c.execute(RECURSIVE)

    archive = altered_backup(good, tmp_path / "view.zip", tmp_path, view, recount=False)
    work = tmp_path / "work"
    work.mkdir()
    # In a process of its own, so that a verify that never ends is a failure, not a hang.
    script = (
        "import sys; from pathlib import Path; from backend.backup.verify import verify_archive;"
        "r = verify_archive(Path(sys.argv[1]), work_dir=Path(sys.argv[2]));"
        "print(r.ok); print(' '.join(r.problems))"
    )
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(archive), str(work)],
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"verify did not finish in 60 s; left behind: {work_folders(work)}")
    seconds = time.monotonic() - started
    print(f"\nverify of the recursive-view archive: refused in {seconds:.2f} s")
    assert done.returncode == 0, done.stderr
    ok, problems = done.stdout.splitlines()[-2:]
    assert ok == "False" and "view images" in problems, done.stdout
    assert work_folders(work) == []
    assert_refused_and_nothing_changed(runtime, archive, "view images")


def test_an_extra_table_is_named(runtime, good, tmp_path):
    def extra(c):
        c.execute("CREATE TABLE exfiltrate (secret TEXT)")
        c.execute("CREATE INDEX ix_exfiltrate ON exfiltrate (secret)")

    archive = altered_backup(good, tmp_path / "extra.zip", tmp_path, extra)
    report = verify_archive(archive)
    assert any("table exfiltrate" in p and "index ix_exfiltrate" in p for p in report.problems)
    assert_refused_and_nothing_changed(runtime, archive, "table exfiltrate")


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("UPDATE treatments SET tooth = '99'", "Tooth"),
        ("UPDATE treatments SET priority = 'high'", "Priority must be a whole number"),
        ("UPDATE treatments SET start_date = '2020-13-45'", "Start date '2020-13-45'"),
        ("UPDATE images SET taken_date = '20200101'", "Taken date '20200101'"),
        ("UPDATE patients SET age = 400", "Age must be between 0 and 150"),
        ("UPDATE images SET width = x'00ff'", "Width must be a whole number"),
    ],
)
def test_a_record_the_api_would_refuse_refuses_the_backup_naming_it(
    runtime, good, tmp_path, change, named
):
    table = change.split()[1]
    record = {}

    def invalid(c):
        (record["id"],) = c.execute(f"SELECT id FROM {table} LIMIT 1").fetchone()
        c.execute(f"{change} WHERE id = ?", (record["id"],))

    archive = altered_backup(good, tmp_path / "invalid.zip", tmp_path, invalid)
    report = verify_archive(archive)
    assert not report.ok
    assert any(named in p and record["id"] in p for p in report.problems), report.problems
    assert_refused_and_nothing_changed(runtime, archive, record["id"])


def test_the_untouched_backup_still_restores_identically(runtime, good):
    before = rows(runtime)
    restore_backup(runtime, good)
    assert rows(runtime) == before


def test_the_earlier_apps_database_is_read_without_running_its_expressions(tmp_path):
    from backend.legacy.database import read_database

    path = tmp_path / "dental_clinic.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute(
            "CREATE TABLE patients (id TEXT, full_name TEXT, bomb INTEGER GENERATED ALWAYS AS "
            "(length(replace(hex(zeroblob(100000 + length(full_name))), '0', '01'))) VIRTUAL)"
        )
        connection.executemany(
            "INSERT INTO patients (id, full_name) VALUES (?, ?)",
            [(str(n), f"Patient {n}") for n in range(1500)],
        )
        connection.commit()
    started = time.monotonic()
    database = read_database(path)
    seconds = time.monotonic() - started
    print(f"\nearlier app's database with a generated-column bomb read in {seconds:.2f} s")
    assert seconds < 3
    assert len(database.rows("patients")) == 1500
    assert set(database.rows("patients")[0]) == {"id", "full_name"}
