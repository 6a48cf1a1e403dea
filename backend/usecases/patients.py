"""Patients: create, update, find, delete (with their files)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from backend import search_keys
from backend import validation as check
from backend.errors import Conflict, NotFound
from backend.i18n import gettext
from backend.models import Image, Patient
from backend.storage import ImageStore
from backend.usecases import trash

log = logging.getLogger(__name__)

# A patient's own fields, in the order the program shows them.
PATIENT_FIELD_ORDER = (
    "serial_number",
    "full_name",
    "gender",
    "age",
    "phone",
    "email",
    "address",
    "allergies",
    "medical_conditions",
    "patient_condition",
    "notes",
)
PATIENT_FIELDS = frozenset(PATIENT_FIELD_ORDER)
GENDERS = ("male", "female", "other")


def get_patient(session: Session, patient_id: str, *, trashed: bool = False) -> Patient:
    """The patient; NotFound for one in the trash (unless `trashed`: only there)."""
    patient = session.get(Patient, str(patient_id)) if patient_id else None
    if patient is None or (patient.deleted_at is not None) != trashed:
        raise NotFound(
            gettext("No patient with id '{patient_id}'.", patient_id=patient_id), field="patient_id"
        )
    return patient


def _clean_fields(data: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
    check.only_known_fields(data, PATIENT_FIELDS)
    cleaned: dict[str, Any] = {}
    if creating or "full_name" in data:
        cleaned["full_name"] = check.required_text(data.get("full_name"), "full_name")
    if "serial_number" in data:
        cleaned["serial_number"] = check.text(data["serial_number"], "serial_number", max_length=40)
    if "gender" in data:
        cleaned["gender"] = (
            check.choice(data["gender"], "gender", GENDERS) if data["gender"] else None
        )
    if "age" in data:
        cleaned["age"] = check.optional_int(data["age"], "age", minimum=0, maximum=150)
    if "phone" in data:
        cleaned["phone"] = check.text(data["phone"], "phone", max_length=40)
    if "email" in data:
        cleaned["email"] = check.email(data["email"])
    for field in ("address", "allergies", "medical_conditions", "patient_condition", "notes"):
        if field in data:
            cleaned[field] = check.text(data[field], field)
    return cleaned


def next_serial_number(session: Session) -> str:
    """One more than the highest all-digit serial number in use."""
    serials = session.scalars(select(Patient.serial_number)).all()
    numbers = [int(s) for s in serials if s and s.isdigit()]
    return str(max(numbers, default=0) + 1)


def create_patient(session: Session, data: Mapping[str, Any]) -> Patient:
    fields = _clean_fields(data, creating=True)
    if not fields.get("serial_number"):
        fields["serial_number"] = next_serial_number(session)
    patient = Patient(**fields)
    session.add(patient)
    _commit_unique_serial(session, fields["serial_number"])
    log.info("patient created: %s (serial %s)", patient.id, patient.serial_number)
    return patient


def update_patient(session: Session, patient_id: str, data: Mapping[str, Any]) -> Patient:
    patient = get_patient(session, patient_id)
    fields = _clean_fields(data, creating=False)
    if "serial_number" in fields and not fields["serial_number"]:
        del fields["serial_number"]
    for key, value in fields.items():
        setattr(patient, key, value)
    _commit_unique_serial(session, patient.serial_number)
    return patient


def _commit_unique_serial(session: Session, serial: str) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(
            gettext("Serial number '{serial}' belongs to another patient.", serial=serial),
            field="serial_number",
        ) from exc


def search_patients(
    session: Session, query: str = "", *, limit: int = 50, offset: int = 0
) -> list[Patient]:
    """Patients, by name, whose name, serial number or phone matches every term of `query` as
    backend.search_keys reads it (accents, Arabic letter forms and digit scripts ignored; phone
    numbers by their digits). A query with nothing searchable in it finds no one."""
    statement = (
        select(Patient)
        .where(Patient.deleted_at.is_(None))
        .order_by(Patient.full_name, Patient.serial_number)
    )
    if (query or "").strip():
        terms = search_keys.query_terms(query)
        if not terms:
            return []
        statement = statement.where(*[_patient_term(term) for term in terms])
    return list(session.scalars(statement.limit(max(1, min(limit, 500))).offset(max(0, offset))))


def _patient_term(term: search_keys.Term) -> ColumnElement[bool]:
    """One LIKE per row for most terms: each test of every row is what a search costs."""
    if term.phone is None:
        return Patient.search_text.like(search_keys.like_contains(term.text), escape="\\")
    return or_(*[Patient.search_phone.like(pattern) for pattern in term.phone.patterns])


def image_counts_by_patient(session: Session, patient_ids: list[str]) -> dict[str, int]:
    if not patient_ids:
        return {}
    rows = session.execute(
        select(Image.patient_id, func.count())
        .where(Image.patient_id.in_(patient_ids), Image.deleted_at.is_(None))
        .group_by(Image.patient_id)
    )
    return {patient_id: count for patient_id, count in rows}


def delete_patient(session: Session, store: ImageStore, patient_id: str) -> dict[str, int]:
    """Move the patient, their image rows and their whole image folder (files no row knew
    included) to the trash (backend.usecases.trash); treatments stay with the patient. Returns
    what went there."""
    return trash.trash_patient(session, store, patient_id)
