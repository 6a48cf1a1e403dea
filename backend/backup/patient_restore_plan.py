"""What restoring one patient from a backup would do, read before anything is changed: the
backup's patients listed and found, the patient's rows read (`read_bundle`) with their ids
mapped to those of this installation, and the rows and files compared with the live data
(`make_plan`), said in words for the preview (`describe`). `patient_restore` carries a plan
out."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Table, func, select
from sqlalchemy.orm import Session

from backend import search_keys
from backend.backup.patient_source import OpenedBackup
from backend.errors import Conflict, NotFound
from backend.fileio import (
    file_sha256,
    human_size,
)
from backend.i18n import gettext, ngettext
from backend.jobs import Progress, Reporter
from backend.models import Base, Image, ImageDicom, ImageTooth, LegacyLink, Patient, Treatment
from backend.runtime import Runtime
from backend.serializers import patient_dict
from backend.storage import GENERAL, UnsafePath, image_folder, resolve_under
from backend.usecases.patients import PATIENT_FIELD_ORDER, search_patients

log = logging.getLogger(__name__)

PATIENTS = Base.metadata.tables[Patient.__tablename__]
TREATMENTS = Base.metadata.tables[Treatment.__tablename__]
IMAGES = Base.metadata.tables[Image.__tablename__]
DICOM = Base.metadata.tables[ImageDicom.__tablename__]
LINKS = Base.metadata.tables[LegacyLink.__tablename__]
IMAGE_TEETH = Base.metadata.tables[ImageTooth.__tablename__]
COMPARED_PATIENT_FIELDS = PATIENT_FIELD_ORDER
UNCOMPARED = ("created_at", "updated_at", "search_text", "search_phone", "search_description")


def list_patients(opened: OpenedBackup, query: str = "", limit: int = 50) -> dict[str, Any]:
    """The backup's patients whose name, serial number or phone match `query` as the patient
    search reads it, each with its counts of images and treatments."""
    engine = opened.engine()
    try:
        with Session(engine) as session:
            found = search_patients(session, query, limit=limit)
            ids = [p.id for p in found]
            images = _counts(session, Image.patient_id, ids)
            treatments = _counts(session, Treatment.patient_id, ids)
            total = session.scalar(select(func.count()).select_from(Patient)) or 0
            listed = [
                {
                    **patient_dict(p, image_count=images.get(p.id, 0)),
                    "treatment_count": treatments.get(p.id, 0),
                }
                for p in found
            ]
    finally:
        engine.dispose()
    return {**opened.summary(), "patients": listed, "total": total}


def _counts(session: Session, column: Any, ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(column, func.count()).where(column.in_(ids)).group_by(column)
    ).all()
    return {key: count for key, count in rows}


def find_patient(opened: OpenedBackup, reference: str) -> str:
    """The id of the backup's patient named by `reference`: its id, or its serial number."""
    reference = (reference or "").strip()
    engine = opened.engine()
    try:
        with engine.connect() as connection:
            found = connection.execute(
                select(PATIENTS.c.id).where(
                    (PATIENTS.c.id == reference.lower()) | (PATIENTS.c.serial_number == reference)
                )
            ).all()
    finally:
        engine.dispose()
    if len(found) != 1:
        raise NotFound(
            gettext(
                "The backup has no patient with the id or serial number {reference}.",
                reference=reference or "\u2014",
            )
        )
    return str(found[0][0])


@dataclass
class Bundle:
    """The backup's rows of one patient, as they are to be written here (ids already those of
    this installation), and where each image's file lies in the backup."""

    patient: dict[str, Any]
    treatments: list[dict[str, Any]]
    images: list[dict[str, Any]]
    dicom: list[dict[str, Any]]
    links: list[dict[str, Any]]
    sources: dict[str, str]  # image id -> the file's path in the backup
    # The images' other teeth (none in a backup made before they existed: its rebuilt
    # database has the table empty); replaced as the images' DICOM facts are.
    image_teeth: list[dict[str, Any]] = field(default_factory=list)


