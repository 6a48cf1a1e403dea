"""What the program's log says, at which level: its own records in full, the libraries' only
when they warn, and an import that did not bring everything across said loudly."""

from __future__ import annotations

import logging

import pytest

from backend.config import load_settings, sqlite_url
from backend.db import create_db_engine, upgrade_schema
from backend.logging_setup import setup_logging
from backend.migration.importer import import_legacy, open_source, outcome_level
from backend.moving.report import ImportReport
from backend.startup import open_runtime
from tests.legacy_data import build_legacy


@pytest.fixture
def log_file(tmp_path):
    """The program's logging set up into tmp_path/logs; the root logger is put back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    path = setup_logging(tmp_path / "logs", console=False)
    yield path
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def logged(path) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return path.read_text(encoding="utf-8")


def test_alembic_chatter_stays_out_and_the_programs_own_records_stay_in(log_file, tmp_path):
    engine = create_db_engine(sqlite_url(tmp_path / "fresh.sqlite"))
    try:
        assert upgrade_schema(engine)  # Alembic says "Context impl SQLiteImpl." at INFO
    finally:
        engine.dispose()
    logging.getLogger("backend.usecases.patients").info("patient created: test")
    logging.getLogger("alembic.runtime.migration").warning("a library warning")
    logging.getLogger("PIL.PngImagePlugin").info("STREAM b'IHDR'")
    text = logged(log_file)
    assert "Context impl" not in text and "Running upgrade" not in text
    assert "STREAM" not in text
    assert "INFO backend.usecases.patients: patient created: test" in text
    assert "WARNING alembic.runtime.migration: a library warning" in text


def test_an_import_with_failures_is_logged_as_an_error(log_file, tmp_path):
    runtime = open_runtime(load_settings(tmp_path / "data"))
    try:
        build_legacy(tmp_path / "old")  # has missing files and a file that is no image
        report = import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    finally:
        runtime.close()
    assert report.failed
    [line] = [line for line in logged(log_file).splitlines() if " finished in " in line]
    assert " ERROR backend.migration.importer: import of " in line
    assert f"{report.failed} failed" in line


def test_the_level_follows_what_came_across():
    report = ImportReport("import", "/old")
    assert outcome_level(report) == logging.INFO
    report.add_missing("image y", "/old/y.png", "the file is not in the folder")
    assert outcome_level(report) == logging.WARNING
    report.add_failure("image x", "/old/x.png", "not an image")
    assert outcome_level(report) == logging.ERROR
    assert outcome_level(ImportReport("import", "/old", dry_run=True)) == logging.INFO
