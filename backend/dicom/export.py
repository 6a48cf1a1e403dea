"""DICOM files made for sending out: a photo (JPEG, PNG, HEIC...) as a Secondary Capture image.

The data set is uncompressed (Explicit VR Little Endian) so that every PACS and viewer takes it;
its pixels are the photo's as the page shows it (turned upright by its EXIF orientation), RGB,
or MONOCHROME2 for a grey photo (16 bits when the photo has 16). Text is UTF-8 (ISO_IR 192): the
names of the clinic's patients are often Arabic. Knows no database: the caller says who the
patient is and which study and series the image belongs to.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
from PIL import Image, ImageOps
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from backend import __version__

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
PHOTO_MODALITY = "XC"  # external-camera photography
OTHER_MODALITY = "OT"  # a picture of no camera: an x-ray saved as PNG or JPEG
UTF8 = "ISO_IR 192"
IMPLEMENTATION_VERSION = f"DENTALIMG_{__version__}"[:16]
_MAX_LO = 64  # characters of a DICOM LO value (descriptions, IDs)
_MAX_PN_GROUP = 64  # characters of one component group of a person name
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


@dataclass(frozen=True)
class PatientFacts:
    """The patient as a DICOM file names them."""

    name: str
    patient_id: str
    birth_date: date | None = None
    sex: str = ""  # "M", "F", "O" or unknown ("")


@dataclass(frozen=True)
class CaptureFacts:
    """Where a photo goes in DICOM's patient / study / series / instance tree, and what is said
    about it."""

    study_uid: str
    series_uid: str
    instance_number: int
    series_number: int
    taken: date
    modality: str
    series_description: str
    image_comments: str
    study_description: str = ""


def person_name(full_name: str) -> str:
    """A name as a DICOM person name: the whole name as written, in the family-name component
    (the program does not know which word is the family name); DICOM's separators (^ = \\) and
    control characters become spaces."""
    cleaned = "".join(" " if ch in "^=\\" or ord(ch) < 0x20 else ch for ch in full_name)
    return " ".join(cleaned.split())[:_MAX_PN_GROUP]


def _text(value: str, limit: int = _MAX_LO) -> str:
    cleaned = "".join(" " if ch == "\\" or ord(ch) < 0x20 else ch for ch in value)
    return " ".join(cleaned.split())[:limit]


def upright(image: Image.Image) -> Image.Image:
    """`image` turned as its EXIF orientation says (as browsers show it)."""
    turned = ImageOps.exif_transpose(image)
    return turned if turned is not None else image


def _pixels(image: Image.Image) -> tuple[np.ndarray, str]:
    """The pixels to store and their photometric interpretation."""
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"), dtype=np.uint8), "MONOCHROME2"
    if image.mode in _SIXTEEN_BIT:
        values = np.asarray(image.convert("I") if image.mode != "F" else image)
        return np.clip(values, 0, 65535).astype(np.uint16), "MONOCHROME2"
    if {"A", "a"} & set(image.getbands()) or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")  # transparent parts as the page shows them
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    return np.asarray(image.convert("RGB"), dtype=np.uint8), "RGB"


def secondary_capture(
    image: Image.Image, patient: PatientFacts, capture: CaptureFacts, *, now: datetime
) -> Dataset:
    """A Secondary Capture data set (with its file meta) of the decoded photo `image`, already
    upright; `now` is when it is made (Instance Creation, Content Time)."""
    pixels, photometric = _pixels(image)
    instance_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SECONDARY_CAPTURE)
    meta.MediaStorageSOPInstanceUID = instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = UTF8
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = instance_uid
    ds.InstanceCreationDate = now.strftime("%Y%m%d")
    ds.InstanceCreationTime = now.strftime("%H%M%S")
    # Patient
    ds.PatientName = person_name(patient.name)
    ds.PatientID = _text(patient.patient_id)
    ds.PatientBirthDate = patient.birth_date.strftime("%Y%m%d") if patient.birth_date else ""
    ds.PatientSex = patient.sex if patient.sex in ("M", "F", "O") else ""
    # General Study
    ds.StudyInstanceUID = capture.study_uid
    ds.StudyDate = capture.taken.strftime("%Y%m%d")
    ds.StudyTime = ""
    ds.ReferringPhysicianName = ""
    ds.StudyID = ""
    ds.AccessionNumber = ""
    if capture.study_description:
        ds.StudyDescription = _text(capture.study_description)
    # General Series
    ds.Modality = capture.modality
    ds.SeriesInstanceUID = capture.series_uid
    ds.SeriesNumber = capture.series_number
    ds.SeriesDate = ds.StudyDate
    ds.SeriesDescription = _text(capture.series_description)
    # SC Equipment, General Equipment
    ds.ConversionType = "DI"  # a digital interface: the camera's own file
    ds.Manufacturer = "Dental Images"
    ds.SoftwareVersions = __version__
    # General Image
    ds.InstanceNumber = capture.instance_number
    ds.PatientOrientation = ""
    ds.ContentDate = ds.StudyDate
    ds.ContentTime = ""
    ds.ImageComments = _text(capture.image_comments, 10240)
    ds.BurnedInAnnotation = "NO"
    # Image Pixel
    ds.Rows, ds.Columns = int(pixels.shape[0]), int(pixels.shape[1])
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 3 if photometric == "RGB" else 1
    if photometric == "RGB":
        ds.PlanarConfiguration = 0
    bits = 16 if pixels.dtype == np.uint16 else 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1
    ds.PixelRepresentation = 0
    data = np.ascontiguousarray(pixels).tobytes()
    ds.PixelData = data + b"\x00" if len(data) % 2 else data  # values have an even length
    return ds


def part10_bytes(ds: Dataset) -> bytes:
    """The Part 10 file of `ds`: preamble, file meta, data set."""
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
