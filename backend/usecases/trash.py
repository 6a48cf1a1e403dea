"""The trash: a deleted patient or image is kept, hidden everywhere else, for a number of days
(the `trash_days` setting), can be restored until then, and is purged afterwards.

Rows: `deleted_at` on the patient or image says it is in the trash; an image deleted with its
patient has `deleted_with_patient` and comes back with them. A patient in the trash has no
live image (their images go with them).

Files: a trashed image's file lies in the trash's mirror of its folder,
`dental_images/.trash/<patient>/<tooth>/<type>/` (see backend.storage.trash_folder), and its row
names it there. A move in either direction is the one an image move makes (update_image): the
file is linked (or copied) to its new place first, the row is changed and committed, and only
then the old name is removed. A crash at any point leaves the row naming a file that exists; at
worst a second name of the same file stays behind (`check` reports it and its repair removes it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from backend import teeth
from backend.errors import Conflict, FileOpenElsewhere, NotFound
from backend.fileio import FileInUse
from backend.i18n import gettext
from backend.models import Image, Patient, utcnow
from backend.storage import ImageStore, live_folder, trash_folder
from backend.usecases.settings import get_settings, trash_days

log = logging.getLogger(__name__)

# A hook for the crash tests: called with the name of each step of a move, in order.
_step: Callable[[str], None] = lambda _name: None  # noqa: E731


@dataclass(frozen=True)
class _Move:
    image: Image
    old: str  # relative path the row named
    new: str | None  # the new name, made before the commit; None: there was no file to move


def _open_elsewhere() -> FileOpenElsewhere:
    return FileOpenElsewhere(
        gettext(
            "An image's file is open in another program, so it cannot be moved to or from the "
            "trash now. Close it there and try again. Nothing was changed."
        ),
        field="image_id",
    )


def _lock_patient(session: Session, patient_id: str) -> Patient | None:
    """The patient row read afresh and locked against other writers until the next commit or
    rollback (as backend.usecases.images._locked_image does for an image)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE patients SET id = id WHERE id = :id"), {"id": patient_id})
    return session.get(Patient, patient_id, with_for_update=True, populate_existing=True)


def _stage(
    store: ImageStore, images: Iterable[Image], to_folder: Callable[[str], str]
) -> list[_Move]:
    """Give each image's file its second name in `to_folder(its folder)` (a free name there),
    changing no row yet. Refuses (FileOpenElsewhere, nothing changed) when a file is held open
    by another program (Windows: it could not be removed afterwards)."""
    images = list(images)
    try:
        for image in images:
            store.ensure_removable(image.relative_path)
    except FileInUse as exc:
        raise _open_elsewhere() from exc
    moves: list[_Move] = []
    try:
        for image in images:
            old = image.relative_path
            source = store.path_of(old)
            folder = to_folder(image.folder_path)
            if not source.is_file():
                log.warning("%s has no file to move; its row moves alone", old)
                moves.append(_Move(image, old, None))
                continue
            moves.append(_Move(image, old, folder + store.copy_in(source, folder, image.file_name)))
            _step("linked")
    except BaseException:
        _undo(store, moves)
        raise
    return moves


def _point_rows(moves: list[_Move]) -> None:
    for move in moves:
        if move.new is not None:
            folder, _, name = move.new.rpartition("/")
            move.image.folder_path, move.image.file_name = folder + "/", name


def _undo(store: ImageStore, moves: list[_Move]) -> None:
    for move in moves:
        if move.new is not None:
            _remove_quietly(store, move.new)


def _finish(store: ImageStore, moves: list[_Move]) -> None:
    """After the commit: the old names go."""
    for move in moves:
        if move.new is not None:
            _remove_quietly(store, move.old)


def _remove_quietly(store: ImageStore, relative: str) -> None:
    try:
        store.remove(relative)
    except FileInUse:
        log.warning("%s is open in another program and was left in place", relative)


def _commit_moves(session: Session, store: ImageStore, moves: list[_Move]) -> None:
    _point_rows(moves)
    try:
        session.commit()
    except BaseException:
        session.rollback()
        _undo(store, moves)
        raise
    _step("committed")
    _finish(store, moves)


# ----- into the trash


def trash_image(session: Session, store: ImageStore, image: Image) -> None:
    """Move one locked, live image to the trash (see the module's docstring)."""
    moves = _stage(store, [image], trash_folder)
    image.deleted_at, image.deleted_with_patient = utcnow(), False
    _commit_moves(session, store, moves)
    log.info("image moved to the trash: %s -> %s", moves[0].old, image.relative_path)