def read_bundle(runtime: Runtime, opened: OpenedBackup, patient_id: str) -> Bundle:
    """Everything of `patient_id` in the backup. Records the earlier app's import links to a
    record here (the patient imported before) keep that record's id."""
    engine = opened.engine()
    try:
        with engine.connect() as backup:
            patient = backup.execute(select(PATIENTS).where(PATIENTS.c.id == patient_id)).first()
            if patient is None:
                raise NotFound(gettext("The backup has no such patient."))
            treatments = _rows(backup, TREATMENTS, TREATMENTS.c.patient_id == patient_id)
            images = _rows(backup, IMAGES, IMAGES.c.patient_id == patient_id)
            image_ids = [row["id"] for row in images]
            dicom = _rows(backup, DICOM, DICOM.c.image_id.in_(image_ids)) if image_ids else []
            ids = {patient_id, *image_ids, *(row["id"] for row in treatments)}
            links = _rows(backup, LINKS, LINKS.c.target_id.in_(ids))
            image_teeth = (
                _rows(backup, IMAGE_TEETH, IMAGE_TEETH.c.image_id.in_(image_ids))
                if image_ids
                else []
            )
    finally:
        engine.dispose()
    bundle = Bundle(
        patient=dict(patient._mapping),
        treatments=treatments,
        images=images,
        dicom=dicom,
        links=links,
        sources={row["id"]: row["folder_path"] + row["file_name"] for row in images},
        image_teeth=image_teeth,
    )
    _map_to_live_ids(runtime, bundle)
    return bundle


def _rows(connection: Connection, table: Table, where: Any) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(select(table).where(where)).mappings()]


def _map_to_live_ids(runtime: Runtime, bundle: Bundle) -> None:
    """Where the live data holds the earlier app's record under another id (imported before,
    with ids of its own), the backup's rows take the live ids, and image folders follow the
    patient's id."""
    keys = {link["key"]: link["target_id"] for link in bundle.links}
    if not keys:
        return
    with runtime.engine.connect() as live:
        found = live.execute(
            select(LINKS.c.key, LINKS.c.target_id).where(LINKS.c.key.in_(list(keys)))
        ).all()
    ids = {keys[key]: target for key, target in found if keys[key] != target}
    if not ids:
        return
    bundle.patient["id"] = ids.get(bundle.patient["id"], bundle.patient["id"])
    patient_id = bundle.patient["id"]
    for row in bundle.treatments:
        row["id"] = ids.get(row["id"], row["id"])
        row["patient_id"] = patient_id
    sources = {}
    for row in bundle.images:
        source = bundle.sources[row["id"]]
        row["id"] = ids.get(row["id"], row["id"])
        row["patient_id"] = patient_id
        if row["treatment_id"] is not None:
            row["treatment_id"] = ids.get(row["treatment_id"], row["treatment_id"])
        row["folder_path"] = image_folder(patient_id, row["tooth"], row["image_type"])
        sources[row["id"]] = source
    bundle.sources = sources
    for row in (*bundle.dicom, *bundle.image_teeth):
        row["image_id"] = ids.get(row["image_id"], row["image_id"])
    for link in bundle.links:
        link["target_id"] = ids.get(link["target_id"], link["target_id"])


@dataclass
class Plan:
    """What restoring the bundle would do here."""

    bundle: Bundle
    exists: bool
    changed_fields: list[str] = field(default_factory=list)
    treatments_new: int = 0
    treatments_changed: int = 0
    treatments_same: int = 0
    treatments_kept: int = 0
    images_new: int = 0
    images_changed: int = 0
    images_same: int = 0
    images_kept: int = 0
    copies: list[dict[str, Any]] = field(default_factory=list)  # image rows whose file comes in
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing_in_backup: int = 0  # image rows whose file was missing when the backup was made

    @property
    def bytes_to_copy(self) -> int:
        return sum(int(row["size_bytes"]) for row in self.copies)


