"""Restoring the earlier app's backups (.zip with dental_clinic.db and dental_images/, a bare
.db): staged safely and imported after a safety backup; the .json export is refused for now."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.backup import kinds
from backend.backup.restore import preview_restore, restore_backup
from backend.backup.verify import verify_archive
from backend.errors import ValidationError
from backend.legacy import importer
from backend.models import Image, Patient
from tests.backup_data import populate, state_of
from tests.legacy_data import build_legacy


def legacy_zip(folder: Path, target: Path) -> Path:
    """The earlier app's "backup with images": its database at the root, its image tree (and
    the public/upload root) beside it."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return target


def count(runtime, model) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_legacy_zip_is_recognised_previewed_and_imported(runtime, tmp_path):
    data = build_legacy(tmp_path / "old app", notation="fdi")
    archive = legacy_zip(data.folder, tmp_path / "backup_2024.zip")
    assert kinds.detect_kind(archive) == kinds.LEGACY_ZIP
    assert verify_archive(archive).ok

    preview = preview_restore(runtime, archive)
    assert preview["kind"] == "legacy-zip"
    assert preview["notation"]["detected"] == "fdi" and preview["notation"]["certain"]
    assert preview["legacy"]["patients"] == 4
    assert count(runtime, Patient) == 0

    result = restore_backup(runtime, archive)

    assert result["notation"] == "fdi"
    assert Path(result["safety_backup"]).is_file()
    assert count(runtime, Patient) == 4
    assert count(runtime, Image) == len(data.expected)
    with runtime.sessions() as session:
        for image in session.scalars(select(Image)):
            assert runtime.store.path_of(image.relative_path).is_file()
    assert not list((runtime.settings.backups_dir / ".work").glob("legacy-*"))


def test_a_bare_legacy_database_is_imported_without_images(runtime, tmp_path):
    data = build_legacy(tmp_path / "old app", notation="universal")
    assert kinds.detect_kind(data.database) == kinds.LEGACY_DB

    result = restore_backup(runtime, data.database)

    assert result["kind"] == "legacy-db" and result["notation"] == "universal"
    assert count(runtime, Patient) == 4
    assert result["imported"]["missing"] > 0  # the rows are there, their files were not


def test_importing_the_same_legacy_backup_twice_adds_nothing_twice(runtime, tmp_path):
    data = build_legacy(tmp_path / "old app")
    archive = legacy_zip(data.folder, tmp_path / "old.zip")
    restore_backup(runtime, archive)
    images = count(runtime, Image)
    restore_backup(runtime, archive)
    assert (count(runtime, Patient), count(runtime, Image)) == (4, images)


def test_a_failed_legacy_import_puts_the_current_data_back(runtime, tmp_path, monkeypatch):
    populate(runtime, patients_count=1)
    before = state_of(runtime)
    data = build_legacy(tmp_path / "old app")
    archive = legacy_zip(data.folder, tmp_path / "old.zip")
    real_import = importer.import_legacy

    def import_then_fail(*args, **kwargs):
        real_import(*args, **kwargs)
        raise RuntimeError("disk went away half-way")

    monkeypatch.setattr(importer, "import_legacy", import_then_fail)
    with pytest.raises(RuntimeError):
        restore_backup(runtime, archive)

    assert state_of(runtime) == before


def test_a_legacy_json_export_is_refused_as_not_supported_yet(runtime, tmp_path):
    export = tmp_path / "clinic-export.json"
    export.write_text('{"patients": [], "appointments": [], "payments": []}')
    assert kinds.detect_kind(export) == kinds.LEGACY_JSON
    before = state_of(runtime)
    for attempt in (preview_restore, restore_backup):
        with pytest.raises(ValidationError) as caught:
            attempt(runtime, export)
        assert "cannot be restored yet" in caught.value.message
    assert state_of(runtime) == before
    report = verify_archive(export)
    assert report.ok and any("cannot be restored yet" in w for w in report.warnings)


def test_without_the_legacy_importer_the_message_says_so(runtime, tmp_path, monkeypatch):
    import sys

    import backend.legacy

    data = build_legacy(tmp_path / "old app")
    monkeypatch.delattr(backend.legacy, "importer", raising=False)
    monkeypatch.setitem(sys.modules, "backend.legacy.importer", None)
    with pytest.raises(ValidationError) as caught:
        restore_backup(runtime, data.database)
    assert "cannot import those yet" in caught.value.message