def trash_patient(session: Session, store: ImageStore, patient_id: str) -> dict[str, int]:
    """Move a patient, with their live images and every other file of their folder, to the
    trash. Returns what went there: image rows, files, treatments (kept with the patient)."""
    try:
        patient = _lock_patient(session, str(patient_id or ""))
        if patient is None or patient.deleted_at is not None:
            raise NotFound(
                gettext("No patient with id '{patient_id}'.", patient_id=patient_id),
                field="patient_id",
            )
        live = list(
            session.scalars(
                select(Image).where(Image.patient_id == patient.id, Image.deleted_at.is_(None))
            )
        )
        moves = _stage(store, live, trash_folder)
    except BaseException:
        session.rollback()
        raise
    now = utcnow()
    patient.deleted_at = now
    for image in live:
        image.deleted_at, image.deleted_with_patient = now, True
    treatments = len(patient.treatments)
    _commit_moves(session, store, moves)
    files = sum(1 for m in moves if m.new is not None) + _trash_leftovers(store, patient.id)
    log.info(
        "patient moved to the trash: %s with %d image rows, %d files, %d treatments",
        patient.id,
        len(live),
        files,
        treatments,
    )
    return {"images": len(live), "files": files, "treatments": treatments}


def _trash_leftovers(store: ImageStore, patient_id: str) -> int:
    """Files of the patient's live folder no row names (the earlier app's, say): they go to
    the trash too, and are purged with the patient."""
    return _move_unnamed(store, store.patient_files(patient_id), trash_folder)


def _restore_leftovers(session: Session, store: ImageStore, patient_id: str) -> int:
    """The files that went to the trash with the patient and that no row names come back."""
    named = {
        folder + name
        for folder, name in session.execute(
            select(Image.folder_path, Image.file_name).where(Image.patient_id == patient_id)
        )
    }
    unnamed = [f for f in store.patient_files(patient_id, trash=True) if f not in named]
    return _move_unnamed(store, unnamed, live_folder)


def _move_unnamed(store: ImageStore, files: list[str], to_folder: Callable[[str], str]) -> int:
    moved = 0
    for relative in files:
        folder, _, name = relative.rpartition("/")
        try:
            store.copy_in(store.path_of(relative), to_folder(folder + "/"), name)
        except OSError as exc:
            log.warning("%s could not be moved (%s); left in place", relative, exc)
            continue
        _remove_quietly(store, relative)
        moved += 1
    return moved


# ----- out of the trash


def restore_patient(session: Session, store: ImageStore, patient_id: str) -> dict[str, Any]:
    """Bring a patient back from the trash with the images that went there with them (images
    deleted on their own before stay in the trash)."""
    try:
        patient = _lock_patient(session, str(patient_id or ""))
        if patient is None or patient.deleted_at is None:
            raise NotFound(
                gettext(
                    "No patient with id '{patient_id}' is in the trash.", patient_id=patient_id
                ),
                field="patient_id",
            )
        images = list(
            session.scalars(
                select(Image).where(
                    Image.patient_id == patient.id,
                    Image.deleted_at.is_not(None),
                    Image.deleted_with_patient.is_(True),
                )
            )
        )
        moves = _stage(store, images, live_folder)
    except BaseException:
        session.rollback()
        raise
    patient.deleted_at = None
    for image in images:
        image.deleted_at, image.deleted_with_patient = None, False
    _commit_moves(session, store, moves)
    _restore_leftovers(session, store, patient.id)
    log.info("patient restored from the trash: %s with %d images", patient.id, len(images))
    return {"patient_id": patient.id, "images": len(images)}


def restore_image(session: Session, store: ImageStore, image_id: str) -> dict[str, Any]:
    """Bring an image back from the trash to its tooth and type (under a free name there). An
    image whose patient is in the trash brings the patient back first."""
    image = session.get(Image, str(image_id or ""))
    if image is None or image.deleted_at is None:
        raise NotFound(
            gettext("No image with id '{image_id}' is in the trash.", image_id=image_id),
            field="image_id",
        )
    restored_patient = False
    if image.patient.deleted_at is not None:
        restore_patient(session, store, image.patient_id)
        restored_patient = True
    try:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("UPDATE images SET id = id WHERE id = :id"), {"id": image.id})
        locked = session.get(Image, image.id, with_for_update=True, populate_existing=True)
        if locked is None or locked.deleted_at is None:
            session.rollback()
            if locked is not None and restored_patient:  # it came back with its patient
                return {"image_id": locked.id, "patient_restored": True}
            raise NotFound(
                gettext("No image with id '{image_id}' is in the trash.", image_id=image_id),
                field="image_id",
            )
        moves = _stage(store, [locked], live_folder)
    except BaseException:
        session.rollback()
        raise
    locked.deleted_at, locked.deleted_with_patient = None, False
    _commit_moves(session, store, moves)
    log.info("image restored from the trash: %s", locked.relative_path)
    return {"image_id": locked.id, "patient_restored": restored_patient}


