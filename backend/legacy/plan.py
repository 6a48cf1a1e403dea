"""From a legacy database and its image roots to a plan: which patients, treatments and image
files to create, keyed so that a second import finds them done. Nothing is written here; what
cannot be brought across (a missing file, a row that cannot be told apart, an unknown tooth)
goes into the report."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import fileio, teeth
from backend.fileio import file_sha256
from backend.i18n import gettext
from backend.legacy import records
from backend.legacy.database import IMAGE_TABLES, PATIENT_IMAGES, LegacyDatabase
from backend.legacy.files import NotAnImage, inspect_file
from backend.legacy.matching import RowRef, match_folder, name_time_ms, timestamp_ms
from backend.legacy.notation import NotationDecision, decide, named_side, standard_side
from backend.legacy.paths import FOLDER_ONLY, UNKNOWN, ImageRoots, LegacyPath, parse_image_path
from backend.legacy.source import LegacySource
from backend.models import Image, LegacyLink, Patient, new_id
from backend.moving.mover import LEGACY_FILE
from backend.moving.report import Entry, ImportReport
from backend.storage import UnsafePath, legacy_patient_folder, resolve_under

TREATMENT_OF_IMAGES = {
    "tooth_treatment_images": "tooth_treatments",
    "dental_treatment_images": "dental_treatments",
}


@dataclass
class PatientPlan:
    key: str
    patient_id: str
    fields: dict[str, Any]
    create: bool


@dataclass
class TreatmentPlan:
    key: str
    treatment_id: str
    patient_id: str
    tooth: str
    fields: dict[str, Any]


@dataclass
class ImagePlan:
    """One legacy image row whose file was found: where the file is and the row to create."""

    key: str
    image_id: str
    ref: str
    patient_id: str
    tooth: str | None  # None: a patient-level image
    image_type: str
    fields: dict[str, Any]
    legacy: LegacyPath
    source: Path | None = None


@dataclass
class ImportPlan:
    source: LegacySource
    notation: str
    patients: list[PatientPlan] = field(default_factory=list)
    treatments: list[TreatmentPlan] = field(default_factory=list)
    images: list[ImagePlan] = field(default_factory=list)
    image_rows: int = 0
    patient_image_rows: int = 0


def _pid(value: Any) -> str:
    return records.canonical_id(value) or str(value or "").strip()


def _record_key(kind: str, table: str, row: dict[str, Any]) -> str:
    """`<kind>:<uuid>` for rows with UUID ids (the same record may sit in both table
    generations); integer ids are only unique per table, so they are scoped by it."""
    canonical = records.canonical_id(row.get("id"))
    if canonical:
        return f"{kind}:{canonical}"
    return f"{table}:{_pid(row.get('patient_id'))}:{row.get('id')}"


class Planner:
    """Builds an ImportPlan; `own_files` are files of our own layout that our rows already
    name (never counted as the earlier app's when our data folder is one of its roots)."""

    def __init__(
        self,
        session: Session,
        source: LegacySource,
        database: LegacyDatabase,
        notation: str | NotationDecision,
        report: ImportReport,
        own_files: set[str] | None = None,
    ) -> None:
        self.session = session
        self.source = source
        self.database = database
        self.decision = (
            notation if isinstance(notation, NotationDecision) else decide(database, notation)
        )
        self.notation = self.decision.describe()
        self.report = report
        self.roots = ImageRoots(list(source.roots))
        self.own_files = own_files or set()
        self.plan = ImportPlan(source=source, notation=self.notation)
        self.links: dict[str, str] = {}
        self.link_files: dict[str, str] = {}  # image key -> its file under a root
        for key, target, source_file in self.session.execute(
            select(LegacyLink.key, LegacyLink.target_id, LegacyLink.source_file)
        ):
            self.links[key] = target
            if source_file:
                self.link_files[key] = source_file
        self.patients: dict[str, str] = {}  # legacy patient id -> ours
        self.folder_owner: dict[str, str] = {}  # folder name (id or clean name) -> our patient
        self.treatments: dict[tuple[str, str], tuple[str, str, str]] = {}
        self.claimed: dict[str, str] = {}  # real path of a file -> the ref that took it
        self.named: set[str] = set()  # real paths a row names but could not take (reported)
        self.planned_keys: set[str] = set()
        self.image_ids: set[str] | None = None  # ours and this plan's, loaded on first use

    def build(self) -> ImportPlan:
        self._plan_patients()
        self._plan_treatments()
        self._plan_images()
        self._plan_patient_images()
        self._list_unreferenced()
        return self.plan

    # ----- patients
    def _plan_patients(self) -> None:
        serials = set(self.session.scalars(select(Patient.serial_number)))
        next_serial = max((int(s) for s in serials if s and s.isdigit()), default=0)
        for row in self.database.rows("patients"):
            legacy_id = _pid(row.get("id"))
            key = f"patient:{legacy_id}"
            fields = records.patient_fields(row)
            canonical = records.canonical_id(row.get("id"))
            if key in self.links or key in self.planned_keys:
                self.patients[legacy_id] = self.links.get(key) or self.patients[legacy_id]
                self._mark_folders(self.patients[legacy_id], legacy_id, row)
                self.report.patients.skipped += 1
                continue
            self.planned_keys.add(key)
            if canonical and self.session.get(Patient, canonical) is not None:
                self.patients[legacy_id] = canonical
                self._mark_folders(canonical, legacy_id, row)
                self.plan.patients.append(PatientPlan(key, canonical, fields, create=False))
                self.report.patients.skipped += 1
                continue
            patient_id = canonical or new_id()
            serial = records.text(row.get("serial_number"), 36)
            if serial is None:
                next_serial += 1
                serial = str(next_serial)
            elif serial in serials:
                taken, suffix = serial, 1
                while serial in serials:
                    suffix += 1
                    serial = f"{taken}-{suffix}"
                self.report.notes.append(
                    gettext(
                        "Patient {full_name}: serial number {taken} was in use; imported as "
                        "{serial}.",
                        full_name=fields["full_name"],
                        taken=taken,
                        serial=serial,
                    )
                )
            serials.add(serial)
            fields["serial_number"] = serial
            self.patients[legacy_id] = patient_id
            self._mark_folders(patient_id, legacy_id, row)
            self.plan.patients.append(PatientPlan(key, patient_id, fields, create=True))
            self.report.patients.imported += 1

    def _mark_folders(self, patient_id: str, legacy_id: str, row: dict[str, Any]) -> None:
        """Remember the folder names that belong to this patient (ids and the legacy clean
        name), so that a search by file name never hands one patient's file to another."""
        name = legacy_patient_folder(row.get("full_name"), str(row.get("id")))
        self.folder_owner.update({patient_id: patient_id, legacy_id: patient_id, name: patient_id})

    # ----- treatments (both generations)
    def _plan_treatments(self) -> None:
        for table in ("tooth_treatments", "dental_treatments"):
            for row in self.database.rows(table):
                self._plan_treatment(table, row)

    def _plan_treatment(self, table: str, row: dict[str, Any]) -> None:
        key = _record_key("treatment", table, row)
        ref = f"{table} {row.get('id')}"
        patient_id = self.patients.get(_pid(row.get("patient_id")))
        if key in self.links or key in self.planned_keys:
            self.report.treatments.skipped += 1
            target = self.links.get(key)
            if target and patient_id:
                self.treatments[(table, str(row.get("id")))] = (target, patient_id, "")
            return
        if patient_id is None:
            self.report.treatments.failed += 1
            self.report.failures.append(_entry(ref, None, "its patient is not in the database"))
            return
        try:
            tooth = self.decision.tooth(table, row.get("tooth_number"))
        except teeth.InvalidTooth:
            self.report.treatments.failed += 1
            self.report.failures.append(
                _entry(
                    ref, None, f"tooth {row.get('tooth_number')!r} is not a {self._system(table)}"
                )
            )
            return
        self._check_name(ref, row, tooth)
        self.planned_keys.add(key)
        treatment_id = new_id()
        self.treatments[(table, str(row.get("id")))] = (treatment_id, patient_id, tooth)
        fields = records.treatment_fields(table, row)
        self.plan.treatments.append(TreatmentPlan(key, treatment_id, patient_id, tooth, fields))
        self.report.treatments.imported += 1

    def _system(self, table: str) -> str:
        notation = self.decision.notation_of(table)
        return f"{'FDI' if notation == 'fdi' else 'Universal'} tooth"

    def _check_name(self, ref: str, row: dict[str, Any], tooth: str) -> None:
        """A tooth name that says another jaw or side than the tooth it is imported as is
        reported: the tooth is never moved on the name's word alone."""
        said = named_side(row.get("tooth_name"))
        standard = standard_side(tooth)
        if said is None or standard is None or said == standard:
            return
        self.report.name_conflicts.append(
            _entry(
                ref,
                None,
                f"tooth_name {row.get('tooth_name')!r} says {said[0]} {said[1]}, but number "
                f"{row.get('tooth_number')} is imported as tooth {tooth} "
                f"({standard[0]} {standard[1]}): check it",
            )
        )

    # ----- images (both tables, every path form)
    def _plan_images(self) -> None:
        folder_groups: dict[str, list[ImagePlan]] = defaultdict(list)
        for table, link_column in IMAGE_TABLES.items():
            for row in self.database.rows(table):
                self.plan.image_rows += 1
                item = self._image_item(table, link_column, row)
                if item is None:
                    continue
                if item.legacy.kind == FOLDER_ONLY:
                    folder_groups[item.legacy.relative].append(item)
                else:
                    self._resolve_single(item)
        for folder in sorted(folder_groups):
            self._resolve_folder(folder, folder_groups[folder])

    def _image_item(self, table: str, link_column: str, row: dict[str, Any]) -> ImagePlan | None:
        key = _record_key("image", table, row)
        ref = f"{table} {row.get('id')}"
        path_text = records.text(row.get("image_path"))
        if key in self.links or key in self.planned_keys:
            self.report.skipped += 1
            for path in self.roots.existing(self.link_files.get(key, "")):
                self.claimed.setdefault(fileio.real_path(path), f"{ref} (imported before)")
            return None
        self.planned_keys.add(key)
        patient_id = self.patients.get(_pid(row.get("patient_id")))
        if patient_id is None:
            self.report.add_failure(ref, path_text, "its patient is not in the database")
            return None
        try:
            tooth = self.decision.tooth(table, row.get("tooth_number"))
        except teeth.InvalidTooth:
            self.report.add_failure(
                ref, path_text, f"tooth {row.get('tooth_number')!r} is not a {self._system(table)}"
            )
            return None
        legacy = parse_image_path(path_text)
        image_type, type_note = records.image_type(row.get("image_type"), legacy.image_type)
        taken_note = records.time_of_day_note(row.get("taken_date"))
        description = "\n".join(
            t for t in (records.text(row.get("description")), type_note, taken_note) if t
        )
        treatment = self.treatments.get((TREATMENT_OF_IMAGES[table], str(row.get(link_column))))
        linked = treatment[0] if treatment and treatment[1:] == (patient_id, tooth) else None
        image_id = self._image_id_for(row)
        fields = {
            "patient_id": patient_id,
            "tooth": tooth,
            "image_type": image_type,
            "treatment_id": linked,
            "description": description or None,
            "taken_date": records.as_date(row.get("taken_date")),
            "created_at": records.as_datetime(row.get("created_at")),
            "updated_at": records.as_datetime(row.get("updated_at")),
        }
        return ImagePlan(key, image_id, ref, patient_id, tooth, image_type, fields, legacy)

    def _image_id_for(self, row: dict[str, Any]) -> str:
        """The earlier app's id of the image row when it is a usable id no image has yet, else
        a new one."""
        canonical = records.canonical_id(row.get("id"))
        return canonical if canonical and not self._image_id_taken(canonical) else new_id()

    def _image_id_taken(self, image_id: str) -> bool:
        if self.image_ids is None:
            self.image_ids = set(self.session.scalars(select(Image.id)))
        taken = image_id in self.image_ids
        self.image_ids.add(image_id)
        return taken

    def _resolve_single(self, item: ImagePlan) -> None:
        legacy = item.legacy
        hits = self.roots.existing(legacy.relative) if legacy.kind != UNKNOWN else []
        if self.own_files:
            hits = [h for h in hits if fileio.real_path(h) not in self.own_files]
        if not hits and legacy.file_name:
            hits = self._by_name(item)
        if not hits:
            where = legacy.relative or legacy.file_name
            self.report.add_missing(item.ref, where, "the file is not in the source")
            return
        if len(hits) > 1 and len({file_sha256(h) for h in hits}) > 1:
            self.named.update(fileio.real_path(h) for h in hits)
            self.report.add_missing(
                item.ref,
                legacy.relative or legacy.file_name,
                f"{len(hits)} different files are called {legacy.file_name}; "
                "cannot tell which is this one",
            )
            return
        self._take(item, hits[0])

    def _by_name(self, item: ImagePlan) -> list[Path]:
        """Files called like the row's file in this patient's own folders; failing those, in
        folders that belong to no patient. A file in another patient's folder is never taken:
        duplicate names across patients are common and would put an image on the wrong one."""
        found = [p for p in self.roots.by_name(item.legacy.file_name or "") if self._free(p)]
        mine: list[Path] = []
        unowned: list[Path] = []
        for path in found:
            owners = {
                self.folder_owner[part]
                for part in Path(self.roots.relative_to_root(path)).parts
                if part in self.folder_owner
            }
            if owners == {item.patient_id}:
                mine.append(path)
            elif not owners:
                unowned.append(path)
        return mine or unowned

    def _free(self, path: Path) -> bool:
        """Neither taken by another row of this plan nor a file of our own layout."""
        real = fileio.real_path(path)
        return real not in self.claimed and real not in self.own_files

    def _take(self, item: ImagePlan, path: Path) -> None:
        real = fileio.real_path(path)
        if real in self.claimed:
            self.report.skipped += 1
            self.report.notes.append(
                gettext(
                    "{ref} names the same file as {claimed}.",
                    ref=item.ref,
                    claimed=self.claimed[real],
                )
            )
            return
        self.claimed[real] = item.ref
        item.source = path
        item.fields["original_name"] = path.name[:255]
        item.fields[LEGACY_FILE] = self.roots.relative_to_root(path)
        self.plan.images.append(item)

    def _resolve_folder(self, folder: str, items: list[ImagePlan]) -> None:
        files: dict[str, Path] = {}
        for path in self.roots.files_in(folder):
            if self._free(path) and path.name not in files:
                files.setdefault(path.name, path)
        by_key = {item.key: item for item in items}
        rows = [RowRef(i.key, timestamp_ms(i.fields["created_at"])) for i in items]
        matched = match_folder(rows, list(files.values()))
        for key, path in matched.pairs.items():
            self._take(by_key[key], path)
        if matched.unmatched_rows:
            self.named.update(fileio.real_path(p) for p in matched.unmatched_files)
        for key in matched.unmatched_rows:
            reason = (
                "folder-only path and the folder holds no file of its own"
                if not files
                else f"folder-only path shared by {len(items)} rows and {len(files)} files: "
                "no file can be told to be this row's"
            )
            self.report.add_missing(by_key[key].ref, folder, reason)

    # ----- what stays behind
    def _plan_patient_images(self) -> None:
        """`patient_images` rows become patient-level images (no tooth): their files lie at
        `patient_images/<patient id>/<file>` in the per-user folder."""
        bases = list(
            dict.fromkeys([self.source.database.parent, self.source.folder, *self.roots.roots])
        )
        for row in self.database.rows(PATIENT_IMAGES):
            key = _record_key("patient_image", PATIENT_IMAGES, row)
            ref = f"{PATIENT_IMAGES} {row.get('id')}"
            path_text = records.text(row.get("image_path")) or ""
            relative = path_text.replace("\\", "/").lstrip("/")
            hits = []
            for base in bases:
                try:
                    candidate = resolve_under(base, relative)
                except UnsafePath:
                    continue
                if candidate.is_file() and candidate not in hits:
                    hits.append(candidate)
            if key in self.links or key in self.planned_keys:
                self.report.skipped += 1
                for hit in hits:
                    self.claimed.setdefault(fileio.real_path(hit), f"{ref} (imported before)")
                continue
            self.planned_keys.add(key)
            patient_id = self.patients.get(_pid(row.get("patient_id")))
            if patient_id is None:
                self.report.add_failure(ref, path_text, "its patient is not in the database")
                continue
            image_type, type_note = records.patient_image_type(row.get("image_type"))
            description = "\n".join(
                t for t in (records.text(row.get("description")), type_note) if t
            )
            if records.text(row.get("appointment_id")):
                description = "\n".join(
                    t for t in (description, f"Appointment: {row['appointment_id']}") if t
                )
            image_id = self._image_id_for(row)
            fields = {
                "patient_id": patient_id,
                "tooth": None,
                "image_type": image_type,
                "treatment_id": None,
                "description": description or None,
                "taken_date": records.as_date(row.get("taken_date") or row.get("created_at")),
                "created_at": records.as_datetime(row.get("created_at")),
                "updated_at": records.as_datetime(row.get("updated_at")),
            }
            item = ImagePlan(
                key,
                image_id,
                ref,
                patient_id,
                None,
                image_type,
                fields,
                LegacyPath(UNKNOWN, "", file_name=Path(relative).name or None),
            )
            self.plan.patient_image_rows += 1
            if not hits:
                self.report.add_missing(
                    ref, path_text, "the patient image's file is not in the source"
                )
                continue
            self._take(item, hits[0])
            item.fields[LEGACY_FILE] = relative

    def _list_unreferenced(self) -> None:
        """Files no row names. A byte-identical copy of a file that came across (the earlier
        app's start-up move left its originals) is only counted; a file in a folder of one
        of the patients (the app stopped between writing a file and its row) becomes a
        patient-level image of that patient; anything else is listed."""
        left = [
            path
            for path in self.roots.all_files()
            if fileio.real_path(path) not in self.claimed
            and fileio.real_path(path) not in self.own_files
        ]
        if not left:
            return
        taken = {file_sha256(Path(real)) for real in self.claimed if os.path.isfile(real)}
        copies = 0
        for path in left:
            if file_sha256(path) in taken:
                copies += 1
                continue
            if fileio.real_path(path) in self.named or not self._plan_orphan(path):
                self.report.unreferenced_files.append(str(path))
        if copies:
            self.report.notes.append(
                gettext(
                    "{copies} files no record names are byte-identical copies of files that came "
                    "across (left by the earlier app's own moves); they were not imported twice.",
                    copies=copies,
                )
            )

    def _plan_orphan(self, path: Path) -> bool:
        """Plan `path` as a patient-level image of the one patient whose folder holds it."""
        relative = self.roots.relative_to_root(path)
        parts = Path(relative).parts
        owners = {self.folder_owner[p] for p in parts[1:2] if p in self.folder_owner}
        if len(owners) != 1 or not _is_image(path):
            return False
        patient_id = owners.pop()
        key = "orphan:" + hashlib.sha256(relative.encode("utf-8")).hexdigest()
        if key in self.links or key in self.planned_keys:
            self.report.skipped += 1
            return True
        self.planned_keys.add(key)
        folder_type = parts[-2] if len(parts) >= 3 else None
        image_type, _note = records.image_type(folder_type, None)
        stamp = name_time_ms(path.name)
        item = ImagePlan(
            key,
            new_id(),
            f"file {relative}",
            patient_id,
            None,
            image_type,
            {
                "patient_id": patient_id,
                "tooth": None,
                "image_type": image_type,
                "treatment_id": None,
                "description": f"Found in the earlier app's folder {relative} with no record "
                "naming it (kept as a patient-level image).",
                "taken_date": None,
                "created_at": records.as_datetime(stamp) if stamp else None,
                "updated_at": None,
            },
            LegacyPath(UNKNOWN, "", file_name=path.name),
        )
        self._take(item, path)
        self.report.notes.append(
            gettext(
                "{relative}: no record names this file; kept as a patient-level image of its "
                "folder's patient.",
                relative=relative,
            )
        )
        return True


def _is_image(path: Path) -> bool:
    try:
        inspect_file(path)
    except NotAnImage:
        return False
    return True


def _entry(what: str, path: str | None, reason: str) -> Entry:
    return Entry(what, path, reason)


def build_plan(
    session: Session,
    source: LegacySource,
    database: LegacyDatabase,
    notation: str | NotationDecision,
    report: ImportReport,
    own_files: set[str] | None = None,
) -> ImportPlan:
    """The plan of importing `database` (read from `source`) with teeth in `notation`."""
    return Planner(session, source, database, notation, report, own_files).build()
