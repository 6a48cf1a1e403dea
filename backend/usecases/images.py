"""Images of a tooth: add (several at once), list, change, move, delete."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import dicom, exif_dates, heif, imaging
from backend import validation as check
from backend.errors import (
    AppError,
    Conflict,
    FileOpenElsewhere,
    ImageMissing,
    NotFound,
    ValidationError,
)
from backend.fileio import FileInUse
from backend.i18n import gettext, ngettext
from backend.models import (
    TAKEN_DICOM,
    TAKEN_EXIF,
    TAKEN_SET,
    TAKEN_UPLOAD,
    Image,
    ImageDicom,
    Patient,
)
from backend.storage import GENERAL, ImageStore, image_folder
from backend.usecases import image_teeth, trash
from backend.usecases.patients import get_patient
from backend.usecases.retrieval import locate_image
from backend.usecases.treatments import get_treatment
from backend.vocabulary import IMAGE_TYPE_LABELS

log = logging.getLogger(__name__)

DEFAULT_LIMITS = imaging.ImageLimits()
THUMBNAIL_SIDE = 320
CONFIRM_PATIENT_FIELD = "confirm_patient"
# `link_old_tooth` (with a move to another tooth): the tooth left behind becomes one of the
# image's other teeth (see backend.usecases.image_teeth).
EDITABLE_FIELDS = {
    "description",
    "taken_date",
    "treatment_id",
    "tooth",
    "image_type",
    "link_old_tooth",
}
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


class DuplicateDicom(Conflict):
    """The DICOM instance (its SOP Instance UID) is already stored as another image."""

    code = "duplicate_image"

    def __init__(self, message: str, *, existing_image_id: str | None) -> None:
        super().__init__(message, field="file")
        self.existing_image_id = existing_image_id

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "existing_image_id": self.existing_image_id}


class PatientMismatch(Conflict):
    """The DICOM file names another patient than the one chosen: ask, then send the upload
    again with `confirm_patient` set to store it anyway."""

    code = "patient_mismatch"

    def __init__(self, message: str, *, file_name: str | None, file_id: str | None) -> None:
        super().__init__(message, field=CONFIRM_PATIENT_FIELD)
        self.file_name, self.file_id = file_name, file_id

    def to_dict(self) -> dict[str, object]:
        return {
            **super().to_dict(),
            "file_patient_name": self.file_name,
            "file_patient_id": self.file_id,
            "confirm_field": CONFIRM_PATIENT_FIELD,
        }


@dataclass(frozen=True)
class _Prepared:
    """An upload checked and thumbnailed, ready to be written."""

    info: imaging.ImageInfo
    thumbnail: bytes
    dicom: Any = None  # backend.dicom.facts.DicomFacts for a DICOM file
    exif_date: exif_dates.ExifDate | None = None  # a photo's own date, when its EXIF has one


def place(value: Any) -> str | None:
    """A tooth code, or None for "general" (the patient's images that belong to no tooth)."""
    if str(value or "").strip().lower() == GENERAL:
        return None
    return check.tooth(value)


def get_image(session: Session, image_id: str, *, trashed: bool = False) -> Image:
    """The image; NotFound for one in the trash (unless `trashed`: only there)."""
    image = session.get(Image, str(image_id)) if image_id else None
    if image is None or (image.deleted_at is not None) != trashed:
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
    confirm_patient: Any = False,
    limits: imaging.ImageLimits = DEFAULT_LIMITS,
) -> list[UploadResult]:
    """Store each upload under the patient's tooth (or "general": no tooth) and type. The
    shared fields are checked first (any error there stores nothing); then each file on its
    own: a bad file gets its error in the result and leaves no trace, the good ones are
    stored.

    The taken date: `taken_date` when given (for the whole batch, "set"); else a photo's EXIF
    date ("exif") or a DICOM file's study date ("dicom"); else none, and the upload's time
    stands for it ("upload"). `taken_source` records which.

    A DICOM file is kept byte for byte; what it says is recorded (ImageDicom), the same
    instance is never stored twice
    (DuplicateDicom), and a file naming another patient is refused with PatientMismatch
    unless `confirm_patient` is set (the user was asked)."""
    patient = get_patient(session, patient_id)
    tooth_code = place(tooth)
    kind = check.image_type(image_type)
    link = _linked_treatment_id(session, treatment_id, patient.id, tooth_code)
    note = check.text(description, "description", max_length=2000)
    taken = check.optional_past_date(taken_date, "taken_date")
    confirmed = check.flag(confirm_patient, CONFIRM_PATIENT_FIELD)
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
                patient=patient if not confirmed else None,
                fields={
                    "patient_id": patient.id,
                    "tooth": tooth_code,
                    "image_type": kind,
                    "treatment_id": link,
                    "description": note,
                    "taken_date": taken,
                    "taken_source": TAKEN_SET if taken is not None else TAKEN_UPLOAD,
                },
            )
            results.append(UploadResult(upload.name, image=image))
        except imaging.InvalidImage as exc:
            log.warning("upload refused: %s: %s", upload.name, exc)
            results.append(UploadResult(upload.name, error=ValidationError(str(exc), field="file")))
        except (DuplicateDicom, PatientMismatch) as exc:
            log.warning("upload refused: %s: %s", upload.name, exc.message)
            results.append(UploadResult(upload.name, error=exc))
    return results


