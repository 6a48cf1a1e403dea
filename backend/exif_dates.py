"""The day a photo was taken, as its EXIF says: DateTimeOriginal (the shutter), else
DateTimeDigitized, else DateTime (IFD0, the last change, often the same on a phone). Read from
the image already decoded for the upload's checks: nothing is decoded again.

The day kept is the one on the camera's clock, which is the clinic's day. The matching
OffsetTime* tag (EXIF 2.31, "+04:00") tells which moment that was: with it, and without it
taking the clock as this computer's zone, a date more than a day after now is a wrong clock
and is not believed (as the upload form refuses a day in the future)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone

from PIL import Image

log = logging.getLogger(__name__)

_EXIF_IFD = 0x8769
# (date tag, offset tag, IFD the date lives in): the order of preference.
_SOURCES = (
    (0x9003, 0x9011, _EXIF_IFD),  # DateTimeOriginal, OffsetTimeOriginal
    (0x9004, 0x9012, _EXIF_IFD),  # DateTimeDigitized, OffsetTimeDigitized
    (0x0132, 0x9010, None),  # DateTime (IFD0), OffsetTime (in the EXIF IFD)
)
# "YYYY:MM:DD HH:MM:SS"; some cameras write "-" or "/" in the date, or leave the time out.
_WHEN = re.compile(r"\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_OFFSET = re.compile(r"\s*([+-])(\d{2}):?(\d{2})\s*")
_EARLIEST = date(1900, 1, 1)
_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class ExifDate:
    """When the photo was taken: the camera's local time, and its UTC offset if written."""

    moment: datetime  # aware when the file gave its offset, else naive (the camera's clock)

    @property
    def day(self) -> date:
        return self.moment.date()


def taken(image: Image.Image, now: datetime | None = None) -> ExifDate | None:
    """The EXIF date of `image`, the first of the tags above that holds a real date that is not
    in the future (by more than a day); None when none does, or the EXIF cannot be read."""
    try:
        exif = image.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception as exc:  # damaged EXIF: the photo is fine, its date is not known
        log.info("EXIF not readable: %s", exc)
        return None
    for date_tag, offset_tag, ifd in _SOURCES:
        written = (sub if ifd == _EXIF_IFD else exif).get(date_tag)
        found = parse(written, sub.get(offset_tag))
        if found is not None and _plausible(found, now):
            return found
    return None


def parse(written: object, offset: object = None) -> ExifDate | None:
    """An EXIF date/time string (and its offset) as an ExifDate; None when it is not a date
    (blank, "0000:00:00 00:00:00", out of range, not text)."""
    if isinstance(written, bytes):
        written = written.decode("ascii", "replace")
    if not isinstance(written, str):
        return None
    match = _WHEN.match(written.strip("\x00"))
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(p) if p else 0 for p in match.groups())
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if moment.date() < _EARLIEST:
        return None
    zone = _zone(offset)
    return ExifDate(moment.replace(tzinfo=zone) if zone is not None else moment)


def _zone(offset: object) -> timezone | None:
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    match = _OFFSET.fullmatch(offset.strip("\x00")) if isinstance(offset, str) else None
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _plausible(found: ExifDate, now: datetime | None) -> bool:
    if found.moment.tzinfo is None:
        return found.moment <= (now or datetime.now()).replace(tzinfo=None) + _SLACK
    current = now if now is not None and now.tzinfo else datetime.now(UTC)
    return found.moment <= current + _SLACK
