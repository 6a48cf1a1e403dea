"""Finding images across all patients: by description, type, tooth and the day taken."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager
from sqlalchemy.sql import ColumnElement

from backend import search_keys
from backend import validation as check
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.models import Image
from backend.storage import GENERAL
from backend.usecases.image_teeth import on_tooth

MAX_LIMIT = 200


@dataclass(frozen=True)
class ImageSearch:
    """What to look for; every criterion given must hold. `tooth` is a Universal code (the
    tooth's images and those linked to it) or "general" (the patient-level images)."""

    query: str = ""
    image_type: str | None = None
    tooth: str | None = None
    taken_from: date | None = None
    taken_to: date | None = None
    patient_id: str | None = None


@dataclass(frozen=True)
class ImagePage:
    images: list[Image]  # each with its patient loaded
    total: int
    limit: int
    offset: int


def read_image_search(args: dict[str, Any]) -> ImageSearch:
    """An ImageSearch from request arguments (q, type, tooth, from, to, patient_id), checked."""
    tooth = str(args.get("tooth") or "").strip()
    wanted_type = args.get("type")
    search = ImageSearch(
        query=check.text(args.get("q"), "q", max_length=200) or "",
        image_type=check.image_type(wanted_type) if wanted_type not in (None, "") else None,
        tooth=(GENERAL if tooth.lower() == GENERAL else check.tooth(tooth)) if tooth else None,
        taken_from=check.optional_date(args.get("from"), "from"),
        taken_to=check.optional_date(args.get("to"), "to"),
        patient_id=check.text(args.get("patient_id"), "patient_id", max_length=36),
    )
    if search.taken_from and search.taken_to and search.taken_from > search.taken_to:
        raise ValidationError(
            gettext(
                "The range starts ({taken_from}) after it ends ({taken_to}); swap the two dates.",
                taken_from=search.taken_from,
                taken_to=search.taken_to,
            ),
            field="from",
        )
    return search


def search_images(
    session: Session, search: ImageSearch, *, limit: int = 50, offset: int = 0
) -> ImagePage:
    """The images matching `search`, newest first (by the day taken; images without one by
    their upload time, after those with one), a page at a time. The description is matched as
    patient names are (backend.search_keys): every word of the query must occur in it."""
    limit, offset = max(1, min(limit, MAX_LIMIT)), max(0, offset)
    conditions = _conditions(search)
    if conditions is None:
        return ImagePage([], 0, limit, offset)
    total = session.scalar(select(func.count()).select_from(Image).where(*conditions)) or 0
    statement = (
        select(Image)
        .join(Image.patient)
        .options(contains_eager(Image.patient))
        .where(*conditions)
        .order_by(
            Image.taken_date.is_(None),
            Image.taken_date.desc(),
            Image.created_at.desc(),
            Image.id,
        )
        .limit(limit)
        .offset(offset)
    )
    return ImagePage(list(session.scalars(statement)), total, limit, offset)


def _conditions(search: ImageSearch) -> list[ColumnElement[bool]] | None:
    """The WHERE clauses; None when the query has words but nothing searchable in them."""
    conditions: list[ColumnElement[bool]] = [Image.deleted_at.is_(None)]  # not the trash
    if search.query.strip():
        words = [compact for word in search.query.split() if (compact := _word(word))]
        if not words:
            return None
        conditions += [
            Image.search_description.like(search_keys.like_contains(word), escape="\\")
            for word in words
        ]
    if search.image_type:
        conditions.append(Image.image_type == search.image_type)
    if search.tooth == GENERAL:
        conditions.append(Image.tooth.is_(None))
    elif search.tooth:
        conditions.append(on_tooth(search.tooth))
    if search.patient_id:
        conditions.append(Image.patient_id == search.patient_id)
    if search.taken_from or search.taken_to:
        conditions.append(_taken_between(search.taken_from, search.taken_to))
    return conditions


def _word(word: str) -> str:
    return search_keys.compact(search_keys.fold_text(word))


def _taken_between(first: date | None, last: date | None) -> ColumnElement[bool]:
    """Taken within [first, last]; an image without a day taken counts by its upload day (the
    day of its upload time as stored, in UTC)."""
    dated: list[ColumnElement[bool]] = [Image.taken_date.is_not(None)]
    undated: list[ColumnElement[bool]] = [Image.taken_date.is_(None)]
    if first:
        dated.append(Image.taken_date >= first)
        undated.append(Image.created_at >= datetime.combine(first, time.min))
    if last:
        dated.append(Image.taken_date <= last)
        undated.append(Image.created_at < datetime.combine(last + timedelta(days=1), time.min))
    return or_(and_(*dated), and_(*undated))