def _store_one(
    session: Session,
    store: ImageStore,
    upload: Upload,
    limits: imaging.ImageLimits,
    *,
    folder: str,
    patient: Patient | None,
    fields: dict[str, Any],
) -> Image:
    """Check, write and record one upload. `patient`: the chosen patient, to compare with the
    one a DICOM file names; None once the user confirmed.

    The bytes go to disk (staged, hidden) while they are checked: for an x-ray the disk work
    costs more than the check, so the two overlap. A refused upload's staged file is removed
    before the refusal is reported."""
    staged = store.stage(upload.data)
    try:
        if dicom.looks_like_dicom(upload.data):
            prepared = _prepare_dicom(session, upload.data, limits, patient)
            found, source = _plausible_day(prepared.dicom.taken_date), TAKEN_DICOM
        else:
            prepared = _prepare_photo(upload.data, limits)
            exif = prepared.exif_date
            found, source = (exif.day if exif is not None else None), TAKEN_EXIF
        digest = hashlib.sha256(upload.data).hexdigest()
    except BaseException:
        staged.discard()
        raise
    if fields["taken_date"] is None and found is not None:
        fields = {**fields, "taken_date": found, "taken_source": source}
    info, thumbnail = prepared.info, prepared.thumbnail
    file_name = store.publish_staged(staged, folder, upload.name, info.extension)
    image = Image(
        folder_path=folder,
        file_name=file_name,
        size_bytes=len(upload.data),
        sha256=digest,
        width=info.width,
        height=info.height,
        format=info.format,
        original_name=(upload.name or "")[:255] or None,
        **fields,
    )
    if prepared.dicom is not None:
        image.dicom = _dicom_row(prepared.dicom)
    try:
        session.add(image)
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        store.remove(folder + file_name)
        if prepared.dicom is not None and _stored_instance(session, prepared.dicom) is not None:
            raise _duplicate(session, prepared.dicom) from exc  # stored meanwhile, by another PC
        raise
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


def _prepare_photo(data: bytes, limits: imaging.ImageLimits) -> _Prepared:
    # One decode, straight at thumbnail scale for a JPEG (see imaging.inspect_image); the EXIF
    # date is read from that same decoded image.
    with imaging.inspected(data, limits, reduce_to=THUMBNAIL_SIDE) as decoded:
        thumbnail = imaging.make_thumbnail(decoded.image, THUMBNAIL_SIDE)
        info = decoded.info
        taken = exif_dates.taken(decoded.image)
        del decoded  # the pixels go before the file is written: the budget holds for them
    return _Prepared(info, thumbnail, exif_date=taken)


def _prepare_dicom(
    session: Session, data: bytes, limits: imaging.ImageLimits, patient: Patient | None
) -> _Prepared:
    reading, rendering = dicom.modules()
    from backend.dicom.patients import readable_name, same_patient

    dicom_file = reading.read_dicom(data, limits)
    facts = dicom_file.facts
    if _stored_instance(session, facts) is not None:
        raise _duplicate(session, facts)
    if patient is not None and not same_patient(
        facts.patient_name, facts.patient_id, patient.full_name, patient.serial_number
    ):
        raise PatientMismatch(
            _mismatch_message(readable_name(facts.patient_name), facts.patient_id, patient),
            file_name=facts.patient_name,
            file_id=facts.patient_id,
        )
    thumbnail = rendering.thumbnail(dicom_file, THUMBNAIL_SIDE)
    info = imaging.ImageInfo(dicom.FORMAT, dicom.EXTENSION, dicom.MIME, facts.columns, facts.rows)
    return _Prepared(info, thumbnail, facts)


