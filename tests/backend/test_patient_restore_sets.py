"""Restoring one patient from a backup set (plain or encrypted) and from an encrypted zip, on
SQLite and PostgreSQL: the passphrase is asked for and checked, the patient comes back whole
with every other patient's work kept, and a changed file of the set is refused with nothing
changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.backup import backup_set as bs
from backend.backup import patient_restore, patient_restore_plan, patient_source
from backend.backup.create import create_backup
from backend.backup.errors import BackupInvalid
from backend.backup.passphrase import PassphraseNeeded, WrongPassphrase
from backend.backup.set_create import create_set_backup
from backend.errors import NotFound
from backend.jobs import Progress
from backend.usecases import patients, trash
from tests.backend.test_patient_restore import leftovers, others, patient_rows
from tests.backup_data import files, populate

SECRET = "olive tree by the sea 42"
SOURCES = ["plain set", "encrypted set", "encrypted zip"]


def backup_of(runtime, tmp_path: Path, source: str) -> tuple[Path, str | None]:
    if source == "plain set":
        return create_set_backup(runtime, tmp_path).path, None
    if source == "encrypted set":
        return create_set_backup(runtime, tmp_path, passphrase=SECRET).path, SECRET
    return create_backup(runtime, tmp_path, passphrase=SECRET).path, SECRET


def open_it(runtime, path: Path, secret: str | None):
    return patient_source.open_backup(runtime.settings, path, Progress(), passphrase=secret)


@pytest.mark.parametrize("source", SOURCES)
def test_a_deleted_patient_comes_back_from_a_set_or_an_encrypted_zip(runtime, tmp_path, source):
    ids = populate(runtime)
    target = ids[1]
    then = patient_rows(runtime, target)
    files_then = files(runtime.settings.images_dir)
    path, secret = backup_of(runtime, tmp_path, source)
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, target)
        trash.purge(session, runtime.store, everything=True)
        patients.update_patient(session, ids[0], {"full_name": "Renamed today"})
        patients.create_patient(session, {"full_name": "Added today"})
    others_now = others(runtime, target)

    if secret is not None:
        with pytest.raises(PassphraseNeeded):
            open_it(runtime, path, None)
        with pytest.raises(WrongPassphrase):
            open_it(runtime, path, "not the passphrase at all")
    backup = open_it(runtime, path, secret)
    if source.endswith("set"):
        assert backup.summary()["name"] == bs.backup_label(path)
    assert patient_restore_plan.list_patients(backup)["total"] == 3
    preview = patient_restore_plan.preview_patient(runtime, backup, target)
    assert not preview["exists"] and preview["problems"] == []
    assert preview["comes_back"]["images"] == 3

    result = patient_restore.restore_patient(runtime, backup, target)

    assert result["files_copied"] == 3
    assert patient_rows(runtime, target) == then
    assert others(runtime, target) == others_now
    now = files(runtime.settings.images_dir)
    assert {k: v for k, v in now.items() if target in k} == {
        k: v for k, v in files_then.items() if target in k
    }
    assert leftovers(runtime) == []


def test_the_manifest_json_or_the_set_json_of_a_set_is_not_a_backup_to_restore_one_patient_from(
    runtime, tmp_path
):
    populate(runtime, patients_count=1)
    result = create_set_backup(runtime, tmp_path)
    by_manifest = open_it(runtime, result.path / "manifest.json", None)
    assert by_manifest.archive == result.path
    with pytest.raises(BackupInvalid) as refused:
        open_it(runtime, result.path.parent.parent, None)
    assert "whole backup set" in refused.value.message


@pytest.mark.parametrize("secret", [None, SECRET])
def test_a_changed_image_file_of_the_set_is_refused_and_nothing_is_changed(
    runtime, tmp_path, secret
):
    ids = populate(runtime)
    target = ids[2]
    result = create_set_backup(runtime, tmp_path, passphrase=secret)
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, target)
        trash.purge(session, runtime.store, everything=True)
    backup = open_it(runtime, result.path, secret)
    for stored in (result.path.parent.parent / "files").glob("*/*"):
        data = bytearray(stored.read_bytes())
        data[-20] ^= 0x01
        stored.write_bytes(bytes(data))
    before = others(runtime, target), patient_rows(runtime, target)

    with pytest.raises(BackupInvalid) as refused:
        patient_restore.restore_patient(runtime, backup, target)

    assert "damaged" in refused.value.message
    assert (others(runtime, target), patient_rows(runtime, target)) == before
    assert leftovers(runtime) == []


def test_a_set_database_that_does_not_decrypt_is_refused_when_opened(runtime, tmp_path):
    populate(runtime, patients_count=1)
    result = create_set_backup(runtime, tmp_path, passphrase=SECRET)
    database = result.path / "database.sqlite"
    data = bytearray(database.read_bytes())
    data[100] ^= 0x01
    database.write_bytes(bytes(data))

    with pytest.raises(BackupInvalid) as refused:
        open_it(runtime, result.path, SECRET)
    assert "does not decrypt" in refused.value.message


def test_an_opened_encrypted_backup_is_forgotten_sooner_than_a_plain_one(runtime, tmp_path):
    populate(runtime, patients_count=1)
    plain = open_it(runtime, create_set_backup(runtime, tmp_path).path, None)
    sealed = open_it(runtime, create_set_backup(runtime, tmp_path, passphrase=SECRET).path, SECRET)
    for opened in (plain, sealed):
        opened.opened_at -= patient_source.ENCRYPTED_STALE_AFTER_S + 60

    patient_source._forget_stale()

    assert patient_source.opened_backup(plain.token) is plain
    with pytest.raises(NotFound):
        patient_source.opened_backup(sealed.token)
    assert not sealed.folder.exists()  # its decrypted database with it
