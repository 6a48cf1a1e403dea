"""DICOM Part 10 files (x-rays as x-ray units write them): recognising one without decoding it.

The reading, the checks and the renditions live in the submodules, which load pydicom and
numpy; they are imported where a DICOM file is handled, so that a start of the program that
sees none pays nothing for them:

- `reading`: parse and check an upload (limits, damage, transfer syntax), nothing decoded yet;
- `facts`: what the file says (UIDs, modality, dates, pixel spacing, patient);
- `rendering`: a frame as 8-bit pixels with the file's window/level, thumbnails and PNGs;
- `patients`: whether the patient written in a file is the patient chosen in the program.
"""

from __future__ import annotations

import ipaddress

FORMAT = "DICOM"  # images.format of a DICOM image
EXTENSION = "dcm"  # its stored file's extension, whatever the name it came with
MIME = "application/dicom"
PREAMBLE_BYTES = 128
MAGIC = b"DICM"


def looks_like_dicom(data: bytes) -> bool:
    """True when `data` starts as a DICOM Part 10 file: a 128-byte preamble, then `DICM`.
    Says nothing of whether the rest can be read (see `reading.read_dicom`)."""
    return data[PREAMBLE_BYTES : PREAMBLE_BYTES + len(MAGIC)] == MAGIC


def normal_address(text: str) -> str:
    """An IP address as the receiver compares them: IPv4-mapped IPv6 (::ffff:a.b.c.d) as
    plain IPv4, IPv6 compressed. Raises ValueError for text that is no address."""
    address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
