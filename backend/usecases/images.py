"""Images of a tooth: add (several at once), list, change, move, delete."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend import imaging
from backend import validation as check
from backend.errors import AppError, FileOpenElsewhere, ImageMissing, NotFound, ValidationError
from backend.fileio import FileInUse
from backend.i18n import gettext
from backend.models import Image
from backend.storage import GENERAL, ImageStore, image_folder
from backend.usecases.patients import get_patient
from backend.usecases.retrieval import locate_image
from backend.usecases.treatments import get_treatment

log = logging.getLogger(__name__)

DEFAULT_LIMITS = imaging.ImageLimits()
EDITABLE_FIELDS = {"description", "taken_date", "treatment_id", "tooth", "image_type"}
_ATTEMPTS = 3


@dataclass(frozen=True)
class Upload:
    """One file as received: the name the user's computer gave it and its bytes."""

    name: str
    data: bytes


@dataclass
class UploadResult:
    name: str
    image: Image | None = None
    error: AppError | None = None


def place(value: Any) -> str | None:
    """A tooth code, or None for "general" (the patient's images that belong to no tooth)."""
    if str(value or "").strip().lower() == GENERAL:
        return None
    return check.tooth(value)


def get_image(session: Session, image_id: str) -> Image:
    image = session.get(Image, str(image_id)) if image_id else None
    if image is None:
        raise NotFound(
            gettext("No image with id '{image_id}'.", image_id=image_id), field="image_id"
        )
    return image


def _linked_treatment_id(
    session: Session, treatment_id: Any, patient_id: str, tooth: str | None
) -> str | None:
    if treatment_id in (None, ""):
        return None
    treatment = get_treatment(session, str(treatment_id))
    if treatment.patient_id != patient_id or treatment.tooth != tooth:
        raise ValidationError(
            gettext("That treatment belongs to another tooth or patient."), field="treatment_id"
        )
    return treatment.id


def add_images(
    session: Session,
    store: ImageStore,
    patient_id: str,
    tooth: Any,
    image_type: Any,
    uploads: Sequence[Upload],
    *,
    treatment_id: Any = None,
    description: Any = None,
    taken_date: Any = None,
    limits: imaging.ImageLimits = DEFAULT_LIMITS,
) -> list[UploadResult]:
    """Store each upload under the patient's tooth (or "general": no tooth) and type. The
    shared fields are checked first (any error there stores nothing); then each file on its
    own: a bad file gets its error in the result and leaves no trace, the good ones are
    stored."""
    patient = get_patient(session, patient_id)
    tooth_code = place(tooth)
    kind = check.image_type(image_type)
    link = _linked_treatment_id(session, treatment_id, patient.id, tooth_code)
    note = check.text(description, "description", max_length=2000)
    taken = check.optional_past_date(taken_date, "taken_date")
    if not uploads:
        raise ValidationError(gettext("Choose at least one image file."), field="files")
    folder = image_folder(patient.id, tooth_code, kind)
    results = []
    for upload in uploads:
        try:
            image = _store_one(
                session,
                store,
                upload,
                limits,
                folder=folder,
                fields={
                    "patient_id": patient.id,
                    "tooth": tooth_code,
                    "image_type": kind,
                    "treatment_id": link,
                    "description": note,
                    "taken_date": taken,
                },
            )
            results.append(UploadResult(upload.name, image=image))
        except imaging.InvalidImage as exc:
            log.warning("upload refused: %s: %s", upload.name, exc)
            results.append(UploadResult(upload.name, error=ValidationError(str(exc), field="file")))
    return results


