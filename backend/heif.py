"""HEIC/HEIF photos (iPhones, many Android phones): how they are recognised and where their bytes
end. pillow-heif (with its own libheif, inside its wheel) teaches Pillow to read them, as the
format "HEIF"; the file is kept byte for byte and the viewer is shown a JPEG made from it (see
backend.usecases.images.rendition)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

FORMAT = "HEIF"  # Pillow's name of the format, once pillow-heif has registered it
EXTENSION = "heic"  # what the stored file is called, whichever of the two the phone wrote
MIME_TYPES = {"heic": "image/heic", "heif": "image/heif"}
# An ISO base media file whose `ftyp` box names a HEIF brand of HEVC-coded images (heic, heix,
# their sequences hevc, hevx, their multi-layer heim, heis) or of any image (mif1, msf1).
MAGIC = rb"....ftyp(?:heic|heix|hevc|hevx|heim|heis|mif1|msf1)"

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    AVAILABLE = True
except ImportError as exc:  # a build without pillow-heif: HEIC files are refused, saying why
    log.warning("HEIC photos cannot be read here: %s", exc)
    AVAILABLE = False


def end_of_boxes(data: bytes) -> int:
    """Where the last top-level box of the ISO base media file `data` ends (bytes after it
    belong to no box: a trailer). A box is a 32-bit size and a type; size 1 means a 64-bit size
    follows, size 0 that the box runs to the end of the file."""
    pos = 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        if size == 1:
            if pos + 16 > len(data):
                return pos
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            return len(data)
        if size < 8 or pos + size > len(data):
            return pos  # not a box: the image ended before
        pos += size
    return pos
