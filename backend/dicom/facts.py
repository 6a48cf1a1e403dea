"""What a DICOM file says about itself, read from its parsed data set: instance UIDs, modality,
dates, pixel spacing and the patient. Values a unit wrote badly (a date that is no date, a
spacing that is no number) count as absent rather than refusing the x-ray."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydicom.dataset import Dataset

_DICOM_DATE = re.compile(r"\s*(\d{4})\.?(\d{2})\.?(\d{2})")  # DA, and ACR-NEMA's YYYY.MM.DD
MAX_UID_CHARS = 64


@dataclass(frozen=True)
class DicomFacts:
    sop_instance_uid: str
    sop_class_uid: str | None
    study_instance_uid: str | None
    series_instance_uid: str | None
    transfer_syntax_uid: str
    modality: str | None
    study_date: date | None
    series_date: date | None
    pixel_spacing_mm: tuple[float, float] | None  # (between rows, between columns)
    pixel_spacing_source: str | None
    patient_name: str | None  # as written: Family^Given^Middle^Prefix^Suffix
    patient_id: str | None
    rows: int
    columns: int
    frames: int
    bits_stored: int | None
    photometric: str | None

    @property
    def taken_date(self) -> date | None:
        """The day the x-ray was taken as the file tells it: the study's, else the series'."""
        return self.study_date or self.series_date


def read_facts(ds: Dataset, frames: int) -> DicomFacts:
    """The facts of `ds` (already checked to hold an image of `frames` frames)."""
    meta = getattr(ds, "file_meta", Dataset())
    spacing, source = _pixel_spacing(ds)
    return DicomFacts(
        sop_instance_uid=_uid(ds.get("SOPInstanceUID") or meta.get("MediaStorageSOPInstanceUID")),
        sop_class_uid=_optional_uid(ds.get("SOPClassUID") or meta.get("MediaStorageSOPClassUID")),
        study_instance_uid=_optional_uid(ds.get("StudyInstanceUID")),
        series_instance_uid=_optional_uid(ds.get("SeriesInstanceUID")),
        transfer_syntax_uid=str(meta.TransferSyntaxUID),
        modality=_text(ds.get("Modality"), 16),
        study_date=dicom_date(ds.get("StudyDate")),
        series_date=dicom_date(ds.get("SeriesDate")),
        pixel_spacing_mm=spacing,
        pixel_spacing_source=source,
        patient_name=_text(ds.get("PatientName"), 324),
        patient_id=_text(ds.get("PatientID"), 64),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=frames,
        bits_stored=_int(ds.get("BitsStored")),
        photometric=_text(ds.get("PhotometricInterpretation"), 16),
    )


class MissingInstanceUid(ValueError):
    """The file has no usable SOP Instance UID, so it could not be told apart from others.
    `length` is that of the too long UID it has, None when it has none."""

    def __init__(self, length: int | None = None) -> None:
        super().__init__("no SOP Instance UID" if length is None else f"a UID of {length} chars")
        self.length = length


def _uid(value: Any) -> str:
    uid = _optional_uid(value)
    if uid is None:
        raise MissingInstanceUid()
    return uid


def _optional_uid(value: Any) -> str | None:
    text = str(value or "").strip().rstrip("\x00")
    if not text:
        return None
    if len(text) > MAX_UID_CHARS:
        raise MissingInstanceUid(len(text))
    return text


def dicom_date(value: Any) -> date | None:
    """A DA value as a date; None when absent or not a real day."""
    match = _DICOM_DATE.match(str(value or ""))
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _text(value: Any, max_chars: int) -> str | None:
    text = str(value or "").strip().rstrip("\x00").strip()
    return text[:max_chars] or None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _pixel_spacing(ds: Dataset) -> tuple[tuple[float, float] | None, str | None]:
    """PixelSpacing (in the patient), else ImagerPixelSpacing (at the detector); also inside
    the shared functional groups of an enhanced multi-frame file."""
    places = [ds]
    for group in ds.get("SharedFunctionalGroupsSequence") or ():
        places.extend(group.get("PixelMeasuresSequence") or ())
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        for place in places:
            spacing = _two_positive_numbers(place.get(keyword))
            if spacing is not None:
                return spacing, keyword
    return None, None


def _two_positive_numbers(value: Any) -> tuple[float, float] | None:
    try:
        numbers = [float(item) for item in value]
    except (TypeError, ValueError):
        return None
    if len(numbers) != 2 or not all(math.isfinite(n) and 0 < n < 1000 for n in numbers):
        return None
    return numbers[0], numbers[1]