def _store_one(
    session: Session,
    store: ImageStore,
    upload: Upload,
    limits: imaging.ImageLimits,
    *,
    folder: str,
    fields: dict[str, Any],
) -> Image:
    with imaging.inspected(upload.data, limits) as decoded:
        thumbnail = imaging.make_thumbnail(decoded.image)
        info = decoded.info
        del decoded  # the pixels go before the file is written: the budget holds for them
    file_name = store.write_new(folder, upload.name, info.extension, upload.data)
    image = Image(
        folder_path=folder,
        file_name=file_name,
        size_bytes=len(upload.data),
        sha256=hashlib.sha256(upload.data).hexdigest(),
        width=info.width,
        height=info.height,
        format=info.format,
        original_name=(upload.name or "")[:255] or None,
        **fields,
    )
    try:
        session.add(image)
        session.commit()
    except BaseException:
        session.rollback()
        store.remove(folder + file_name)
        raise
    store.write_thumbnail(image.id, thumbnail)
    log.info(
        "image stored: %s%s (%d bytes, %dx%d %s) for patient %s",
        folder,
        file_name,
        image.size_bytes,
        info.width,
        info.height,
        info.format,
        image.patient_id,
    )
    return image


def list_tooth_images(
    session: Session, patient_id: str, tooth: Any, image_type: Any = None
) -> list[Image]:
    """A tooth's images (or the patient-level ones, for "general"), oldest first by taken
    date (or upload time)."""
    patient = get_patient(session, patient_id)
    code = place(tooth)
    statement = select(Image).where(
        Image.patient_id == patient.id,
        Image.tooth.is_(None) if code is None else Image.tooth == code,
    )
    if image_type not in (None, ""):
        statement = statement.where(Image.image_type == check.image_type(image_type))
    images = list(session.scalars(statement))
    images.sort(key=lambda i: (i.taken_date or i.created_at.date(), i.created_at))
    return images


def _locked_image(session: Session, image_id: str) -> Image:
    """The image row read afresh and locked against every other writer until the session's
    next commit or rollback, so that two PCs changing or deleting the same image take turns and
    the second one sees what the first one did (its new place, or that the row is gone).

    PostgreSQL: SELECT ... FOR UPDATE locks the row. SQLite ignores FOR UPDATE, and a plain read
    takes no lock, so a write that changes nothing comes first there: it takes the database's
    one write lock (other writers wait, see the busy timeout) before the row is read."""
    image_id = str(image_id or "")
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE images SET id = id WHERE id = :id"), {"id": image_id})
    image = session.get(Image, image_id, with_for_update=True, populate_existing=True)
    if image is None:
        raise NotFound(
            gettext("No image with id '{image_id}'.", image_id=image_id), field="image_id"
        )
    return image


