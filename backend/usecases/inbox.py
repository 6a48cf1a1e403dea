"""The Inbox: x-rays the DICOM receiver took in, waiting for the receptionist.

A received file is checked as an upload is (backend.dicom.reading), written crash-safely
(temporary name, flushed, published under a new name) to `dental_images/inbox/<id>.dcm`, and
listed by an `inbox_items` row with what the file says and the patient it seems to belong to.
It lies in the shared store folder and its row in the clinic's database, so every PC shows it;
backups take both. It becomes an image only when assigned: the file then goes through the
normal add-images path (stored byte for byte, the same duplicate and patient rules) and its
inbox row and file are removed. Nothing is put in a patient's folders before that.

Matching, for the suggestion: the file's Patient ID is a patient's serial number; else its
name matches a patient's (backend.dicom.patients' word rule) and its birth date agrees with the
age recorded for that patient (within a year, at the day the patient was added: the program
keeps an age, not a birth date). Only a single match is suggested.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend import fileio, imaging, search_keys
from backend.config import IMAGES_DIRNAME
from backend.errors import ImageMissing, NotFound
from backend.i18n import gettext
from backend.models import Image, ImageDicom, InboxItem, Patient, new_id
from backend.storage import ImageStore
from backend.usecases import images

log = logging.getLogger(__name__)

INBOX_DIRNAME = "inbox"
BY_PATIENT_ID = "patient_id"
BY_NAME_AND_BIRTH_DATE = "name_birth_date"
# A temporary file or an unlisted one younger than this may be another PC's receive under way.
LEFTOVER_AFTER_S = 3600.0
_CANDIDATES = 200


class ReceiveRefused(ValueError):
    """The received data is no DICOM x-ray the program can keep (the message says why)."""


@dataclass(frozen=True)
class Received:
    """What became of one received file: "received" (a new inbox item), "in_inbox" (that
    instance waits there already) or "stored" (it is already one of the images)."""

    outcome: str
    item_id: str | None = None


def inbox_dir(store: ImageStore) -> Path:
    return store.images_dir / INBOX_DIRNAME


def is_inbox_file(store: ImageStore, path: Path) -> bool:
    """Whether `path` is a file of the Inbox folder (not a patient's image, not an orphan)."""
    return path.parent == inbox_dir(store)


def receive(
    sessions: sessionmaker[Session],
    store: ImageStore,
    data: bytes,
    *,
    sender_ae: str | None = None,
    sender_address: str | None = None,
    limits: imaging.ImageLimits = images.DEFAULT_LIMITS,
) -> Received:
    """Check `data` (a DICOM Part 10 file) and put it in the Inbox; raises ReceiveRefused when
    it is not a DICOM x-ray the program can keep (nothing written then). Sending the same
    instance again adds nothing."""
    reading, _rendering = imaging.dicom_modules()
    try:
        dicom_file = reading.read_dicom(data, limits)
    except imaging.InvalidImage as exc:
        raise ReceiveRefused(str(exc)) from exc
    facts = dicom_file.facts
    from backend.dicom.facts import dicom_date

    birth_date = dicom_date(dicom_file.dataset.get("PatientBirthDate"))
    with sessions() as session:
        known = _known(session, facts.sop_instance_uid)
        if known is not None:
            return known
        item_id = new_id()
        folder = inbox_dir(store)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{item_id}.dcm"
        temp = fileio.temp_name(final)
        try:
            fileio.write_flushed(temp, data)
            if not fileio.publish(temp, final, others_may_publish=True):
                raise FileExistsError(f"{final} exists")  # a fresh uuid: never in practice
        finally:
            fileio.discard(temp)
        fileio.fsync_dir(folder)
        suggested, how = suggest_patient(session, facts.patient_id, facts.patient_name, birth_date)
        session.add(
            InboxItem(
                id=item_id,
                file_name=final.name,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                sender_ae=(sender_ae or "")[:16] or None,
                sender_address=(sender_address or "")[:64] or None,
                sop_instance_uid=facts.sop_instance_uid,
                sop_class_uid=facts.sop_class_uid,
                study_instance_uid=facts.study_instance_uid,
                series_instance_uid=facts.series_instance_uid,
                modality=facts.modality,
                study_date=facts.taken_date,
                patient_name=facts.patient_name,
                patient_ref=facts.patient_id,
                patient_birth_date=birth_date,
                rows=facts.rows,
                columns=facts.columns,
                frames=facts.frames,
                suggested_patient_id=suggested.id if suggested is not None else None,
                match=how,
            )
        )
        try:
            session.commit()
        except BaseException as exc:
            session.rollback()
            fileio.unlink(final)
            if isinstance(exc, IntegrityError):
                known = _known(session, facts.sop_instance_uid)  # the same instance, meanwhile
                if known is not None:
                    return known
            raise
    log.info(
        "DICOM received from %s (%s) into the Inbox: %s, %s, patient %r (ID %r)%s",
        sender_ae,
        sender_address,
        final.name,
        facts.modality,
        facts.patient_name,
        facts.patient_id,
        f", suggested patient {suggested.serial_number}" if suggested is not None else "",
    )
    return Received("received", item_id)


def _known(session: Session, sop_instance_uid: str) -> Received | None:
    waiting = session.scalar(
        select(InboxItem.id).where(InboxItem.sop_instance_uid == sop_instance_uid)
    )
    if waiting is not None:
        log.info("DICOM instance %s received again: it is in the Inbox already", sop_instance_uid)
        return Received("in_inbox", waiting)
    if session.scalar(
        select(ImageDicom.image_id).where(ImageDicom.sop_instance_uid == sop_instance_uid)
    ):
        log.info("DICOM instance %s received again: it is stored already", sop_instance_uid)
        return Received("stored")
    return None


def suggest_patient(
    session: Session, patient_ref: str | None, patient_name: str | None, birth_date: date | None
) -> tuple[Patient | None, str | None]:
    """The one patient a received file seems to belong to, and how it was found (see the
    module's rules); (None, None) when none, or more than one, fits."""
    from backend.dicom.patients import name_words

    ref = (patient_ref or "").strip()
    if ref:
        found = list(
            session.scalars(
                select(Patient).where(func.lower(Patient.serial_number) == ref.lower()).limit(2)
            )
        )
        if len(found) == 1:
            return found[0], BY_PATIENT_ID
    words = name_words(patient_name)
    if not words or birth_date is None:
        return None, None
    key = search_keys.compact(search_keys.fold_text(max(words, key=len)))
    if not key:
        return None, None
    candidates = session.scalars(
        select(Patient).where(Patient.search_text.contains(key, autoescape=True)).limit(_CANDIDATES)
    )
    fitting = [
        patient
        for patient in candidates
        if _names_match(words, name_words(patient.full_name)) and _age_fits(patient, birth_date)
    ]
    if len(fitting) == 1:
        return fitting[0], BY_NAME_AND_BIRTH_DATE
    return None, None


def _names_match(file_words: frozenset[str], our_words: frozenset[str]) -> bool:
    return bool(our_words) and (file_words <= our_words or our_words <= file_words)


def _age_fits(patient: Patient, birth_date: date) -> bool:
    if patient.age is None:
        return False
    on = patient.date_added.date() if patient.date_added else date.today()
    years = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    return abs(patient.age - years) <= 1


# ----- the list


def inbox_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(InboxItem)) or 0)


