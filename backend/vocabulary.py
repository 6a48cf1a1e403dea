"""The clinic's words for the kinds of image and the states of a treatment, as the program shows
them (the stored values stay the English codes of backend.models)."""

from __future__ import annotations

from backend.i18n import N_, gettext

IMAGE_TYPE_LABELS: dict[str, str] = {
    "before": N_("Before"),
    "after": N_("After"),
    "xray": N_("X-ray"),
    "clinical": N_("Clinical"),
    "other": N_("Other"),
}
STATUS_LABELS: dict[str, str] = {
    "planned": N_("Planned"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}

OPERATION_NAMES: dict[str, str] = {
    "backup": N_("backup"),
    "restore": N_("restore"),
    "restore-patient": N_("patient restore"),
    "verify": N_("verify"),
    "check": N_("check"),
    "migration": N_("migration"),
    "import": N_("import"),
}
"""Whole-store jobs by their kind, as a message names them ("A backup is running...")."""


def operation_name(kind: str) -> str:
    """The name of a job's kind in the current language (the kind itself when it has none)."""
    return gettext(OPERATION_NAMES[kind]) if kind in OPERATION_NAMES else kind


def labels() -> dict[str, dict[str, str]]:
    """Every image type's and treatment status's name in the current language, by its code."""
    return {
        "image_types": {code: gettext(text) for code, text in IMAGE_TYPE_LABELS.items()},
        "statuses": {code: gettext(text) for code, text in STATUS_LABELS.items()},
    }
