"""Treatments of a tooth: add, change, remove."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import validation as check
from backend.errors import NotFound, ValidationError
from backend.i18n import gettext
from backend.models import Treatment
from backend.usecases.patients import get_patient

log = logging.getLogger(__name__)

TREATMENT_FIELDS = {
    "tooth",
    "treatment_type",
    "category",
    "status",
    "color",
    "start_date",
    "completion_date",
    "cost",
    "priority",
    "notes",
}


def get_treatment(session: Session, treatment_id: str) -> Treatment:
    treatment = session.get(Treatment, str(treatment_id)) if treatment_id else None
    if treatment is None:
        raise NotFound(
            gettext("No treatment with id '{treatment_id}'.", treatment_id=treatment_id),
            field="treatment_id",
        )
    return treatment


def _clean_fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    check.only_known_fields(data, TREATMENT_FIELDS)
    cleaned: dict[str, Any] = {}
    if creating or "tooth" in data:
        cleaned["tooth"] = check.tooth(data.get("tooth"))
    if creating or "treatment_type" in data:
        cleaned["treatment_type"] = check.required_text(
            data.get("treatment_type"), "treatment_type", max_length=120
        )
    if creating or "status" in data:
        cleaned["status"] = check.treatment_status(data.get("status"))
    if "category" in data:
        cleaned["category"] = check.text(data["category"], "category", max_length=120)
    if "color" in data:
        cleaned["color"] = check.color(data["color"])
    for field in ("start_date", "completion_date"):
        if field in data:
            cleaned[field] = check.optional_date(data[field], field)
    if "cost" in data:
        cleaned["cost"] = check.optional_money(data["cost"], "cost")
    if "priority" in data:
        cleaned["priority"] = (
            check.optional_int(data["priority"], "priority", minimum=1, maximum=99) or 1
        )
    if "notes" in data:
        cleaned["notes"] = check.text(data["notes"], "notes")
    return cleaned


def _check_dates(treatment: Treatment) -> None:
    if (
        treatment.start_date
        and treatment.completion_date
        and treatment.completion_date < treatment.start_date
    ):
        raise ValidationError(
            gettext("Completion date is before the start date."), field="completion_date"
        )


def create_treatment(session: Session, patient_id: str, data: Mapping[str, Any]) -> Treatment:
    patient = get_patient(session, patient_id)
    treatment = Treatment(patient_id=patient.id, **_clean_fields(data, creating=True))
    _check_dates(treatment)
    session.add(treatment)
    session.commit()
    log.info("treatment added: %s tooth %s for %s", treatment.id, treatment.tooth, patient.id)
    return treatment


def update_treatment(session: Session, treatment_id: str, data: Mapping[str, Any]) -> Treatment:
    treatment = get_treatment(session, treatment_id)
    for key, value in _clean_fields(data, creating=False).items():
        setattr(treatment, key, value)
    try:
        _check_dates(treatment)
    except ValidationError:
        session.rollback()
        raise
    session.commit()
    return treatment


def delete_treatment(session: Session, treatment_id: str) -> None:
    """Remove a treatment; its images stay, unlinked."""
    session.delete(get_treatment(session, treatment_id))
    session.commit()


def list_treatments(session: Session, patient_id: str, tooth: str | None = None) -> list[Treatment]:
    statement = select(Treatment).where(Treatment.patient_id == patient_id)
    if tooth is not None:
        statement = statement.where(Treatment.tooth == tooth)
    return list(session.scalars(statement.order_by(Treatment.priority, Treatment.created_at)))
