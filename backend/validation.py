"""Turning untrusted input into checked values. Every failure is a ValidationError that names
the field and says what is accepted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from backend import teeth
from backend.errors import ValidationError
from backend.i18n import N_, gettext
from backend.models import IMAGE_TYPES, TREATMENT_STATUSES

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# date.fromisoformat also takes 20200101 and 2020-W01-1; the message promises YYYY-MM-DD only.
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MISSING = object()
# Longer paths fail in the OS (PATH_MAX on Linux, ENAMETOOLONG for a name) as a 500, not a message.
MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255


def tooth(value: Any, notation: str = "universal") -> str:
    try:
        return teeth.parse(value, notation)
    except ValueError as exc:
        raise ValidationError(str(exc), field="tooth") from exc


def image_type(value: Any) -> str:
    text = str(value or "").strip().lower()
    if text not in IMAGE_TYPES:
        raise ValidationError(
            gettext(
                "Image type '{value}' is not one of: {choices}.",
                value=value,
                choices=", ".join(IMAGE_TYPES),
            ),
            field="image_type",
        )
    return text


def text(value: Any, field: str, *, max_length: int = 10_000, required: bool = False) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(
                gettext("{field} is required.", field=field_label(field)), field=field
            )
        return None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValidationError(
            gettext("{field} must be text.", field=field_label(field)), field=field
        )
    cleaned = str(value).strip()
    if len(cleaned) > max_length:
        raise ValidationError(
            gettext(
                "{field} is {length} characters long; at most {limit} fit.",
                field=field_label(field),
                length=len(cleaned),
                limit=max_length,
            ),
            field=field,
        )
    return cleaned


def required_text(value: Any, field: str, *, max_length: int = 200) -> str:
    result = text(value, field, max_length=max_length, required=True)
    assert result is not None
    return result


def path_text(value: Any, field: str) -> Any:
    """`value` unchanged unless it is text that no file system accepts as a path: a NUL or
    another control character, more than MAX_PATH_CHARS characters, or a folder or file name
    longer than MAX_NAME_CHARS. Those are a ValidationError naming the limit; whether the path
    exists is for the caller to say."""
    if not isinstance(value, str):
        return value
    if any(ord(char) < 0x20 for char in value):
        raise ValidationError(
            gettext(
                "{field} contains a control character (such as NUL); no file has such a name.",
                field=field_label(field),
            ),
            field=field,
        )
    if len(value) > MAX_PATH_CHARS:
        raise ValidationError(
            gettext(
                "{field} is {length} characters long; a path has at most {limit}.",
                field=field_label(field),
                length=len(value),
                limit=MAX_PATH_CHARS,
            ),
            field=field,
        )
    longest = max(re.split(r"[\\/]", value), key=len)
    if len(longest) > MAX_NAME_CHARS:
        raise ValidationError(
            gettext(
                "{field} has a name of {length} characters; a folder or file name has at most "
                "{limit}.",
                field=field_label(field),
                length=len(longest),
                limit=MAX_NAME_CHARS,
            ),
            field=field,
        )
    return value


def optional_date(value: Any, field: str) -> date | None:
    """A day written exactly as YYYY-MM-DD (or a date object); None for nothing."""
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    written = str(value).strip()
    try:
        if not _ISO_DAY.fullmatch(written):
            raise ValueError(written)
        return date.fromisoformat(written)
    except ValueError as exc:
        raise ValidationError(
            gettext(
                "{field} '{value}' is not a date (use YYYY-MM-DD).",
                field=field_label(field),
                value=value,
            ),
            field=field,
        ) from exc


def optional_past_date(value: Any, field: str) -> date | None:
    """`optional_date` for a day something happened (a photo taken): not after tomorrow (one
    day of slack for the time zones of the PCs of a clinic)."""
    day = optional_date(value, field)
    if day is not None and day > date.today() + timedelta(days=1):
        raise ValidationError(
            gettext(
                "{field} {day} is in the future; give the day it happened.",
                field=field_label(field),
                day=day.isoformat(),
            ),
            field=field,
        )
    return day


def optional_int(value: Any, field: str, *, minimum: int, maximum: int) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError(_whole_number(field), field=field)
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ValidationError(_whole_number(field), field=field) from exc
    if not minimum <= number <= maximum:
        raise ValidationError(
            gettext(
                "{field} must be between {minimum} and {maximum}.",
                field=field_label(field),
                minimum=minimum,
                maximum=maximum,
            ),
            field=field,
        )
    return number


def dicom_port(value: Any, field: str = "port") -> int:
    """A DICOM node's TCP port, 1 to 65535, given as a number or its text."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ValidationError(
            gettext("The port must be a whole number from 1 to 65535 (104 or 11112 are usual)."),
            field=field,
        )
    return port


