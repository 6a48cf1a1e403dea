"""`restore-patient` as a user runs it: a real process, the preview, the question, exit
codes as the README says."""

from __future__ import annotations

from backend import exit_codes as codes
from backend.config import load_settings
from backend.models import Patient
from backend.startup import open_runtime
from backend.usecases import patients, trash
from tests.backend.test_backup_cli import data_dir, db_url, dental, make_backup, records

__all__ = ["data_dir", "db_url"]


def delete_one(folder) -> tuple[str, str]:
    runtime = open_runtime(load_settings(folder))
    try:
        with runtime.sessions() as session:
            patient = session.query(Patient).order_by(Patient.serial_number).first()
            assert patient is not None
            found = (patient.id, patient.serial_number)
            patients.delete_patient(session, runtime.store, patient.id)
            trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
        return found
    finally:
        runtime.close()


def test_restore_patient_by_serial_number_with_yes(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    runtime = open_runtime(load_settings(data_dir))
    before = records(runtime)
    runtime.close()
    patient_id, serial = delete_one(data_dir)

    done = dental(data_dir, "restore-patient", str(archive), "--patient", serial, "--yes")

    assert done.returncode == codes.OK, done.stderr
    assert "tooth 14, before: 2" in done.stdout and "Restored" in done.stdout
    runtime = open_runtime(load_settings(data_dir))
    try:
        assert records(runtime) == before
    finally:
        runtime.close()
    again = dental(data_dir, "restore-patient", str(archive), "--patient", patient_id, "--yes")
    assert again.returncode == codes.OK and "is here" in again.stdout


def test_restore_patient_asks_and_an_unknown_patient_fails(data_dir, tmp_path):
    archive = make_backup(data_dir, tmp_path / "dest")
    _patient_id, serial = delete_one(data_dir)

    declined = dental(data_dir, "restore-patient", str(archive), "--patient", serial, stdin="no\n")
    assert declined.returncode == codes.CANCELLED and "not confirmed" in declined.stderr
    unknown = dental(data_dir, "restore-patient", str(archive), "--patient", "999", "--yes")
    assert unknown.returncode == codes.FAILED and "999" in unknown.stderr
    missing = dental(data_dir, "restore-patient", str(tmp_path / "none.zip"), "--patient", "1")
    assert missing.returncode == codes.FAILED