def _mismatch_message(written: str, file_id: str | None, patient: Patient) -> str:
    written = written or gettext("no name")
    if file_id:
        return gettext(
            "The x-ray file names another patient: {written} (ID {file_id}), not {name} (no. "
            "{serial}). Check that it belongs to this patient; to store it here anyway, confirm "
            "and upload it again.",
            written=written,
            file_id=file_id,
            name=patient.full_name,
            serial=patient.serial_number,
        )
    return gettext(
        "The x-ray file names another patient: {written}, not {name} (no. {serial}). Check "
        "that it belongs to this patient; to store it here anyway, confirm and upload it again.",
        written=written,
        name=patient.full_name,
        serial=patient.serial_number,
    )


def _stored_instance(session: Session, facts: Any) -> ImageDicom | None:
    return session.scalar(
        select(ImageDicom).where(ImageDicom.sop_instance_uid == facts.sop_instance_uid)
    )


def _duplicate(session: Session, facts: Any) -> DuplicateDicom:
    existing = _stored_instance(session, facts)
    if existing is not None and existing.image.deleted_at is not None:
        return DuplicateDicom(
            gettext(
                "This x-ray is in the trash (the DICOM instance {uid} is kept once): restore it "
                "from Settings → Trash, or empty the trash first. Nothing was stored.",
                uid=facts.sop_instance_uid,
            ),
            existing_image_id=None,
        )
    if existing is None:
        return DuplicateDicom(
            gettext(
                "This x-ray is already stored: the DICOM instance {uid} is kept once. Nothing "
                "was stored; open the existing image instead.",
                uid=facts.sop_instance_uid,
            ),
            existing_image_id=None,
        )
    image = existing.image
    return DuplicateDicom(
        gettext(
            "This x-ray is already stored as an image of {name} (no. {serial}), {place}, "
            "{type}, added {date}: the DICOM instance {uid} is kept once. Nothing was stored; "
            "open the existing image instead.",
            name=image.patient.full_name,
            serial=image.patient.serial_number,
            place=gettext("the whole mouth")
            if image.tooth is None
            else gettext("tooth {tooth}", tooth=image.tooth),
            type=gettext(IMAGE_TYPE_LABELS[image.image_type]),
            date=f"{image.created_at:%Y-%m-%d}",
            uid=facts.sop_instance_uid,
        ),
        existing_image_id=existing.image_id,
    )


def _plausible_day(day: Any) -> Any:
    """The file's date as the taken date, unless it is in the future (a unit's wrong clock)."""
    try:
        return check.optional_past_date(day, "taken_date")
    except ValidationError:
        return None


def _dicom_row(facts: Any) -> ImageDicom:
    spacing = facts.pixel_spacing_mm or (None, None)
    return ImageDicom(
        sop_instance_uid=facts.sop_instance_uid,
        sop_class_uid=facts.sop_class_uid,
        study_instance_uid=facts.study_instance_uid,
        series_instance_uid=facts.series_instance_uid,
        transfer_syntax_uid=facts.transfer_syntax_uid,
        modality=facts.modality,
        study_date=facts.study_date,
        series_date=facts.series_date,
        pixel_spacing_row_mm=spacing[0],
        pixel_spacing_column_mm=spacing[1],
        pixel_spacing_source=facts.pixel_spacing_source,
        patient_name=facts.patient_name,
        patient_ref=facts.patient_id,
        frames=facts.frames,
        bits_stored=facts.bits_stored,
        photometric=facts.photometric,
    )


def needs_rendition(image: Image) -> bool:
    """Whether the viewer is shown a rendition of the image (its frames) rather than its file:
    a DICOM file, or a photo a browser cannot show (HEIC)."""
    return image.dicom is not None or image.format == heif.FORMAT


