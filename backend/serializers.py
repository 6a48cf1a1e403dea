"""Rows to JSON-ready dictionaries: the one shape each kind of record has in the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from backend import teeth
from backend.models import Image, Patient, Treatment
from backend.usecases.image_teeth import linked_codes
from backend.usecases.images import needs_rendition


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def patient_dict(patient: Patient, *, image_count: int | None = None) -> dict[str, Any]:
    data = {
        "id": patient.id,
        "serial_number": patient.serial_number,
        "full_name": patient.full_name,
        "gender": patient.gender,
        "age": patient.age,
        "phone": patient.phone,
        "email": patient.email,
        "address": patient.address,
        "allergies": patient.allergies,
        "medical_conditions": patient.medical_conditions,
        "patient_condition": patient.patient_condition,
        "notes": patient.notes,
        "date_added": _iso(patient.date_added),
        "created_at": _iso(patient.created_at),
        "updated_at": _iso(patient.updated_at),
    }
    if image_count is not None:
        data["image_count"] = image_count
    return data


def treatment_dict(treatment: Treatment) -> dict[str, Any]:
    return {
        "id": treatment.id,
        "patient_id": treatment.patient_id,
        "tooth": treatment.tooth,
        "tooth_name": teeth.tooth_name(treatment.tooth),
        "treatment_type": treatment.treatment_type,
        "category": treatment.category,
        "status": treatment.status,
        "color": treatment.color,
        "start_date": _iso(treatment.start_date),
        "completion_date": _iso(treatment.completion_date),
        "cost": str(treatment.cost) if treatment.cost is not None else None,
        "priority": treatment.priority,
        "notes": treatment.notes,
        "created_at": _iso(treatment.created_at),
        "updated_at": _iso(treatment.updated_at),
    }


def image_dict(image: Image) -> dict[str, Any]:
    return {
        "id": image.id,
        "patient_id": image.patient_id,
        "tooth": image.tooth,
        # The other teeth it shows (Universal codes, chart order): it is listed on those too.
        "linked_teeth": linked_codes(image),
        "image_type": image.image_type,
        "folder_path": image.folder_path,
        "file_name": image.file_name,
        "path": image.relative_path,
        "treatment_id": image.treatment_id,
        "description": image.description,
        "taken_date": _iso(image.taken_date),
        # "exif", "set", "dicom", or "upload" (no date known: `created_at` stands for it)
        "taken_source": image.taken_source,
        "created_at": _iso(image.created_at),
        "size_bytes": image.size_bytes,
        "sha256": image.sha256,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "original_name": image.original_name,
        # What the viewer shows: the file itself, or for DICOM its first frame as PNG and for
        # HEIC a JPEG made from it (backend.usecases.images.rendition).
        "url": _frame_url(image, 1) if needs_rendition(image) else f"/images/{image.id}/file",
        "file_url": f"/images/{image.id}/file",
        "thumbnail_url": f"/images/{image.id}/thumbnail",
        "dicom": _dicom_dict(image),
    }


def _frame_url(image: Image, number: int) -> str:
    return f"/images/{image.id}/frames/{number}"


def _dicom_dict(image: Image) -> dict[str, Any] | None:
    """What a DICOM image's file says; None for a photo. `frame_url` takes the frame number
    (from 1) in place of {n}."""
    facts = image.dicom
    if facts is None:
        return None
    spacing = None
    if facts.pixel_spacing_row_mm is not None and facts.pixel_spacing_column_mm is not None:
        spacing = [facts.pixel_spacing_row_mm, facts.pixel_spacing_column_mm]
    return {
        "modality": facts.modality,
        "frames": facts.frames,
        "frame_url": f"/images/{image.id}/frames/{{n}}",
        "sop_instance_uid": facts.sop_instance_uid,
        "study_instance_uid": facts.study_instance_uid,
        "series_instance_uid": facts.series_instance_uid,
        "transfer_syntax_uid": facts.transfer_syntax_uid,
        "study_date": _iso(facts.study_date),
        "series_date": _iso(facts.series_date),
        "pixel_spacing_mm": spacing,
        "pixel_spacing_source": facts.pixel_spacing_source,
        "patient_name": facts.patient_name,
        "patient_id": facts.patient_ref,
        "bits_stored": facts.bits_stored,
        "photometric": facts.photometric,
    }