def list_inbox(session: Session) -> list[InboxItem]:
    """Every waiting x-ray, the newest first."""
    return list(
        session.scalars(select(InboxItem).order_by(InboxItem.received_at.desc(), InboxItem.id))
    )


def already_stored(session: Session, item: InboxItem) -> Image | None:
    """The image that holds this instance already (stored since it was received), if any."""
    row = session.scalar(
        select(ImageDicom).where(ImageDicom.sop_instance_uid == item.sop_instance_uid)
    )
    return row.image if row is not None else None


def get_item(session: Session, item_id: str) -> InboxItem:
    item = session.get(InboxItem, str(item_id)) if item_id else None
    if item is None:
        raise NotFound(
            gettext("This x-ray is no longer in the Inbox (assigned or discarded on another PC)."),
            field="item_id",
        )
    return item


def item_path(store: ImageStore, item: InboxItem) -> Path:
    return inbox_dir(store) / item.file_name


def _relative(item: InboxItem) -> str:
    return f"{IMAGES_DIRNAME}/{INBOX_DIRNAME}/{item.file_name}"


def _item_bytes(store: ImageStore, item: InboxItem) -> bytes:
    try:
        return item_path(store, item).read_bytes()
    except OSError as exc:
        raise ImageMissing(
            gettext(
                "The file of this received x-ray is missing from the Inbox folder; discard it "
                "and send it again from the x-ray unit."
            ),
            expected_path=_relative(item),
        ) from exc


