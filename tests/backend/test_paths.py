"""The program's own files are found from source and from a bundle by one helper."""

from __future__ import annotations

import sys

from backend import paths
from backend.db import _alembic_config


def test_source_lookups_point_at_the_source_tree():
    assert (paths.web_dir() / "templates" / "index.html").is_file()
    assert (paths.migrations_dir() / "env.py").is_file()
    assert paths.icon_file().is_file()
    assert not paths.is_frozen()


def test_frozen_lookups_point_into_the_bundle(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert paths.is_frozen()
    assert paths.web_dir() == tmp_path / "web"
    assert paths.migrations_dir() == tmp_path / "backend" / "migrations"
    assert paths.icon_file() == tmp_path / "build" / "icons" / "dental-images.png"


def test_alembic_reads_the_migrations_through_the_helper(monkeypatch, tmp_path, runtime):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    config = _alembic_config(runtime.engine)
    assert config.get_main_option("script_location") == str(tmp_path / "backend" / "migrations")
