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

import contextlib
import hashlib
import logging
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend import dicom, fileio, imaging, search_keys
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
    it is not a DICOM x-ray the program can keep (nothing is left written then). Sending the
    same instance again adds nothing. Returns once the file would survive a power cut: the
    unit may delete its copy when it is told the x-ray arrived.

    The file is the durable record: written and flushed on a worker thread while the data set
    is checked and the row committed (the flushes wait for the disk, the rest for the CPU and
    the database), and the answer waits for both. A file gets its name only once it is whole.
    A crash may still lose a row whose file has its name: the next start lists that file again
    (`recover_leftovers`). Or it may keep a row whose file had no name yet: the unit, never told
    that the x-ray arrived, sends it again, and the file is written then (`_known`)."""
    reading, _rendering = dicom.modules()
    item_id = new_id()
    final = inbox_dir(store) / f"{item_id}.dcm"
    writing = (
        _WRITER.submit(_write_file, final, data)
        if len(data) <= limits.max_dicom_bytes and dicom.looks_like_dicom(data)
        else None
    )
    try:
        try:
            dicom_file = reading.read_dicom(data, limits)
        except imaging.InvalidImage as exc:
            raise ReceiveRefused(str(exc)) from exc
        if writing is None:  # not reached: read_dicom refuses what was not written
            raise ReceiveRefused("not written")
        with sessions() as session:
            known = _known(session, store, dicom_file.facts.sop_instance_uid, data)
            if known is not None:
                _drop(writing, final)
                return known
            recorded = _add_row(
                session, item_id, final.name, data, dicom_file, sender_ae, sender_address
            )
            if isinstance(recorded, Received):
                _drop(writing, final)
                return recorded
        try:
            writing.result()  # the file is flushed and has its name
        except BaseException:
            _forget(sessions, item_id)
            raise
    except BaseException:
        _drop(writing, final)
        raise
    return Received("received", item_id)


def _add_row(
    session: Session,
    item_id: str,
    file_name: str,
    data: bytes,
    dicom_file: Any,
    sender_ae: str | None,
    sender_address: str | None,
) -> InboxItem | Received:
    """Commit the inbox row of a checked file (`dicom_file`, a backend.dicom.reading.DicomFile)
    with the patient it seems to belong to; what became of it instead when the same instance
    was received meanwhile (another association, another PC)."""
    from backend.dicom.facts import dicom_date

    facts = dicom_file.facts
    birth_date = dicom_date(dicom_file.dataset.get("PatientBirthDate"))
    suggested, how = suggest_patient(session, facts.patient_id, facts.patient_name, birth_date)
    item = InboxItem(
        id=item_id,
        file_name=file_name,
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
    session.add(item)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        known = session.scalar(
            select(InboxItem.id).where(InboxItem.sop_instance_uid == facts.sop_instance_uid)
        )
        if known is None:
            raise
        return Received("in_inbox", known)
    log.info(
        "DICOM received from %s (%s) into the Inbox: %s, %s, patient %r (ID %r)%s",
        sender_ae,
        sender_address,
        file_name,
        facts.modality,
        facts.patient_name,
        facts.patient_id,
        f", suggested patient {suggested.serial_number}" if suggested is not None else "",
    )
    return item


# Flushing waits for the disk: one thread per receive under way at once is plenty.
_WRITER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="inbox-write")


def _write_file(final: Path, data: bytes) -> None:
    """`data` as the new file `final`: written under a temporary name, flushed, published (a
    name never used), and the name flushed too."""
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = fileio.temp_name(final)
    try:
        fileio.write_flushed(temp, data)
        if not fileio.publish(temp, final, others_may_publish=True):
            raise FileExistsError(f"{final} exists")  # a fresh uuid: never in practice
    finally:
        fileio.discard(temp)
    fileio.fsync_dir(final.parent)


def _drop(writing: Future[None] | None, final: Path) -> None:
    """Take back the file of a receive that keeps nothing, once its write has ended."""
    if writing is None:
        return
    with contextlib.suppress(Exception):  # nothing was published, or it is removed below
        writing.result()
    try:
        fileio.unlink(final)
    except OSError as exc:  # an unlisted file: removed by clean_leftovers later
        log.warning("%s could not be removed: %s", final, exc)


def _forget(sessions: sessionmaker[Session], item_id: str) -> None:
    """Remove the row of a receive whose file could not be written (the unit is told so)."""
    with sessions() as session:
        item = session.get(InboxItem, item_id)
        if item is not None:
            session.delete(item)
            session.commit()


def _known(
    session: Session, store: ImageStore | None, sop_instance_uid: str, data: bytes
) -> Received | None:
    """What became of an instance received before: in the Inbox (its file written again if a
    crash took it before it got its name), or stored as an image; None when it is new."""
    waiting = session.scalar(
        select(InboxItem).where(InboxItem.sop_instance_uid == sop_instance_uid)
    )
    if waiting is not None:
        path = item_path(store, waiting) if store is not None else None
        if path is not None and not path.is_file():
            log.warning("Inbox file %s was missing; written again from the new send", path.name)
            _write_file(path, data)
            waiting.size_bytes, waiting.sha256 = len(data), hashlib.sha256(data).hexdigest()
            session.commit()
        log.info("DICOM instance %s received again: it is in the Inbox already", sop_instance_uid)
        return Received("in_inbox", waiting.id)
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
    reading, rendering = dicom.modules()
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


def recover_leftovers(
    sessions: sessionmaker[Session], store: ImageStore, older_than_s: float = LEFTOVER_AFTER_S
) -> tuple[int, int]:
    """Put right what interrupted receives left in the Inbox folder, once it is older than
    `older_than_s` (younger, it may be another PC's receive under way): temporary files are
    removed; a whole file that no row names (the row was lost to a crash) is listed again,
    unless it is no x-ray the program keeps or is stored already, when it is removed.
    Returns (files listed again, files removed)."""
    folder = inbox_dir(store)
    removed = fileio.remove_stale(folder, ".*.part", older_than_s)
    listed_again = 0
    if not folder.is_dir():
        return 0, removed
    with sessions() as session:
        listed = set(session.scalars(select(InboxItem.file_name)))
    cutoff = time.time() - older_than_s
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in listed or not path.is_file():
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                continue
            if _list_again(sessions, path):
                listed_again += 1
            else:
                fileio.unlink(path)
                removed += 1
        except OSError as exc:
            log.warning("Inbox leftover %s: %s", path.name, exc)
    if listed_again or removed:
        log.info(
            "Inbox: %d file(s) of interrupted receives listed again, %d leftover(s) removed",
            listed_again,
            removed,
        )
    return listed_again, removed


def _list_again(sessions: sessionmaker[Session], path: Path) -> bool:
    """Record a row for the unlisted Inbox file `path`; False when it is to be removed."""
    try:
        item_id = str(uuid.UUID(path.stem))
    except ValueError:
        return False
    if path.name != f"{item_id}.dcm":
        return False
    reading, _rendering = dicom.modules()
    data = path.read_bytes()
    try:
        dicom_file = reading.read_dicom(data)
    except imaging.InvalidImage:
        return False
    with sessions() as session:
        if _known(session, None, dicom_file.facts.sop_instance_uid, data) is not None:
            return False
        recorded = _add_row(session, item_id, path.name, data, dicom_file, None, None)
    return isinstance(recorded, InboxItem)