def thumbnail(store: ImageStore, item: InboxItem) -> Path:
    """The thumbnail of a waiting x-ray: made from its file once, then kept with this PC's
    thumbnails (derived data)."""
    path = store.thumbnail_path(item.id)
    if path.is_file():
        return path
    reading, rendering = imaging.dicom_modules()
    try:
        picture = rendering.thumbnail(
            reading.read_dicom(_item_bytes(store, item)), images.THUMBNAIL_SIDE
        )
    except imaging.InvalidImage as exc:
        raise ImageMissing(str(exc), expected_path=_relative(item)) from exc
    return store.write_thumbnail(item.id, picture)


# ----- assigning, discarding


def assign(
    session: Session,
    store: ImageStore,
    item_id: str,
    *,
    patient_id: Any,
    tooth: Any,
    image_type: Any,
    description: Any = None,
    confirm_patient: Any = False,
) -> Image:
    """Store the waiting x-ray as an image of the patient's tooth (or "general") and type,
    through the add-images path, then take it out of the Inbox. Its errors are that path's:
    another patient's file (PatientMismatch: ask, then confirm), an instance stored already
    (DuplicateDicom), a bad tooth or type."""
    item = get_item(session, item_id)
    data = _item_bytes(store, item)
    name = f"{item.modality or 'xray'}_{item.study_date or item.received_at.date()}.dcm"
    result = images.add_images(
        session,
        store,
        str(patient_id or ""),
        tooth,
        image_type,
        [images.Upload(name=name, data=data)],
        description=description,
        confirm_patient=confirm_patient,
    )[0]
    if result.error is not None:
        raise result.error
    assert result.image is not None
    image_id = result.image.id
    _remove(session, store, item_id)
    log.info("Inbox x-ray %s assigned: image %s", item_id, image_id)
    return images.get_image(session, image_id)


def discard(session: Session, store: ImageStore, item_id: str) -> None:
    """Take a waiting x-ray out of the Inbox without storing it: its row, then its file."""
    get_item(session, item_id)
    _remove(session, store, item_id)
    log.info("Inbox x-ray %s discarded", item_id)


def _remove(session: Session, store: ImageStore, item_id: str) -> None:
    item = session.get(InboxItem, item_id, populate_existing=True)
    if item is None:
        return  # taken out on another PC meanwhile
    path = item_path(store, item)
    session.delete(item)
    session.commit()
    try:
        fileio.unlink(path)
    except fileio.FileInUse:
        log.warning("%s is open in another program and was left in place", path)
    store.remove_thumbnail(item_id)


def clean_leftovers(
    sessions: sessionmaker[Session], store: ImageStore, older_than_s: float = LEFTOVER_AFTER_S
) -> int:
    """Remove what interrupted receives left in the Inbox folder: temporary files, and files
    no inbox row names (a crash between the file and its row), once they are `older_than_s`
    old. Returns how many were removed."""
    folder = inbox_dir(store)
    removed = fileio.remove_stale(folder, ".*.part", older_than_s)
    if not folder.is_dir():
        return removed
    with sessions() as session:
        listed = set(session.scalars(select(InboxItem.file_name)))
    cutoff = time.time() - older_than_s
    for path in folder.iterdir():
        if path.name.startswith(".") or path.name in listed or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < cutoff:
                fileio.unlink(path)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("Inbox: %d leftovers of interrupted receives removed", removed)
    return removed
