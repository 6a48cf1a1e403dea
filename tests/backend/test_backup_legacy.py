"""Restoring the earlier app's backups (.zip with dental_clinic.db and dental_images/, a bare
.db, a whole-database .json export): staged safely and imported after a safety backup."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.backup import kinds
from backend.backup.errors import BackupInvalid
from backend.backup.legacy import import_marker
from backend.backup.restore import preview_restore, restore_backup
from backend.backup.service import backup_status
from backend.backup.verify import verify_archive
from backend.errors import ValidationError
from backend.migration import importer
from backend.models import AppState, Image, Patient
from tests.backup_data import populate, state_of
from tests.helpers import dead_pid
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
    with runtime.sessions() as session:
        assert import_marker.unfinished(session) is None  # put back: nothing left unfinished


def test_an_import_running_now_is_not_reported_as_cut_off(runtime, session, tmp_path):
    import_marker.mark_started(runtime.sessions, tmp_path / "old.zip", tmp_path / "safety.zip")
    running = backup_status(session, runtime.settings, restore_running=True)
    assert running["unfinished_import"] is None
    assert "did not finish" not in (running["warning"] or "")
    cut_off = backup_status(session, runtime.settings)
    with session.begin_nested():  # recorded by a process of this PC that is gone
        row = session.get(AppState, import_marker.KEY)
        row.value = json.dumps({**json.loads(row.value), "pid": dead_pid()})
    gone = backup_status(session, runtime.settings, restore_running=True)
    assert gone["unfinished_import"] is not None  # its lease may still live: it cannot run
    assert cut_off["unfinished_import"]["archive"] == str(tmp_path / "old.zip")
    assert cut_off["warning"].startswith("The import of old.zip on ")
    assert "safety.zip" in cut_off["warning"]


def legacy_json_export(target: Path) -> Path:
    """The earlier app's oldest backup: its whole-database export as one JSON object."""
    export = {
        "metadata": {"created_at": "2024-03-02T10:11:12.000Z", "version": "1.0.0"},
        "patients": [
            {
                "id": "2b0d7b3e-9c1a-4c2e-8f5e-0a1b2c3d4e5f",
                "serial_number": "17",
                "full_name": "ليلى حداد",
                "gender": "female",
                "age": 34,
                "phone": "+961 1 234 567",
                "allergies": "penicillin",
                "created_at": "2024-01-05T09:00:00.000Z",
            },
            {
                "ID": "ignored: SQLite names ignore case, the first spelling is kept",
                "id": "7c6b1a5e-1d2f-4e3a-9b8c-7d6e5f4a3b2c",
                "serial_number": "18",
                "full_name": "Omar O'Brien-Smith",
                "gender": "male",
                "age": 51,
            },
        ],
        "appointments": [{"id": "a1", "patient_id": "2b0d7b3e-9c1a-4c2e-8f5e-0a1b2c3d4e5f"}],
        "payments": [{"id": "p1", "amount": 120}, {"id": "p2", "amount": 80}],
        "treatments": [],
        "settings": {"clinic_name": "Clinic"},
    }
    target.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    return target


def test_a_legacy_json_export_is_verified_previewed_and_imported_once(runtime, tmp_path):
    export = legacy_json_export(tmp_path / "clinic-export.json")
    assert kinds.detect_kind(export) == kinds.LEGACY_JSON
    report = verify_archive(export)
    assert report.ok
    assert any("1 appointments, 2 payments, settings" in w for w in report.warnings)

    preview = preview_restore(runtime, export)
    assert preview["kind"] == "legacy-json" and preview["legacy"]["patients"] == 2
    assert count(runtime, Patient) == 0

    result = restore_backup(runtime, export)
    assert Path(result["safety_backup"]).is_file()
    with runtime.sessions() as session:
        layla = session.get(Patient, "2b0d7b3e-9c1a-4c2e-8f5e-0a1b2c3d4e5f")
        assert (layla.full_name, layla.serial_number, layla.age) == ("ليلى حداد", "17", 34)
        assert (layla.phone, layla.allergies, layla.gender) == (
            "+961 1 234 567",
            "penicillin",
            "female",
        )
    restore_backup(runtime, export)
    assert count(runtime, Patient) == 2  # a second restore adds nothing twice


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ('{"a": 1}', "no list of patients"),
        ('{"patients": [1, 2]}', "not a list of records"),
        ('{"patients": [], "tooth_treatments": {"x": 1}}', "not a list of records"),
        ('{"patients": [', "not readable JSON"),
    ],
)
def test_a_json_file_that_is_no_export_is_refused_and_changes_nothing(
    runtime, tmp_path, content, problem
):
    populate(runtime, patients_count=1)
    before = state_of(runtime)
    bad = tmp_path / "not-an-export.json"
    bad.write_text(content, encoding="utf-8")
    report = verify_archive(bad)
    assert not report.ok and any(problem in p for p in report.problems)
    for attempt in (preview_restore, restore_backup):
        with pytest.raises(BackupInvalid) as caught:
            attempt(runtime, bad)
        assert problem in str(caught.value)
    assert state_of(runtime) == before


def test_without_the_legacy_importer_the_message_says_so(runtime, tmp_path, monkeypatch):
    import sys

    import backend.migration

    data = build_legacy(tmp_path / "old app")
    monkeypatch.delattr(backend.migration, "importer", raising=False)
    monkeypatch.setitem(sys.modules, "backend.migration.importer", None)
    with pytest.raises(ValidationError) as caught:
        restore_backup(runtime, data.database)
    assert "cannot import those yet" in caught.value.message