# ----- what is there, and purging it


def list_trash(session: Session) -> dict[str, Any]:
    """The patients in the trash (with how many images went with them) and the images deleted
    on their own, newest deletion first, with the day each will be purged."""
    days = trash_days(session)
    notation = get_settings(session)["numbering"]
    patients = []
    for patient in session.scalars(
        select(Patient).where(Patient.deleted_at.is_not(None)).order_by(Patient.deleted_at.desc())
    ):
        assert patient.deleted_at is not None
        with_them = sum(1 for i in patient.images if i.deleted_with_patient)
        patients.append(
            {
                "id": patient.id,
                "full_name": patient.full_name,
                "serial_number": patient.serial_number,
                "images": with_them,
                "deleted_at": patient.deleted_at.isoformat(),
                "purge_after": (patient.deleted_at + timedelta(days=days)).isoformat(),
            }
        )
    images = []
    for image in session.scalars(
        select(Image)
        .where(Image.deleted_at.is_not(None), Image.deleted_with_patient.is_(False))
        .order_by(Image.deleted_at.desc())
    ):
        assert image.deleted_at is not None
        images.append(
            {
                "id": image.id,
                "patient_id": image.patient_id,
                "patient_name": image.patient.full_name,
                "patient_in_trash": image.patient.deleted_at is not None,
                "tooth": image.tooth,
                "tooth_label": None if image.tooth is None else teeth.label(image.tooth, notation),
                "image_type": image.image_type,
                "original_name": image.original_name,
                "file_name": image.file_name,
                "deleted_at": image.deleted_at.isoformat(),
                "purge_after": (image.deleted_at + timedelta(days=days)).isoformat(),
            }
        )
    return {"days": days, "patients": patients, "images": images}


def purge(
    session: Session,
    store: ImageStore,
    *,
    everything: bool = False,
    now: datetime | None = None,
    patient_ids: Collection[str] | None = None,
) -> dict[str, int]:
    """Remove for good what has been in the trash longer than the setting allows (with
    `everything`: all of it; with `patient_ids`: only those patients, and their images, of
    what is due). Files go first, then the rows: a crash in between leaves rows whose file is
    gone, which the next purge removes. An item whose file another program holds open
    (Windows) stays for the next purge."""
    cutoff = (now or utcnow()) - timedelta(days=trash_days(session))

    def due(column: Any) -> Any:
        return column.is_not(None) if everything else column < cutoff

    purged = {"patients": 0, "images": 0}
    due_patients = select(Patient.id).where(due(Patient.deleted_at))
    if patient_ids is not None:
        due_patients = due_patients.where(Patient.id.in_(list(patient_ids)))
    for patient_id in list(session.scalars(due_patients)):
        image_ids = list(session.scalars(select(Image.id).where(Image.patient_id == patient_id)))
        try:
            store.remove_trash_tree(patient_id)
        except OSError as exc:
            log.warning("trash of patient %s not purged yet: %s", patient_id, exc)
            continue
        gone = session.get(Patient, patient_id)
        if gone is not None:
            session.delete(gone)  # its treatments and image rows with it
        session.commit()
        for image_id in image_ids:
            store.remove_thumbnail(image_id)
        purged["patients"] += 1
        purged["images"] += len(image_ids)
    loose = select(Image).where(due(Image.deleted_at))
    if patient_ids is not None:
        loose = loose.where(Image.patient_id.in_(list(patient_ids)))
    for image in list(session.scalars(loose)):
        try:
            store.remove(image.relative_path)
        except FileInUse:
            log.warning("%s is open in another program; purged later", image.relative_path)
            continue
        session.delete(image)
        session.commit()
        store.remove_thumbnail(image.id)
        purged["images"] += 1
    if any(purged.values()):
        log.info(
            "trash purged%s: %d patients, %d images",
            " (emptied)" if everything else "",
            purged["patients"],
            purged["images"],
        )
    return purged


def ensure_empty_confirmed(confirm: Any) -> None:
    if confirm is not True:
        raise Conflict(
            gettext(
                "Emptying the trash removes its patients and images for good; confirm to do it."
            ),
            field="confirm",
        )