def rendition(session: Session, store: ImageStore, image: Image, number: int) -> tuple[bytes, str]:
    """What the viewer shows of an image whose file a browser cannot show, and its MIME type:
    frame `number` (from 1) of a DICOM image as PNG (`frame_png`), or the one frame of a HEIC
    photo as a full-size JPEG. Made from the stored original at each request; the browser
    revalidates by the checksum."""
    if image.dicom is not None:
        return frame_png(session, store, image, number), "image/png"
    if image.format != heif.FORMAT:
        raise NotFound(
            gettext("This image's file is shown as it is; it has no frames."), field="frame"
        )
    if number != 1:
        raise NotFound(
            gettext("Frame {number} does not exist: this photo has 1 frame.", number=number),
            field="frame",
        )
    path = locate_image(session, store, image)
    try:
        return imaging.rendition_from_file(path, DEFAULT_LIMITS), "image/jpeg"
    except imaging.InvalidImage as exc:
        raise ImageMissing(
            gettext("The file of this image cannot be read: {reason}", reason=exc),
            expected_path=image.relative_path,
        ) from exc


def frame_png(session: Session, store: ImageStore, image: Image, number: int) -> bytes:
    """Frame `number` (from 1, as DICOM counts) of a DICOM image as PNG bytes for the viewer,
    made from the stored original at each request (the browser revalidates by the checksum;
    the file read last stays parsed for the next frame)."""
    if image.dicom is None:
        raise NotFound(
            gettext(
                "This image is not a DICOM file and has no frames; its file is shown as it is."
            ),
            field="frame",
        )
    if not 1 <= number <= image.dicom.frames:
        raise NotFound(
            ngettext(
                "Frame {number} does not exist: this image has {n} frame.",
                "Frame {number} does not exist: this image has {n} frames.",
                image.dicom.frames,
                number=number,
            ),
            field="frame",
        )
    reading, rendering = dicom.modules()
    path = locate_image(session, store, image)
    try:
        dicom_file = reading.read_stored_dicom(path, image.sha256)
        png: bytes = rendering.frame_png(dicom_file, number - 1)
        return png
    except (OSError, imaging.InvalidImage) as exc:
        raise ImageMissing(
            gettext("The file of this image cannot be read: {reason}", reason=exc),
            expected_path=image.relative_path,
        ) from exc


def list_tooth_images(
    session: Session, patient_id: str, tooth: Any, image_type: Any = None
) -> list[Image]:
    """A tooth's images, its own and those linked to it as one of their other teeth (or the
    patient-level ones, for "general"), oldest first by taken date (or upload time)."""
    patient = get_patient(session, patient_id)
    code = place(tooth)
    statement = select(Image).where(
        Image.patient_id == patient.id,
        Image.tooth.is_(None) if code is None else image_teeth.on_tooth(code),
        Image.deleted_at.is_(None),
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
    if image is None or image.deleted_at is not None:
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
    link_old = check.flag(changes.get("link_old_tooth", False), "link_old_tooth")
    if new_tooth != image.tooth:
        image_teeth.follow_move(image, new_tooth, link_old_tooth=link_old)
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
    if taken != image.taken_date:  # a person chose the day, or cleared it (the upload's shows)
        image.taken_source = TAKEN_SET if taken is not None else TAKEN_UPLOAD
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


def set_image_teeth(session: Session, image_id: str, values: Any) -> Image:
    """Make `values` (a list of Universal tooth codes) the other teeth the image shows: it is
    then listed and counted on each of them too (see backend.usecases.image_teeth). Its own
    tooth in the list is ignored; an empty list removes every link. The row is locked as for
    any change (`_locked_image`), so two PCs setting the links take turns."""
    try:
        image = _locked_image(session, image_id)
        image_teeth.replace_links(image, image_teeth.clean_teeth(values, image.tooth))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("image %s also shows teeth %s", image.id, image_teeth.linked_codes(image) or "-")
    return image


def delete_image(session: Session, store: ImageStore, image_id: str) -> None:
    """Move the image to the trash (backend.usecases.trash): hidden from every list and count,
    restorable until it is purged. The row is locked first (see `_locked_image`): a move by
    another PC either finished before (the file at its new place is the one trashed here) or
    waits and then finds the row in the trash (and moves nothing)."""
    try:
        image = _locked_image(session, image_id)
        trash.trash_image(session, store, image)
    except BaseException:
        session.rollback()
        raise
