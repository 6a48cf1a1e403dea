"""DICOM out: a patient's chosen images saved to a folder as DICOM files, or sent to the clinic's
DICOM node (a PACS, a referral's viewer) with C-STORE.

- A stored DICOM image goes out as it is: its original file, byte for byte in a folder (the data
  set unchanged over the network). It says the patient, study and tooth as the x-ray unit wrote
  them; rewriting them would break what the unit made (and any signature in it), and the upload
  already checked that it is this patient's.
- A photo becomes a Secondary Capture image (backend.dicom.export) naming the patient (name,
  serial number as Patient ID), the tooth (Series Description, Image Comments) and the day it was
  taken (Study Date). Each export makes new studies: one per day the photos were taken, one series
  per day and tooth within it.

The node is the clinic's (`app_state.DICOM_NODE`, shared by every PC). An export runs as a job
with progress, one image after the other; every image is reported as written or sent, or not,
with the reason. Nothing is claimed sent that the node did not confirm.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from backend import app_state, dicom, fileio, imaging, teeth
from backend import validation as check
from backend.db import session_scope
from backend.errors import AppError, ValidationError
from backend.i18n import gettext, ngettext
from backend.jobs import Job, JobRunner, Progress
from backend.models import Image, Patient
from backend.storage import ImageStore
from backend.usecases.images import DEFAULT_LIMITS
from backend.usecases.patients import get_patient
from backend.usecases.retrieval import locate_image
from backend.vocabulary import IMAGE_TYPE_LABELS

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from backend.dicom.sending import Node

log = logging.getLogger(__name__)

JOB_KIND = "dicom-export"
MAX_IMAGES = 100
TO_FOLDER, TO_NODE = "folder", "node"
NODE_KEY = app_state.DICOM_NODE
DEFAULT_CALLING_AE = "DENTALIMAGES"
NODE_FIELDS = ("name", "ae_title", "host", "port", "calling_ae_title")
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without a backslash
_HOST = re.compile(r"^[A-Za-z0-9._:%-]{1,253}$")  # a host name, IPv4 or IPv6 address
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
_SEX = {"male": "M", "female": "F", "other": "O"}


# ----- the node


@dataclass(frozen=True)
class NodeSettings:
    """The clinic's DICOM node: whom exports are sent to, and as whom this program calls."""

    name: str
    ae_title: str
    host: str
    port: int
    calling_ae_title: str = DEFAULT_CALLING_AE

    def as_dict(self) -> dict[str, Any]:
        return {
            "configured": True,
            "name": self.name,
            "ae_title": self.ae_title,
            "host": self.host,
            "port": self.port,
            "calling_ae_title": self.calling_ae_title,
        }


NOT_CONFIGURED: dict[str, Any] = {
    "configured": False,
    "name": "",
    "ae_title": "",
    "host": "",
    "port": 104,
    "calling_ae_title": DEFAULT_CALLING_AE,
}


def _ae_title(value: Any, field: str) -> str:
    title = str(value or "").strip()
    if not _AE_TITLE.match(title):
        raise ValidationError(
            gettext(
                "An AE title is 1 to 16 characters: letters, digits, spaces and punctuation, "
                "without a backslash or control characters."
            ),
            field=field,
        )
    return title


def check_node(values: Mapping[str, Any]) -> NodeSettings:
    """The node `values` describe, as stored; a ValidationError names the first bad field."""
    ae_title = _ae_title(values.get("ae_title"), "ae_title")
    host = str(values.get("host") or "").strip().strip("[]")
    if not _HOST.match(host):
        raise ValidationError(
            gettext("Give the DICOM node's host name or IP address (such as 192.168.1.20)."),
            field="host",
        )
    port = check.dicom_port(values.get("port"))
    calling = _ae_title(values.get("calling_ae_title") or DEFAULT_CALLING_AE, "calling_ae_title")
    name = " ".join(str(values.get("name") or "").split())[:64] or ae_title
    return NodeSettings(name, ae_title, host, port, calling)


