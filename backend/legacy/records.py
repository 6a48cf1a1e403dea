"""Legacy rows to our records' fields: patients, both treatment generations, image types.
Values the earlier app allowed but we do not (an unknown status, a long phone number) are
brought into range and the change is said in a note, never dropped silently."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from backend.models import IMAGE_TYPES, TREATMENT_STATUSES, utcnow

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_TYPE_ALIASES = {"x-ray": "xray", "x_ray": "xray", "x ray": "xray", "radiograph": "xray"}
_STATUS_ALIASES = {"in progress": "in_progress", "in-progress": "in_progress", "done": "completed"}


def text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    cleaned = str(value).strip()
    if not cleaned:
        return None
    return cleaned[:limit] if limit else cleaned


def as_datetime(value: Any) -> datetime | None:
    """A legacy timestamp as a naive UTC datetime (our columns' convention)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
    raw = text(value)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def time_of_day_note(value: Any) -> str | None:
    """The legacy `taken_date` as written, when it holds a time of day that our date column
    cannot keep (so the time is kept in the description)."""
    moment = as_datetime(value)
    if moment is None or (moment.hour, moment.minute, moment.second) == (0, 0, 0):
        return None
    return f"Taken in the earlier app: {text(value)}"


def as_date(value: Any) -> date | None:
    moment = as_datetime(value)
    return moment.date() if moment else None


def canonical_id(value: Any) -> str | None:
    """The id as a canonical lower-case UUID, or None when it is not one."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, TypeError, AttributeError):
        return None


def patient_fields(row: dict[str, Any]) -> dict[str, Any]:
    """Our Patient columns from a legacy `patients` row (id and serial number decided by the
    caller)."""
    gender = (text(row.get("gender")) or "").lower()
    age = row.get("age")
    now = utcnow()
    created = as_datetime(row.get("created_at")) or now
    return {
        # An empty name stays empty (the screen shows "(no name)"), not a made-up name.
        "full_name": text(row.get("full_name"), 200) or "",
        "gender": gender if gender in ("male", "female", "other") else None,
        "age": age if isinstance(age, int) and 0 <= age <= 150 else None,
        "phone": text(row.get("phone"), 40),
        "email": text(row.get("email"), 200),
        "address": text(row.get("address")),
        "allergies": text(row.get("allergies")),
        "medical_conditions": text(row.get("medical_conditions")),
        "patient_condition": text(row.get("patient_condition")),
        "notes": text(row.get("notes")),
        "date_added": as_datetime(row.get("date_added")) or created,
        "created_at": created,
        "updated_at": as_datetime(row.get("updated_at")) or now,
    }


def status(value: Any) -> str:
    raw = (text(value) or "planned").lower()
    raw = _STATUS_ALIASES.get(raw, raw)
    return raw if raw in TREATMENT_STATUSES else "planned"


def color(value: Any) -> str | None:
    raw = text(value)
    return raw.lower() if raw and _COLOR.match(raw) else None


def money(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        return None
    return amount.quantize(Decimal("0.01"))


def priority(value: Any) -> int:
    return value if isinstance(value, int) and 1 <= value <= 99 else 1


def treatment_fields(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """Our Treatment columns (tooth excluded) from a `tooth_treatments` (newer) or
    `dental_treatments` (older) row."""
    now = utcnow()
    notes = [text(row.get("notes"))]
    if table == "tooth_treatments":
        kind = text(row.get("treatment_type"), 120)
        category = text(row.get("treatment_category"), 120)
        start = as_date(row.get("start_date"))
        done = as_date(row.get("completion_date"))
    else:
        kind = text(row.get("current_treatment"), 120) or text(row.get("treatment_details"), 120)
        category = None
        start = as_date(row.get("created_at"))
        done = None
        # Three fields of the early form, each kept under its own label (never merged).
        for label, column in (
            ("Current treatment", "current_treatment"),
            ("Next treatment", "next_treatment"),
            ("Treatment details", "treatment_details"),
        ):
            if text(row.get(column)):
                notes.append(f"{label}: {text(row.get(column))}")
    if text(row.get("tooth_name")):
        notes.append(f"Tooth name in the earlier app: {text(row.get('tooth_name'))}")
    if text(row.get("appointment_id")):
        notes.append(f"Appointment in the earlier app: {text(row.get('appointment_id'))}")
    raw_status = text(row.get("treatment_status"))
    if raw_status and status(raw_status) != raw_status.lower():
        notes.append(f"Status in the earlier app: {raw_status}")
    if done and start and done < start:
        done = None
    return {
        "treatment_type": kind or "Treatment",
        "category": category,
        "status": status(raw_status),
        "color": color(row.get("treatment_color")),
        "start_date": start,
        "completion_date": done,
        "cost": money(row.get("cost")),
        "priority": priority(row.get("priority")),
        "notes": "\n".join(n for n in notes if n) or None,
        "created_at": as_datetime(row.get("created_at")) or now,
        "updated_at": as_datetime(row.get("updated_at")) or now,
    }


# patient_images.image_type of the earlier app: a photo of the patient is a clinical image.
_PATIENT_TYPE_ALIASES = {"photo": "clinical", "photograph": "clinical", "picture": "clinical"}


def patient_image_type(row_type: Any) -> tuple[str, str | None]:
    """Our image type of a `patient_images` row, and a note of the earlier app's own word
    when it was not one of ours (unknown words become `other`)."""
    raw = (text(row_type) or "").lower()
    mapped = _PATIENT_TYPE_ALIASES.get(raw)
    if mapped:
        return mapped, f"Type in the earlier app: {text(row_type)}"
    return image_type(row_type, None)


def image_type(row_type: Any, path_type: str | None) -> tuple[str, str | None]:
    """Our image type, and a note when the legacy type was free text we do not have."""
    for candidate in (row_type, path_type):
        raw = (text(candidate) or "").lower()
        raw = _TYPE_ALIASES.get(raw, raw)
        if raw in IMAGE_TYPES:
            return raw, None
    original = text(row_type) or text(path_type)
    return "other", (f"Type in the earlier app: {original}" if original else None)