def _file_present(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0  # an empty file is no image
    except OSError:
        return False


def update_image(
    session: Session, store: ImageStore, image_id: str, changes: Mapping[str, Any]
) -> Image:
    """Change description, taken date, treatment link, and/or move the image to another tooth
    or type (its file moves with it: new place written and verified before the old is removed).

    The row stays locked from the read to the commit (see `_locked_image`), so a move or delete
    by another PC waits and then works on the moved row. File order: the new file exists before
    the row names it, and the old one is removed only after the row no longer names it."""
    check.only_known_fields(changes, EDITABLE_FIELDS)
    expected = ""
    try:
        for _attempt in range(_ATTEMPTS):
            image = _locked_image(session, image_id)
            expected = image.relative_path
            if _needs_move(image, changes) and not _file_present(store.path_of(expected)):
                # Not at its place: the search puts it back (taking the row lock itself, with
                # commits of its own); then the row is locked and read again.
                session.rollback()
                locate_image(session, store, get_image(session, image_id))
                continue
            return _apply_update(session, store, image, changes)
    except BaseException:
        session.rollback()  # releases the row lock
        raise
    raise ImageMissing(
        gettext("The file of this image went missing while it was being moved; try again."),
        expected_path=expected,
    )


def _needs_move(image: Image, changes: Mapping[str, Any]) -> bool:
    """Whether `changes` move the image to another tooth or type (False for values that do not
    check: `_apply_update` refuses them)."""
    try:
        tooth = place(changes["tooth"]) if "tooth" in changes else image.tooth
        kind = (
            check.image_type(changes["image_type"]) if "image_type" in changes else image.image_type
        )
    except ValidationError:
        return False
    return (tooth, kind) != (image.tooth, image.image_type)


def _apply_update(
    session: Session, store: ImageStore, image: Image, changes: Mapping[str, Any]
) -> Image:
    """The update of the locked `image`: check the changes, copy the file if it moves, commit,
    then remove the old file."""
    new_tooth = place(changes["tooth"]) if "tooth" in changes else image.tooth
    new_type = (
        check.image_type(changes["image_type"]) if "image_type" in changes else image.image_type
    )
    if "treatment_id" in changes:
        link = _linked_treatment_id(session, changes["treatment_id"], image.patient_id, new_tooth)
    elif new_tooth != image.tooth:
        link = None  # a treatment belongs to one tooth: the link cannot follow a move
    else:
        link = image.treatment_id
    description = (
        check.text(changes["description"], "description", max_length=2000)
        if "description" in changes
        else image.description
    )
    taken = (
        check.optional_date(changes["taken_date"], "taken_date")
        if "taken_date" in changes
        else image.taken_date
    )
    if taken != image.taken_date:  # an imported row's odd date does not block other edits
        check.optional_past_date(taken, "taken_date")
    old_path = image.relative_path
    moving = (new_tooth, new_type) != (image.tooth, image.image_type)
    new_path = None
    if moving:
        source = store.path_of(old_path)  # present: checked under the lock
        new_folder = image_folder(image.patient_id, new_tooth, new_type)
        # Before anything is made: a copy of a file that cannot be removed afterwards would
        # stay behind (and on Windows a hard link of a held file cannot be removed either).
        _ensure_removable(store, old_path, gettext("moved"))
        try:
            new_path = new_folder + store.copy_in(source, new_folder, image.file_name)
        except FileInUse as exc:
            raise _open_elsewhere(gettext("moved")) from exc
        image.folder_path, image.file_name = new_folder, new_path[len(new_folder) :]
        image.tooth, image.image_type = new_tooth, new_type
    image.treatment_id, image.description, image.taken_date = link, description, taken
    try:
        session.commit()
    except BaseException:
        session.rollback()
        if new_path is not None:
            _remove_quietly(store, new_path)
        raise
    if new_path is not None:
        _remove_quietly(store, old_path)
        log.info("image moved: %s -> %s", old_path, image.relative_path)
    return image


def _open_elsewhere(done: str) -> FileOpenElsewhere:
    return FileOpenElsewhere(
        gettext(
            "The image's file is open in another program, so it cannot be {done} now. Close it "
            "there and try again. Nothing was changed.",
            done=done,
        ),
        field="image_id",
    )


def _ensure_removable(store: ImageStore, relative: str, done: str) -> None:
    """Refuse (409, nothing changed) when another program keeps the file open (Windows)."""
    try:
        store.ensure_removable(relative)
    except FileInUse as exc:
        raise _open_elsewhere(done) from exc


def _remove_quietly(store: ImageStore, relative: str) -> None:
    """Remove a file the committed rows no longer name. Opened by another program in the
    moment since the check (Windows), it stays as a file no row names, which is logged; the
    change itself is done."""
    try:
        store.remove(relative)
    except FileInUse:
        log.warning("%s is open in another program and was left in place", relative)


def delete_image(session: Session, store: ImageStore, image_id: str) -> None:
    """Delete the row, then its one file and its thumbnail. The row is locked first (see
    `_locked_image`): a move by another PC either finished before (the file at its new place
    is the one removed here) or waits and then finds no row (and copies nothing)."""
    try:
        image = _locked_image(session, image_id)
        path = image.relative_path
        _ensure_removable(store, path, gettext("deleted"))
        session.delete(image)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    try:
        removed = store.remove(path)
    except FileInUse:
        log.warning("%s is open in another program and was left in place", path)
        removed = False
    store.remove_thumbnail(image.id)
    log.info("image deleted: %s (file %s)", path, "removed" if removed else "was already missing")