def make_plan(runtime: Runtime, opened: OpenedBackup, bundle: Bundle) -> Plan:
    """Compare the bundle with the live data: what comes back, what it replaces, what is kept,
    which files are to be copied in, and what stands in the way (a serial number, a file name
    or a DICOM instance that another record here now holds)."""
    patient = bundle.patient
    with runtime.engine.connect() as live:
        current = live.execute(select(PATIENTS).where(PATIENTS.c.id == patient["id"])).first()
        if current is not None and current._mapping["deleted_at"] is not None:
            raise Conflict(
                gettext(
                    "{name} is in the trash. Restore them from Settings → Trash, or empty the "
                    "trash first to take them from this backup.",
                    name=str(current._mapping["full_name"]),
                ),
                field="patient",
            )
        trashed = live.execute(
            select(IMAGES.c.id).where(
                IMAGES.c.id.in_([row["id"] for row in bundle.images]),
                IMAGES.c.deleted_at.is_not(None),
            )
        ).first()
        if trashed is not None:
            raise Conflict(
                gettext(
                    "An image of this patient in the backup is in the trash. Restore it from "
                    "Settings → Trash, or empty the trash first to take it from this backup."
                ),
                field="patient",
            )
        plan = Plan(bundle=bundle, exists=current is not None)
        if current is not None:
            plan.changed_fields = [
                name for name in COMPARED_PATIENT_FIELDS if current._mapping[name] != patient[name]
            ]
        holder = _held_by_another(
            live,
            PATIENTS.c.full_name,
            PATIENTS.c.serial_number,
            patient["serial_number"],
            PATIENTS.c.id,
            patient["id"],
        )
        if holder is not None:
            _renumber(live, plan, current, str(holder[0]))
        _compare_treatments(live, plan)
        _compare_images(runtime, live, opened, plan)
    return plan


def _renumber(live: Connection, plan: Plan, current: Any, holder: str) -> None:
    """The backup's serial number now belongs to another patient here (serial numbers are
    given again once the newest patient is deleted): the patient keeps its current number
    when it is here, else comes back with the next free one, and the preview says so."""
    patient = plan.bundle.patient
    taken = patient["serial_number"]
    if current is not None:
        serial = str(current._mapping["serial_number"])
    else:
        serials = live.scalars(select(PATIENTS.c.serial_number)).all()
        serial = str(max((int(s) for s in serials if s and s.isdigit()), default=0) + 1)
    patient["serial_number"] = serial
    patient["search_text"] = search_keys.patient_text_key(patient["full_name"], serial)
    patient["search_phone"] = search_keys.digits_key(patient["phone"], serial)
    if "serial_number" in plan.changed_fields:
        plan.changed_fields.remove("serial_number")
    plan.notes.append(
        gettext(
            "Serial number {taken} now belongs to {name} here: the patient comes back with "
            "serial number {serial}.",
            taken=taken,
            name=_isolated(holder),
            serial=serial,
        )
    )


def _compare_treatments(live: Connection, plan: Plan) -> None:
    patient_id = plan.bundle.patient["id"]
    rows = {r["id"]: r for r in _rows(live, TREATMENTS, TREATMENTS.c.patient_id == patient_id)}
    wanted = {row["id"] for row in plan.bundle.treatments}
    others = _owned_elsewhere(live, TREATMENTS, wanted, patient_id)
    for row in plan.bundle.treatments:
        if row["id"] in others:
            plan.problems.append(
                gettext("A treatment of the backup belongs to another patient here.")
            )
        elif row["id"] not in rows:
            plan.treatments_new += 1
        elif _differs(rows[row["id"]], row):
            plan.treatments_changed += 1
        else:
            plan.treatments_same += 1
    plan.treatments_kept = len(set(rows) - wanted)


def _owned_elsewhere(live: Connection, table: Table, ids: set[str], patient_id: str) -> set[str]:
    if not ids:
        return set()
    found = live.execute(
        select(table.c.id).where(table.c.id.in_(list(ids)), table.c.patient_id != patient_id)
    )
    return {row[0] for row in found}


