"""DICOM Part 10 files (x-rays as x-ray units write them): recognising one without decoding it.

The reading, the checks and the renditions live in the submodules, which load pydicom and
numpy; they are imported where a DICOM file is handled, so that a start of the program that
sees none pays nothing for them:

- `reading`: parse and check an upload (limits, damage, transfer syntax), nothing decoded yet;
- `facts`: what the file says (UIDs, modality, dates, pixel spacing, patient);
- `rendering`: a frame as 8-bit pixels with the file's window/level, thumbnails and PNGs;
- `patients`: whether the patient written in a file is the patient chosen in the program.
- `export`: a photo made a DICOM Secondary Capture image, for sending out;
- `sending`: C-STORE and C-ECHO to another DICOM node (a PACS), every failure said.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from types import ModuleType

from backend import imaging
from backend.i18n import gettext

FORMAT = "DICOM"  # images.format of a DICOM image
EXTENSION = "dcm"  # its stored file's extension, whatever the name it came with
MIME = "application/dicom"
PREAMBLE_BYTES = 128
MAGIC = b"DICM"


def looks_like_dicom(data: bytes) -> bool:
    """True when `data` starts as a DICOM Part 10 file: a 128-byte preamble, then `DICM`.
    Says nothing of whether the rest can be read (see `reading.read_dicom`)."""
    return data[PREAMBLE_BYTES : PREAMBLE_BYTES + len(MAGIC)] == MAGIC


def no_dicom_support() -> str:
    """The refusal of a DICOM file by an installation whose DICOM libraries are missing."""
    return gettext(
        "This installation of the program cannot read DICOM files: its DICOM libraries "
        "(pydicom, numpy) are missing. Reinstall the program, or export the x-ray from the "
        "x-ray program as PNG or JPEG."
    )


def modules() -> tuple[ModuleType, ModuleType]:
    """`reading` and `rendering`, loaded with the first DICOM file (pydicom and numpy are
    large). Raises imaging.InvalidImage where the DICOM libraries are missing."""
    try:
        from backend.dicom import reading, rendering
    except ImportError as exc:
        raise imaging.InvalidImage(no_dicom_support()) from exc
    return reading, rendering


def networking_supported() -> bool:
    """Whether this build can read DICOM and talk to other DICOM nodes (pydicom, numpy and
    pynetdicom load)."""
    try:
        modules()
        import pynetdicom  # noqa: F401
    except (ImportError, imaging.InvalidImage):
        return False
    return True


def file_looks_like_dicom(path: str | os.PathLike[str]) -> bool:
    """`looks_like_dicom` of the file at `path`, reading only its first bytes; False if it
    cannot be read (the reader that follows says why)."""
    try:
        with open(path, "rb") as file:
            return looks_like_dicom(file.read(PREAMBLE_BYTES + len(MAGIC)))
    except OSError:
        return False


def thumbnail_from_file(
    path: str | os.PathLike[str],
    max_side: int = 320,
    limits: imaging.ImageLimits | None = None,
) -> bytes:
    """Check the stored DICOM file at `path` and return its thumbnail; imaging.InvalidImage if
    it cannot be read."""
    limits = limits or imaging.ImageLimits()
    try:
        size = Path(path).stat().st_size
        if size > limits.max_dicom_bytes:
            raise imaging.InvalidImage(imaging.too_big_message(size, limits.max_dicom_bytes))
        data = Path(path).read_bytes()
    except OSError as error:
        raise imaging.InvalidImage(imaging.MSG_UNREADABLE) from error
    reading, rendering = modules()
    thumbnail: bytes = rendering.thumbnail(reading.read_dicom(data, limits), max_side)
    return thumbnail


def normal_address(text: str) -> str:
    """An IP address as the receiver compares them: IPv4-mapped IPv6 (::ffff:a.b.c.d) as
    plain IPv4, IPv6 compressed. Raises ValueError for text that is no address."""
    address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