def optional_money(value: Any, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValidationError(
            gettext("{field} must be an amount such as 120.50.", field=field_label(field)),
            field=field,
        ) from exc
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise ValidationError(
            gettext("{field} must be an amount from 0 upwards.", field=field_label(field)),
            field=field,
        )
    return amount.quantize(Decimal("0.01"))


def choice(value: Any, field: str, options: tuple[str, ...], *, default: str | None = None) -> str:
    if value in (None, "") and default is not None:
        return default
    text_value = str(value or "").strip().lower()
    if text_value not in options:
        raise ValidationError(
            gettext(
                "{field} '{value}' is not one of: {choices}.",
                field=field_label(field),
                value=value,
                choices=", ".join(options),
            ),
            field=field,
        )
    return text_value


def color(value: Any, field: str = "color") -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _COLOR.match(value.strip()):
        raise ValidationError(
            gettext("Colour '{value}' is not a colour such as #3b82f6.", value=value), field=field
        )
    return value.strip().lower()


def email(value: Any) -> str | None:
    result = text(value, "email", max_length=200)
    if result is not None and not _EMAIL.match(result):
        raise ValidationError(
            gettext("E-mail '{value}' is not an e-mail address.", value=result), field="email"
        )
    return result


def treatment_status(value: Any) -> str:
    return choice(value, "status", TREATMENT_STATUSES, default="planned")


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def flag(value: Any, field: str) -> bool:
    """A yes/no field as forms and JSON send it: true/false, 1/0, yes/no, on/off; absent is no."""
    if value is None or isinstance(value, bool):
        return bool(value)
    written = str(value).strip().lower()
    if written in _TRUE or written in _FALSE:
        return written in _TRUE
    raise ValidationError(
        gettext("{field} must be yes or no (true or false).", field=field_label(field)), field=field
    )


def only_known_fields(data: Mapping[str, Any], allowed: AbstractSet[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(gettext("Unknown field '{name}'.", name=unknown[0]), field=unknown[0])


def _whole_number(field: str) -> str:
    return gettext("{field} must be a whole number.", field=field_label(field))


# What each checked field is called in a message, in the user's language.
FIELD_LABELS: dict[str, str] = {
    "age": N_("Age"),
    "category": N_("Category"),
    "clinic": N_("Clinic name"),
    "color": N_("Colour"),
    "completion_date": N_("Completion date"),
    "cost": N_("Cost"),
    "created_at": N_("Created"),
    "date_of_birth": N_("Date of birth"),
    "description": N_("Description"),
    "early_layout": N_("Early chart layout"),
    "email": N_("E-mail"),
    "folder": N_("Folder"),
    "from": N_("From"),
    "full_name": N_("Full name"),
    "gender": N_("Gender"),
    "height": N_("Height"),
    "images_root": N_("Images folder"),
    "keep": N_("Backups to keep"),
    "level": N_("Level"),
    "limit": N_("Limit"),
    "notes": N_("Notes"),
    "notation": N_("Tooth notation"),
    "path": N_("Path"),
    "patient_id": N_("Patient"),
    "phone": N_("Phone"),
    "priority": N_("Priority"),
    "q": N_("Search"),
    "schedule": N_("Schedule"),
    "serial_number": N_("Serial number"),
    "source": N_("Source"),
    "status": N_("Status"),
    "taken_date": N_("Taken date"),
    "time": N_("Time"),
    "to": N_("To"),
    "tooth": N_("Tooth"),
    "weekday": N_("Weekday"),
    "width": N_("Width"),
}


def field_label(field: str) -> str:
    """What `field` is called in a message, in the user's language."""
    label = FIELD_LABELS.get(field)
    return gettext(label) if label else field.replace("_", " ").capitalize()
