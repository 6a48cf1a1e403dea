"""A DICOM image survives a backup and restore whole: its file byte for byte, its facts
(image_dicom), and the refusal of a second copy of the same instance afterwards."""

from __future__ import annotations

from sqlalchemy import select

from backend.backup.create import create_backup
from backend.backup.restore import restore_backup
from backend.models import ImageDicom
from backend.usecases import patients, trash
from backend.usecases.images import Upload, add_images
from tests.dicom_data import dicom_bytes


def test_a_backup_and_restore_keep_the_dicom_file_and_its_facts(runtime):
    data = dicom_bytes(PixelSpacing=[0.02, 0.021])
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Layla Haddad"})
        [stored] = add_images(session, runtime.store, patient.id, "8", "xray", [Upload("a", data)])
        image_id, path = stored.image.id, stored.image.relative_path
        uid = stored.image.dicom.sop_instance_uid
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, patient.id)
        trash.purge(session, runtime.store, everything=True)
        assert session.scalar(select(ImageDicom)) is None

    restore_backup(runtime, archive)

    assert (runtime.settings.data_dir / path).read_bytes() == data
    with runtime.sessions() as session:
        facts = session.get(ImageDicom, image_id)
        assert facts is not None and facts.sop_instance_uid == uid
        assert (facts.pixel_spacing_row_mm, facts.pixel_spacing_column_mm) == (0.02, 0.021)
        [again] = add_images(session, runtime.store, patient.id, "9", "xray", [Upload("b", data)])
        assert again.error is not None and again.error.code == "duplicate_image"


def test_one_patient_restored_from_a_backup_keeps_the_dicom_file_and_its_facts(runtime):
    from backend.backup import patient_restore, patient_restore_plan, patient_source
    from backend.jobs import Progress

    data = dicom_bytes(PixelSpacing=[0.02, 0.021])
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": "Layla Haddad"})
        [stored] = add_images(session, runtime.store, patient.id, "8", "xray", [Upload("a", data)])
        image_id, path = stored.image.id, stored.image.relative_path
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    with runtime.sessions() as session:
        patients.delete_patient(session, runtime.store, patient.id)
        trash.purge(session, runtime.store, everything=True)  # gone for good, not in the trash
    opened = patient_source.open_backup(runtime.settings, archive, Progress())

    patient_restore.restore_patient(runtime, opened, patient.id)

    assert (runtime.settings.data_dir / path).read_bytes() == data
    with runtime.sessions() as session:
        facts = session.get(ImageDicom, image_id)
        assert facts is not None and facts.pixel_spacing_row_mm == 0.02
    preview = patient_restore_plan.preview_patient(runtime, opened, patient.id)
    assert preview["problems"] == [] and preview["replaces"]["images_same"] == 1