def _differs(live: dict[str, Any], backup: dict[str, Any]) -> bool:
    return any(live.get(k) != v for k, v in backup.items() if k not in UNCOMPARED)


def _compare_images(runtime: Runtime, live: Connection, opened: OpenedBackup, plan: Plan) -> None:
    bundle = plan.bundle
    patient_id = bundle.patient["id"]
    rows = {r["id"]: r for r in _rows(live, IMAGES, IMAGES.c.patient_id == patient_id)}
    wanted = {row["id"] for row in bundle.images}
    others = _owned_elsewhere(live, IMAGES, wanted, patient_id)
    root = runtime.settings.image_store_root
    folders = list({row["folder_path"] for row in bundle.images})
    held = {
        (folder, name): image_id
        for image_id, folder, name in live.execute(
            select(IMAGES.c.id, IMAGES.c.folder_path, IMAGES.c.file_name).where(
                IMAGES.c.folder_path.in_(folders)
            )
        )
    }
    for row in bundle.images:
        relative = row["folder_path"] + row["file_name"]
        if row["id"] in others:
            plan.problems.append(
                gettext("The image {name} belongs to another patient here.", name=relative)
            )
            continue
        if held.get((row["folder_path"], row["file_name"]), row["id"]) != row["id"]:
            plan.problems.append(gettext("Another image here is stored as {name}.", name=relative))
            continue
        if row["id"] not in rows:
            plan.images_new += 1
        elif _differs(rows[row["id"]], row):
            plan.images_changed += 1
        else:
            plan.images_same += 1
        _plan_file(plan, opened, root, row, relative)
    plan.images_kept = len(set(rows) - wanted)
    _compare_dicom(live, plan)


def _plan_file(
    plan: Plan, opened: OpenedBackup, root: Path, row: dict[str, Any], relative: str
) -> None:
    """The file at the row's place here must be the backup's (then nothing is copied) or
    absent (then the backup's is copied in); another file there is never replaced."""
    try:
        target = resolve_under(root, relative)
    except UnsafePath:
        plan.problems.append(gettext("The image path {name} is not valid.", name=relative))
        return
    if target.is_file() and target.stat().st_size > 0:
        if file_sha256(target) != row["sha256"]:
            plan.problems.append(
                gettext(
                    "A different file is stored here as {name}; it is never replaced.",
                    name=relative,
                )
            )
        return
    source = plan.bundle.sources[row["id"]]
    if opened.manifest is not None and source in opened.manifest.missing_files:
        plan.missing_in_backup += 1  # as a whole restore does: the row comes back, fileless
        return
    if not opened.has_file(source):
        plan.problems.append(gettext("The backup does not hold the file of {name}.", name=relative))
        return
    plan.copies.append(row)


def _held_by_another(
    live: Connection,
    wanted: ColumnElement[Any],
    unique: ColumnElement[Any],
    value: Any,
    own_key: ColumnElement[Any],
    own: Any,
) -> Row[Any] | None:
    """`wanted` of the live row, other than `own`, that already holds `value` in the unique
    column `unique`; None when no other row does."""
    return live.execute(select(wanted).where(unique == value, own_key != own)).first()


def _compare_dicom(live: Connection, plan: Plan) -> None:
    bundle = plan.bundle
    for row in bundle.dicom:
        holder = _held_by_another(
            live,
            DICOM.c.image_id,
            DICOM.c.sop_instance_uid,
            row["sop_instance_uid"],
            DICOM.c.image_id,
            row["image_id"],
        )
        if holder is not None:
            plan.problems.append(
                gettext(
                    "The DICOM instance {uid} of the backup is stored here as another image.",
                    uid=row["sop_instance_uid"],
                )
            )


