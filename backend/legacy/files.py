"""What a legacy image file is: checksum, size, and what Pillow makes of it. The earlier app's
files are accepted as Pillow reads them (they are the clinic's existing records, damaged or
not); a file Pillow cannot identify as one of our formats is not an image and is reported."""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from backend import exif_dates
from backend.i18n import gettext
from backend.imaging import ALLOWED_FORMATS, FORMAT_NAMES


class NotAnImage(ValueError):
    """The file cannot be read, or is not an image in a format the program keeps."""


@dataclass(frozen=True)
class FileFacts:
    size: int
    sha256: str
    format: str
    extension: str
    width: int
    height: int
    exif_date: date | None = None  # the day the photo was taken, as its EXIF says


def inspect_file(path: Path) -> FileFacts:
    """Read `path` once: its checksum, its image header and the EXIF date in it (the pixels
    are not decoded). Raises NotAnImage."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotAnImage(gettext("cannot be read ({value})", value=exc.strerror or exc)) from exc
    if not data:
        raise NotAnImage(gettext("the file is empty"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as picture:
                fmt, width, height = picture.format, picture.width, picture.height
                taken = exif_dates.taken(picture)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise NotAnImage(gettext("not an image the program can read")) from exc
    if fmt not in ALLOWED_FORMATS:
        raise NotAnImage(
            gettext(
                "a {fmt} file, not one of the image formats accepted ({formats})",
                fmt=fmt,
                formats=", ".join(FORMAT_NAMES),
            )
        )
    return FileFacts(
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        format=fmt,
        extension=ALLOWED_FORMATS[fmt],
        width=width,
        height=height,
        exif_date=taken.day if taken is not None else None,
    )
