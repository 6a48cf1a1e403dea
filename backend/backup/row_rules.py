"""Is a row read from an outside database one this program could have written? Each value is
held to its column in the models (type, length, NOT NULL) and, where the API has a rule for
the field, to that rule, through the same functions of backend.validation the API calls
(tooth, image type, status, colour, dates, amounts, numbers in range).

Two form rules of the API are not applied, because this program itself stores values that do
not meet them: the earlier app's importer keeps an empty patient name and an e-mail as written,
and notes longer than the form's 10,000 characters. A backup holding such imported records is
the clinic's own data and must restore."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, Date, DateTime, Integer, Numeric, String

from backend import validation as check
from backend.errors import ValidationError
from backend.i18n import N_, gettext
from backend.models import TAKEN_SOURCES
from backend.usecases.patients import GENDERS

MAX_TEXT_CHARS = 5_000_000
LARGEST_INTEGER = 2**63 - 1

Rule = Callable[[Any], object]

FIELD_RULES: dict[tuple[str, str], Rule] = {
    ("patients", "gender"): lambda v: check.choice(v, "gender", GENDERS) if v else None,
    ("patients", "age"): lambda v: check.optional_int(v, "age", minimum=0, maximum=150),
    ("treatments", "tooth"): check.tooth,
    ("treatments", "status"): check.treatment_status,
    ("treatments", "color"): check.color,
    ("treatments", "cost"): lambda v: check.optional_money(v, "cost"),
    ("treatments", "priority"): lambda v: check.optional_int(v, "priority", minimum=1, maximum=99),
    ("images", "tooth"): lambda v: None if v is None else check.tooth(v),
    ("images", "image_type"): check.image_type,
    ("images", "size_bytes"): lambda v: check.optional_int(
        v, "size_bytes", minimum=0, maximum=LARGEST_INTEGER
    ),
    ("images", "width"): lambda v: check.optional_int(v, "width", minimum=0, maximum=2**31),
    ("images", "height"): lambda v: check.optional_int(v, "height", minimum=0, maximum=2**31),
    ("images", "taken_source"): lambda v: check.choice(v, "taken_source", TAKEN_SOURCES),
    ("image_teeth", "tooth"): check.tooth,
}

RECORD_NAMES = {
    "patients": N_("patient"),
    "treatments": N_("treatment"),
    "images": N_("image"),
    "app_state": N_("setting"),
    "migration_journal": N_("import journal entry"),
    "legacy_links": N_("import link"),
    "inbox_items": N_("received x-ray"),
    "image_teeth": N_("image's other tooth"),
}


def row_problem(table: str, columns: list[Column[Any]], values: tuple[Any, ...]) -> str | None:
    """Why the row `values` (in the order of `columns`) of `table` is not one this program
    writes, naming the record and the field; None when it is."""
    for column, value in zip(columns, values, strict=True):
        try:
            _check_value(table, column, value)
        except ValidationError as exc:
            record = gettext(RECORD_NAMES[table]) if table in RECORD_NAMES else table
            key = values[0] if isinstance(values[0], str | int) else "?"
            return gettext(
                "The {record} {key} in the backup is not valid: {problem}",
                record=record,
                key=repr(str(key)[:60]),
                problem=exc.message,
            )
    return None


def _check_value(table: str, column: Column[Any], value: Any) -> None:
    field = column.name
    if value is None:
        if not column.nullable:
            raise ValidationError(
                gettext("{field} is empty; it is required.", field=check.field_label(field)),
                field=field,
            )
        return
    kind = column.type
    if isinstance(kind, Boolean):
        if value not in (0, 1) or isinstance(value, float):
            raise ValidationError(
                gettext("{field} must be 0 or 1.", field=check.field_label(field)), field=field
            )
    elif isinstance(kind, Integer | BigInteger):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationError(
                gettext("{field} must be a whole number.", field=check.field_label(field)),
                field=field,
            )
    elif isinstance(kind, DateTime):
        _moment(value, field)
    elif isinstance(kind, Date):
        check.optional_date(str(value)[:40], field)  # a number or blob is refused as written
    elif isinstance(kind, Numeric):
        if not isinstance(value, int | float | str) or isinstance(value, bool):
            raise ValidationError(
                gettext("{field} must be an amount.", field=check.field_label(field)), field=field
            )
        check.optional_money(value, field)
    elif isinstance(kind, String):
        if not isinstance(value, str):
            raise ValidationError(
                gettext(
                    "{field} must be text, not {kind}.",
                    field=check.field_label(field),
                    kind=type(value).__name__,
                ),
                field=field,
            )
        limit = kind.length or MAX_TEXT_CHARS
        if len(value) > limit:
            raise ValidationError(
                gettext(
                    "{field} is {length} characters long; at most {limit} fit.",
                    field=check.field_label(field),
                    length=len(value),
                    limit=limit,
                ),
                field=field,
            )
    if (table, field) in FIELD_RULES:
        _apply_rule(table, field, value)


@functools.lru_cache(maxsize=4096)
def _apply_rule(table: str, field: str, value: Any) -> None:
    """The API's rule for one value; remembered, as a database repeats its teeth and types.
    (A value the rule refuses raises, and is never remembered.)"""
    FIELD_RULES[(table, field)](value)


def _moment(value: Any, field: str) -> None:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            gettext(
                "{field} {value} is not a date and time.",
                field=check.field_label(field),
                value=repr(str(value)[:40]),
            ),
            field=field,
        ) from exc