def describe(runtime: Runtime, opened: OpenedBackup, plan: Plan) -> dict[str, Any]:
    """The preview: the patient, what comes back (images by tooth and type, treatments),
    what it replaces here, what is kept, and what stands in the way."""
    bundle = plan.bundle
    patient = bundle.patient
    by_place = Counter((row["tooth"] or GENERAL, row["image_type"]) for row in bundle.images)
    lines = [
        ngettext("{n} image comes back.", "{n} images come back.", len(bundle.images)),
        ngettext("{n} treatment comes back.", "{n} treatments come back.", len(bundle.treatments)),
    ]
    if plan.exists:
        lines.append(
            gettext(
                "{name} is here with the same record: it is replaced by the backup's ({fields}).",
                name=_isolated(patient["full_name"]),
                fields=", ".join(plan.changed_fields) or gettext("no field differs"),
            )
        )
        lines.append(
            gettext(
                "Treatments: {changed} replaced by the backup's, {new} added, {same} unchanged.",
                changed=plan.treatments_changed,
                new=plan.treatments_new,
                same=plan.treatments_same,
            )
        )
        lines.append(
            gettext(
                "Images: {changed} replaced by the backup's, {new} added, {same} unchanged.",
                changed=plan.images_changed,
                new=plan.images_new,
                same=plan.images_same,
            )
        )
    else:
        lines.append(
            gettext(
                "{name} is not here: the patient is added back.",
                name=_isolated(patient["full_name"]),
            )
        )
    lines.extend(plan.notes)
    if plan.missing_in_backup:
        lines.append(
            ngettext(
                "{n} image had no file already when the backup was made: its record comes back "
                "without it.",
                "{n} images had no file already when the backup was made: their records come "
                "back without them.",
                plan.missing_in_backup,
            )
        )
    lines.append(
        gettext(
            "Treatments and images added here since the backup are kept ({treatments} "
            "treatments, {images} images); no other patient is touched.",
            treatments=plan.treatments_kept,
            images=plan.images_kept,
        )
    )
    lines.append(
        gettext(
            "{files} image files ({size}) are copied in; no file here is changed or removed.",
            files=len(plan.copies),
            size=_isolated(human_size(plan.bytes_to_copy)),
        )
    )
    lines.append(
        gettext(
            "A safety backup of the current database is made first, in {folder}.",
            folder=_isolated(str(runtime.settings.backups_dir)),
        )
    )
    return {
        **opened.summary(),
        "patient": {
            k: _plain(patient.get(k)) for k in ("id", *COMPARED_PATIENT_FIELDS, "date_added")
        },
        "exists": plan.exists,
        "comes_back": {
            "treatments": len(bundle.treatments),
            "images": len(bundle.images),
            "by_place": [
                {"tooth": tooth, "image_type": kind, "count": count}
                for (tooth, kind), count in sorted(by_place.items())
            ],
            "files_to_copy": len(plan.copies),
            "bytes_to_copy": plan.bytes_to_copy,
        },
        "replaces": {
            "patient_fields": plan.changed_fields,
            "treatments_changed": plan.treatments_changed,
            "treatments_new": plan.treatments_new,
            "treatments_same": plan.treatments_same,
            "images_changed": plan.images_changed,
            "images_new": plan.images_new,
            "images_same": plan.images_same,
        },
        "kept": {"treatments": plan.treatments_kept, "images": plan.images_kept},
        "lines": lines,
        "problems": plan.problems,
    }


def _isolated(text: str) -> str:
    """A name, path or size kept in its own direction inside a sentence of the other one (an
    Arabic name in English, a path in Arabic)."""
    return f"\u2068{text}\u2069"


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def preview_patient(
    runtime: Runtime, opened: OpenedBackup, patient_id: str, progress: Reporter | None = None
) -> dict[str, Any]:
    """What restoring `patient_id` from the opened backup would do; nothing is changed."""
    (progress or Progress()).update(message=gettext("Comparing with the current data"))
    opened.still_the_same()
    bundle = read_bundle(runtime, opened, patient_id)
    return describe(runtime, opened, make_plan(runtime, opened, bundle))