def get_node(session: Session) -> NodeSettings | None:
    """The clinic's DICOM node; None when none is set (or what is stored is unusable)."""
    stored = app_state.get_json(session, NODE_KEY)
    if stored is None:
        return None
    try:
        return check_node(stored)
    except ValidationError as exc:
        log.warning("the stored DICOM node is unusable (%s); none is used", exc.message)
        return None


def node_status(session: Session) -> dict[str, Any]:
    node = get_node(session)
    return node.as_dict() if node is not None else dict(NOT_CONFIGURED)


def save_node(session: Session, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check and store the clinic's node; every field empty removes it."""
    if not any(str(values.get(name) or "").strip() for name in ("ae_title", "host")):
        app_state.remove(session, NODE_KEY)
        session.commit()
        log.info("DICOM node removed")
        return dict(NOT_CONFIGURED)
    node = check_node(values)
    app_state.put_json(session, NODE_KEY, node.as_dict())
    session.commit()
    log.info(
        "DICOM node set: %s at %s:%d as %s",
        node.ae_title,
        node.host,
        node.port,
        node.calling_ae_title,
    )
    return node.as_dict()


def _network_node(node: NodeSettings) -> Node:
    from backend.dicom.sending import Node

    return Node(node.ae_title, node.host, node.port, node.calling_ae_title)


def test_node(session: Session, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A connection test (C-ECHO) of the node `values` describe, else of the stored one."""
    typed = values and any(str(values.get(name) or "").strip() for name in ("ae_title", "host"))
    node = check_node(values) if values and typed else get_node(session)
    if node is None:
        raise ValidationError(_no_node_message(), field="ae_title")
    _, sending = _modules()
    sending.echo(_network_node(node))
    return {
        "ok": True,
        "message": gettext("The DICOM node {name} answered.", name=node.name),
    }


def _no_node_message() -> str:
    return gettext("No DICOM node is set. Set one in Settings, DICOM node, first.")


def _modules() -> tuple[Any, Any]:
    """backend.dicom.export and backend.dicom.sending (pydicom, pynetdicom: loaded when used)."""
    if not dicom.networking_supported():
        raise NoDicomSupport(
            gettext(
                "This installation of the program has no DICOM support (its DICOM libraries are "
                "missing), so it cannot export DICOM. Reinstall the program."
            )
        )
    from backend.dicom import export, sending

    return export, sending


class NoDicomSupport(AppError):
    status = 501
    code = "no_dicom_support"


# ----- an export


@dataclass(frozen=True)
class ExportRequest:
    """A checked export: whose images, which, and where to."""

    patient_id: str
    image_ids: tuple[str, ...]
    to: str
    folder: Path | None = None
    node: NodeSettings | None = None


def check_request(
    session: Session,
    patient_id: str,
    body: Mapping[str, Any],
    program_folders: Sequence[Path] = (),
) -> ExportRequest:
    """The export `body` asks for, checked before anything starts: the patient, images of theirs
    (at most MAX_IMAGES, none in the trash), and a destination that can be used: a folder
    outside `program_folders` (the data folder, the image store: files written there would be
    taken for the program's own, or come back through the Inbox)."""
    patient = get_patient(session, patient_id)
    raw_ids = body.get("image_ids")
    if not isinstance(raw_ids, list) or not raw_ids:
        raise ValidationError(gettext("Choose the images to export."), field="image_ids")
    ids = tuple(dict.fromkeys(str(i) for i in raw_ids))
    if len(ids) > MAX_IMAGES:
        raise ValidationError(
            gettext(
                "At most {limit} images can be exported at once; {count} were chosen.",
                limit=MAX_IMAGES,
                count=len(ids),
            ),
            field="image_ids",
        )
    for image_id in ids:
        image = session.get(Image, image_id)
        if image is None or image.patient_id != patient.id or image.deleted_at is not None:
            raise ValidationError(
                gettext(
                    "Image '{image_id}' is not one of this patient's images.", image_id=image_id
                ),
                field="image_ids",
            )
    to = str(body.get("to") or "")
    if to == TO_FOLDER:
        folder = _checked_folder(body.get("folder"), program_folders)
        return ExportRequest(patient.id, ids, to, folder=folder)
    if to == TO_NODE:
        node = get_node(session)
        if node is None:
            raise ValidationError(_no_node_message(), field="to")
        return ExportRequest(patient.id, ids, to, node=node)
    raise ValidationError(
        gettext("Say where to export to: a folder or the DICOM node."), field="to"
    )


def _checked_folder(value: Any, program_folders: Sequence[Path]) -> Path:
    text = str(value or "").strip()
    if not text:
        raise ValidationError(
            gettext("Choose the folder to save the DICOM files in."), field="folder"
        )
    folder = Path(text).expanduser()
    if not folder.is_absolute():
        raise ValidationError(
            gettext("Give the folder's full path (such as {example}).", example=str(Path.home())),
            field="folder",
        )
    if not folder.is_dir():
        raise ValidationError(
            gettext("The folder {folder} does not exist.", folder=str(folder)), field="folder"
        )
    if not os.access(folder, os.W_OK):
        raise ValidationError(
            gettext("This program may not write in the folder {folder}.", folder=str(folder)),
            field="folder",
        )
    target = Path(os.path.normcase(fileio.real_path(folder)))
    for own in program_folders:
        mine = Path(os.path.normcase(fileio.real_path(own)))
        if target == mine or mine in target.parents:
            raise ValidationError(
                gettext(
                    "{folder} is inside the program's own data ({own}): choose a folder outside "
                    "it, such as one on a USB disk or in your documents.",
                    folder=str(folder),
                    own=str(own),
                ),
                field="folder",
            )
    return folder


def start_export(
    jobs: JobRunner,
    sessions: sessionmaker[Session],
    store: Callable[[], ImageStore],
    request: ExportRequest,
) -> Job:
    """Run the checked export as a job (beside others: it changes nothing in the store)."""
    _modules()
    return jobs.start(
        JOB_KIND,
        lambda progress: run_export(sessions, store(), request, progress),
        exclusive=False,
    )


class _NotMade(Exception):
    """An image that could not be made into DICOM; the message is for the user."""


@dataclass
class _Places:
    """The new studies and series of one export's photos: a study per day, a series per day and
    tooth."""

    studies: dict[date, str]
    series: dict[tuple[date, str | None], tuple[str, int, list[int]]]

    def of(
        self, taken: date, tooth: str | None, new_uid: Callable[[], str]
    ) -> tuple[str, str, int, int]:
        if taken not in self.studies:
            self.studies[taken] = new_uid()
        study = self.studies[taken]
        key = (taken, tooth)
        if key not in self.series:
            self.series[key] = (new_uid(), len(self.series) + 1, [0])
        uid, number, count = self.series[key]
        count[0] += 1
        return study, uid, number, count[0]


def place_text(tooth: str | None) -> str:
    """The tooth as a DICOM description says it: both numberings and its name."""
    if tooth is None:
        return gettext("Whole mouth / general")
    return gettext(
        "Tooth {fdi} (FDI), {universal} (Universal): {name}",
        fdi=teeth.label(tooth, teeth.Notation.FDI),
        universal=teeth.label(tooth, teeth.Notation.UNIVERSAL),
        name=teeth.tooth_name(tooth),
    )


def _taken(image: Image) -> date:
    return image.taken_date or image.created_at.date()


def _patient_facts(export: Any, patient: Patient) -> Any:
    return export.PatientFacts(
        name=patient.full_name,
        patient_id=patient.serial_number,
        birth_date=None,  # the program keeps an age, not a birth date
        sex=_SEX.get(patient.gender or "", ""),
    )


def _dataset_of(
    session: Session,
    store: ImageStore,
    image: Image,
    patient: Any,
    places: _Places,
    now: datetime,
) -> tuple[Dataset, bytes | None]:
    """The data set to send for `image`, and for a DICOM original its file's bytes."""
    export, _ = _modules()
    reading, _rendering = dicom.modules()
    try:
        path = locate_image(session, store, image)
        data = path.read_bytes()
    except (AppError, OSError) as exc:
        reason = exc.message if isinstance(exc, AppError) else (exc.strerror or str(exc))
        raise _NotMade(gettext("Its file cannot be read: {reason}", reason=reason)) from exc
    if image.sha256 and hashlib.sha256(data).hexdigest() != image.sha256:
        raise _NotMade(
            gettext(
                "Its file is not the one that was stored (damaged or replaced on the disk), so "
                "it was not exported. Run Check in Settings."
            )
        )
    try:
        if image.dicom is not None:
            return reading.read_dicom(data, DEFAULT_LIMITS).dataset, data
        with imaging.inspected(data, DEFAULT_LIMITS) as decoded:
            upright = export.upright(decoded.image)
            taken = _taken(image)
            study, series, series_number, instance = places.of(
                taken, image.tooth, export.generate_uid
            )
            kind = gettext(IMAGE_TYPE_LABELS.get(image.image_type, image.image_type))
            comments = "; ".join(
                part for part in (place_text(image.tooth), kind, image.description or "") if part
            )
            # an x-ray kept as PNG or JPEG is no camera photograph
            modality = (
                export.OTHER_MODALITY if image.image_type == "xray" else export.PHOTO_MODALITY
            )
            capture = export.CaptureFacts(
                study_uid=study,
                series_uid=series,
                instance_number=instance,
                series_number=series_number,
                taken=taken,
                modality=modality,
                series_description=place_text(image.tooth),
                image_comments=comments,
                study_description=gettext("Dental photos"),
            )
            return export.secondary_capture(upright, patient, capture, now=now), None
    except imaging.InvalidImage as exc:
        raise _NotMade(gettext("Its file cannot be read: {reason}", reason=str(exc))) from exc


def _file_name(image: Image) -> str:
    """`<serial>_tooth-<FDI>_<taken>.dcm` (`general` for no tooth); publish_new numbers the
    second of a name."""
    place = f"tooth-{teeth.label(image.tooth, teeth.Notation.FDI)}" if image.tooth else "general"
    name = fileio.safe_file_name(
        f"{image.patient.serial_number}_{place}_{_taken(image):%Y%m%d}.dcm", fallback="image.dcm"
    )
    return name if fileio.is_safe_file_name(name) else "image.dcm"


def _write_new(folder: Path, name: str, data: bytes) -> Path:
    """`data` as a new file `name` (or `name-2`...) in `folder`, flushed, never over a file."""
    temp = fileio.temp_name(folder / name)
    try:
        fileio.write_flushed(temp, data)
        return fileio.publish_new(temp, folder, name, others_may_publish=True)
    finally:
        fileio.discard(temp)


def run_export(
    sessions: sessionmaker[Session],
    store: ImageStore,
    request: ExportRequest,
    progress: Progress,
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The export itself (the job's work): one image after the other, each reported."""
    export, sending = _modules()
    now = now or datetime.now()
    places = _Places({}, {})
    total = len(request.image_ids)
    items: list[dict[str, Any]] = []

    def report(item: dict[str, Any]) -> None:
        items.append(item)
        progress.advance()
        progress.update(message=_progress_text(len(items), total))

    progress.update(total=total, current=0, message=gettext("Preparing the DICOM files…"))
    # What the send needs to know up front is read here; each file is then made in a session
    # of its own, so no database session stays open while a slow node takes its time.
    with session_scope(sessions) as session:
        patient = get_patient(session, request.patient_id)
        facts = _patient_facts(export, patient)
        found: list[tuple[str, str, str]] = []  # image id, SOP class, transfer syntax
        for image_id in request.image_ids:
            image = _live_image(session, image_id)
            if image is None:
                report({"image_id": image_id, "ok": False, "error": gettext("It was deleted.")})
            else:
                found.append((image.id, _sop_class(image), _syntax(image)))

    def made(image_id: str) -> tuple[Dataset, bytes | None, str]:
        """The data set of the image, its original's bytes (a DICOM file) and its file name."""
        with session_scope(sessions) as session:
            image = _live_image(session, image_id)
            if image is None:
                raise _NotMade(gettext("It was deleted."))
            ds, original = _dataset_of(session, store, image, facts, places, now)
            return ds, original, _file_name(image)

    if request.to == TO_FOLDER:
        assert request.folder is not None
        destination = str(request.folder)
        for image_id, _sop, _ts in found:
            report(_save_one(request.folder, image_id, made))
    else:
        assert request.node is not None
        destination = request.node.name

        def make(image_id: str) -> Dataset:
            try:
                return made(image_id)[0]
            except _NotMade as exc:
                raise sending.NotMade(str(exc)) from exc

        pending = [
            sending.Pending(
                key=image_id,
                sop_class=sop_class,
                transfer_syntax=syntax,
                make=lambda image_id=image_id: make(image_id),
            )
            for image_id, sop_class, syntax in found
        ]
        progress.update(message=gettext("Connecting to {name}…", name=destination))
        if pending:
            sending.send(
                _network_node(request.node), pending, lambda sent: report(_sent_item(sent))
            )
    done = sum(1 for item in items if item["ok"])
    log.info("DICOM export to %s: %d of %d images", destination, done, total)
    return {
        "to": request.to,
        "destination": destination,
        "total": total,
        "done": done,
        "failed": total - done,
        "items": items,
        "message": _result_text(request.to, done, total, destination),
    }


def _sop_class(image: Image) -> str:
    if image.dicom is None:
        return SECONDARY_CAPTURE
    return image.dicom.sop_class_uid or ""


def _syntax(image: Image) -> str:
    return image.dicom.transfer_syntax_uid if image.dicom is not None else EXPLICIT_LITTLE


def _live_image(session: Session, image_id: str) -> Image | None:
    """The image, unless it was deleted (to the trash or for good)."""
    image = session.get(Image, image_id)
    return image if image is not None and image.deleted_at is None else None


def _save_one(
    folder: Path,
    image_id: str,
    made: Callable[[str], tuple[Dataset, bytes | None, str]],
) -> dict[str, Any]:
    export, sending = _modules()
    try:
        ds, original, name = made(image_id)
        data = original if original is not None else export.part10_bytes(ds)
        written = _write_new(folder, name, data)
    except _NotMade as exc:
        return {"image_id": image_id, "ok": False, "error": str(exc)}
    except OSError as exc:
        log.warning("DICOM export: %s could not be written in %s: %s", image_id, folder, exc)
        return {
            "image_id": image_id,
            "ok": False,
            "error": gettext(
                "It could not be written in {folder}: {reason}",
                folder=str(folder),
                reason=exc.strerror or str(exc),
            ),
        }
    except Exception as exc:  # one image that cannot be made never costs the others theirs
        log.exception("DICOM export: %s could not be made into a DICOM file", image_id)
        return {"image_id": image_id, "ok": False, "error": sending.could_not_export(exc)}
    return {"image_id": image_id, "ok": True, "file": written.name}


def _sent_item(sent: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"image_id": sent.key, "ok": sent.stored}
    if sent.error:
        item["error"] = sent.error
    if sent.warning:
        item["warning"] = sent.warning
    return item


def _progress_text(done: int, total: int) -> str:
    return ngettext("{done} of {n} image", "{done} of {n} images", total, done=done)


def _result_text(to: str, done: int, total: int, destination: str) -> str:
    if to == TO_FOLDER:
        return ngettext(
            "{done} of {n} image saved as DICOM in {folder}.",
            "{done} of {n} images saved as DICOM in {folder}.",
            total,
            done=done,
            folder=destination,
        )
    return ngettext(
        "{done} of {n} image sent to {node}.",
        "{done} of {n} images sent to {node}.",
        total,
        done=done,
        node=destination,
    )
