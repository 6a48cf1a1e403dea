"""The other teeth an image shows (backend.models.ImageTooth): a bitewing shows several teeth, a
panoramic all of them. The image keeps its one place (its tooth, or the whole mouth); each link
only makes it listed and counted on one more tooth. A link never names the image's own tooth:
setting one is ignored, and moving the image onto a linked tooth drops that link."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from backend import teeth
from backend import validation as check
from backend.errors import ValidationError
from backend.i18n import gettext, ngettext
from backend.models import Image, ImageTooth, utcnow

FIELD = "teeth"


def clean_teeth(values: Any, own_tooth: str | None) -> list[str]:
    """The tooth codes of `values` (a list of Universal codes), checked as every tooth is,
    each once, in chart order, without `own_tooth` (the image's own place)."""
    if not isinstance(values, list | tuple):
        raise ValidationError(gettext("Give the teeth as a list."), field=FIELD)
    codes = {check.tooth(value) for value in values}
    codes.discard(own_tooth)
    return sorted(codes, key=teeth.sort_key)


def linked_codes(image: Image) -> list[str]:
    """The image's other teeth, in chart order."""
    return sorted((link.tooth for link in image.linked_teeth), key=teeth.sort_key)


def replace_links(image: Image, codes: Iterable[str]) -> None:
    """Make `codes` (checked, see clean_teeth) the image's other teeth. The image's
    `updated_at` moves: the chart's revision, which other PCs poll, follows it."""
    wanted = list(codes)
    keep = [link for link in image.linked_teeth if link.tooth in wanted]
    have = {link.tooth for link in keep}
    image.linked_teeth = keep + [ImageTooth(tooth=code) for code in wanted if code not in have]
    image.updated_at = utcnow()


def follow_move(image: Image, new_tooth: str | None, *, link_old_tooth: bool) -> None:
    """The image moves from its tooth to `new_tooth`: a link to the new tooth goes (it is the
    image's own now); with `link_old_tooth`, the tooth it leaves becomes a link (the image
    still shows it)."""
    codes = [code for code in linked_codes(image) if code != new_tooth]
    if link_old_tooth and image.tooth is not None and image.tooth != new_tooth:
        codes.append(image.tooth)
    if set(codes) != set(linked_codes(image)):
        replace_links(image, sorted(set(codes), key=teeth.sort_key))


def on_tooth(code: str) -> ColumnElement[bool]:
    """The images whose place is tooth `code` or that are linked to it."""
    linked = select(ImageTooth.image_id).where(ImageTooth.tooth == code)
    return or_(Image.tooth == code, Image.id.in_(linked))


def link_counts(session: Session, patient_id: str) -> list[tuple[str, str, int, Any]]:
    """(tooth, image type, how many, latest change) of the patient's live images linked to a
    tooth, for the chart's counts."""
    rows = session.execute(
        select(ImageTooth.tooth, Image.image_type, func.count(), func.max(Image.updated_at))
        .join(Image, Image.id == ImageTooth.image_id)
        .where(Image.patient_id == patient_id, Image.deleted_at.is_(None))
        .group_by(ImageTooth.tooth, Image.image_type)
    )
    return [(tooth, kind, count, changed) for tooth, kind, count, changed in rows]


def link_problems(session: Session) -> list[str]:
    """What is wrong with the links, one sentence each: links to an image that does not exist,
    to a tooth that is not one, or to the image's own tooth (reported, never repaired: which
    teeth an image shows is for a person to say)."""
    rows = session.execute(
        select(ImageTooth.image_id, ImageTooth.tooth, Image.id, Image.tooth).outerjoin(
            Image, Image.id == ImageTooth.image_id
        )
    ).all()
    orphans = [(link_id, code) for link_id, code, found, _own in rows if found is None]
    invalid = [(link_id, code) for link_id, code, _f, _o in rows if code not in teeth.ALL_TEETH]
    own = [(link_id, code) for link_id, code, found, place in rows if found and code == place]
    problems = []
    if orphans:
        problems.append(
            ngettext(
                "{n} tooth link points at an image that does not exist.",
                "{n} tooth links point at images that do not exist.",
                len(orphans),
            )
        )
    if invalid:
        problems.append(
            ngettext(
                "{n} tooth link names no valid tooth (first: {first}).",
                "{n} tooth links name no valid tooth (first: {first}).",
                len(invalid),
                first=", ".join(repr(code) for _id, code in invalid[:3]),
            )
        )
    if own:
        problems.append(
            ngettext(
                "{n} tooth link repeats its image's own tooth.",
                "{n} tooth links repeat their image's own tooth.",
                len(own),
            )
        )
    return problems
