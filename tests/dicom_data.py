"""DICOM files for the tests, made here with pydicom (and, where installed, compressed with
dcmtk's command-line tools, as x-ray programs write them). Nothing is downloaded."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DIGITAL_INTRAORAL_XRAY = "1.2.840.10008.5.1.4.1.1.1.3"  # for presentation
DCMTK_TOOLS = ("img2dcm", "dcmcjpeg", "dcmcjpls", "dcmcrle", "dcmdjpeg")


def ramp(rows: int = 96, columns: int = 128, bits: int = 12, frames: int = 1) -> np.ndarray:
    """Values rising from left (0) to right (2**bits - 1), as unsigned 16-bit samples; each
    frame brighter than the one before by a little, so that frames can be told apart."""
    top = 2**bits - 1
    line = np.linspace(0, top, columns)
    frame = np.tile(line, (rows, 1))
    stack = [np.clip(frame + n * (top // 16), 0, top) for n in range(frames)]
    dtype = np.uint8 if bits <= 8 else np.uint16
    array = np.stack(stack).astype(dtype)
    return array[0] if frames == 1 else array


def dicom_dataset(
    pixels: np.ndarray | None = None,
    *,
    bits: int = 12,
    photometric: str = "MONOCHROME2",
    patient_name: str = "HADDAD^LAYLA",
    patient_id: str = "P-1",
    modality: str = "IO",
    study_date: str = "20240305",
    **attributes: object,
) -> Dataset:
    """An intraoral x-ray data set (Digital Intra-Oral X-Ray Image) of `pixels`."""
    pixels = ramp(bits=bits) if pixels is None else pixels
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = DIGITAL_INTRAORAL_XRAY
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = DIGITAL_INTRAORAL_XRAY
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.PatientName = patient_name
    ds.PatientID = patient_id
    ds.StudyDate = study_date
    frames = 1 if pixels.ndim == 2 else pixels.shape[0]
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    allocated = 8 if pixels.dtype == np.uint8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits, bits - 1
    ds.PixelRepresentation = 0
    ds.PixelData = pixels.tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def dicom_bytes(ds: Dataset | None = None, **kwargs: object) -> bytes:
    """The Part 10 file of `ds` (or of `dicom_dataset(**kwargs)`)."""
    ds = dicom_dataset(**kwargs) if ds is None else ds
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def dcmtk_missing() -> str | None:
    """Why the dcmtk tests cannot run here (a Debian package; Windows has none), or None."""
    absent = [tool for tool in DCMTK_TOOLS if shutil.which(tool) is None]
    return f"dcmtk is not installed ({', '.join(absent)} missing)" if absent else None


def dcmtk_convert(tool: str, source: bytes, folder: Path, *options: str) -> bytes:
    """`source` run through dcmtk's `tool` (dcmcjpeg, dcmcjpls, dcmcrle...), as bytes."""
    given, made = folder / f"in-{tool}.dcm", folder / f"out-{tool}.dcm"
    given.write_bytes(source)
    subprocess.run([tool, *options, str(given), str(made)], check=True, capture_output=True)
    return made.read_bytes()
