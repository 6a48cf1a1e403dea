"""Importing the earlier app's data: its patients, treatments (both table generations) and
images (both image tables, every path form) into our database and layout, teeth converted to
our canonical numbering.

The contract other parts rely on (restore calls it with a legacy backup unpacked):
`open_source(path)`, `preview(source)` and `import_legacy(runtime, source, notation=...)`.
A second import of the same data creates nothing twice. Files are hard-linked or copied in
and the source is left as it was, except files that already lie inside our own data folder
(or when `move_files` is set, as the migration does): those are moved, after a verified
backup of them and of the database.
"""

from __future__ import annotations

import logging
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from backend import exit_codes as codes
from backend import fileio
from backend.errors import ValidationError
from backend.i18n import gettext, ngettext
from backend.jobs import Progress
from backend.legacy.database import IMAGE_TABLES, PATIENT_IMAGES, TREATMENT_TABLES, read_database
from backend.legacy.files import FileFacts, NotAnImage, inspect_file
from backend.legacy.notation import (
    GENERATIONS,
    UNIVERSAL,
    NotationDecision,
    NotationEvidence,
    decide,
    detect_generation,
    detect_layout,
    detect_notation,
    generation_rows,
    numbered_texts,
)
from backend.legacy.paths import ImageRoots
from backend.legacy.plan import ImagePlan, ImportPlan, build_plan
from backend.legacy.source import LegacySource, open_source
from backend.models import (
    TAKEN_EXIF,
    TAKEN_SET,
    TAKEN_UPLOAD,
    Base,
    Image,
    LegacyLink,
    Patient,
    Treatment,
    utcnow,
)
from backend.moving import cleanup
from backend.moving.mover import Mover, Placement, recover
from backend.moving.report import ImportReport
from backend.moving.safety import (
    SafetyItem,
    bytes_to_copy,
    check_free_space,
    make_safety_backup,
)
from backend.runtime import Runtime
from backend.storage import image_folder

__all__ = ["ImportPreview", "ImportReport", "LegacySource", "import_legacy", "open_source"]

log = logging.getLogger(__name__)

BATCH = 200
LISTED_NAMES = 10  # files no record names, named in a preview (all are in the report)
INSPECT_WORKERS = min(4, os.cpu_count() or 1)  # files checked at once (see _inspect)


@dataclass
class ImportPreview:
    """What an import would bring, before anything is written."""

    source: LegacySource
    notation: NotationEvidence
    patients: int = 0
    patients_new: int = 0
    treatments: dict[str, int] = field(default_factory=dict)
    image_rows: int = 0
    images_found: int = 0
    images_missing: int = 0
    images_already_imported: int = 0
    images_not_placeable: int = 0
    patient_images: int = 0
    patient_images_found: int = 0
    files_kept_as_patient_images: int = 0  # files no record names, in a patient's folder
    unreferenced_files: int = 0
    unreferenced_names: list[str] = field(default_factory=list)  # the first few, root-relative
    missing_examples: list[str] = field(default_factory=list)
    generations: dict[str, dict[str, Any]] = field(default_factory=dict)
    reading: str | None = None  # how the counts read the teeth; None when not decided
    name_conflicts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.source.as_dict(),
            "notation": self.notation.as_dict(),
            "patients": self.patients,
            "patients_new": self.patients_new,
            "treatments": dict(self.treatments),
            "image_rows": self.image_rows,
            "images_found": self.images_found,
            "images_missing": self.images_missing,
            "images_already_imported": self.images_already_imported,
            "images_not_placeable": self.images_not_placeable,
            "patient_images": self.patient_images,
            "patient_images_found": self.patient_images_found,
            "files_kept_as_patient_images": self.files_kept_as_patient_images,
            "unreferenced_files": self.unreferenced_files,
            "unreferenced_names": list(self.unreferenced_names),
            "missing_examples": list(self.missing_examples),
            "generations": {k: dict(v) for k, v in self.generations.items()},
            "reading": self.reading,
            "name_conflicts": list(self.name_conflicts),
            "warnings": list(self.warnings),
        }


def generations_of(database: Any, decision: NotationDecision | None) -> dict[str, dict[str, Any]]:
    """Per table generation holding rows: its rows, the notation evidence, the early chart
    layout evidence (for Universal) and what the counts used."""
    shown: dict[str, dict[str, Any]] = {}
    for generation in GENERATIONS:
        rows = generation_rows(database, generation)
        if not rows:
            continue
        entry: dict[str, Any] = {
            "rows": rows,
            "notation": detect_generation(database, generation).as_dict(),
        }
        used = decision.notations.get(generation) if decision else None
        entry["used"] = used
        if used == UNIVERSAL or (used is None and entry["notation"]["detected"] == UNIVERSAL):
            layout = detect_layout(database, generation).as_dict()
            layout["used"] = decision.layouts.get(generation) if decision else None
            entry["layout"] = layout
        shown[generation] = entry
    return shown


def preview(
    source: LegacySource,
    runtime: Runtime | None = None,
    *,
    notation: str | None = None,
    tables: dict[str, str] | None = None,
    early_layout: str | None = None,
) -> ImportPreview:
    """Counts of what `source` holds and what would come across (against `runtime`'s
    database when given, so that what was imported before shows as such), and the tooth
    notation detected with its evidence, per table generation. `notation` (all generations),
    `tables` (one generation each) and `early_layout` override the evidence for the counts;
    a generation the evidence leaves undecided is counted as Universal and `reading` is None."""
    database = read_database(source.database)
    evidence = detect_notation(database)
    decision: NotationDecision | None
    try:
        used = decide(database, notation, tables, early_layout, require_certain=True)
        decision = used
    except ValidationError:
        decision = None
        used = decide(database, notation or UNIVERSAL, tables, early_layout)
    report = ImportReport("preview", str(source.folder), used.describe(), dry_run=True)
    if runtime is None:
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            plan = build_plan(session, source, database, used, report)
        engine.dispose()
    else:
        with runtime.sessions() as session:
            plan = build_plan(session, source, database, used, report, _own_files(runtime))
    result = ImportPreview(
        source=source,
        notation=evidence,
        patients=len(database.rows("patients")),
        patients_new=report.patients.imported,
        treatments={t: len(database.rows(t)) for t in TREATMENT_TABLES if database.has(t)},
        image_rows=sum(len(database.rows(t)) for t in IMAGE_TABLES),
        images_found=sum(1 for item in plan.images if item.tooth is not None),
        images_missing=report.missing,
        images_already_imported=report.skipped,
        images_not_placeable=report.failed,
        patient_images=len(database.rows(PATIENT_IMAGES)),
        patient_images_found=sum(1 for i in plan.images if i.key.startswith("patient_image:")),
        files_kept_as_patient_images=sum(1 for i in plan.images if i.key.startswith("orphan:")),
        unreferenced_files=len(report.unreferenced_files),
        unreferenced_names=[
            ImageRoots(list(source.roots)).relative_to_root(Path(p))
            for p in report.unreferenced_files[:LISTED_NAMES]
        ],
        missing_examples=[f"{e.what}: {e.path}" for e in report.missing_files[:10]],
        generations=generations_of(database, decision),
        reading=decision.describe() if decision else None,
        name_conflicts=[f"{e.what}: {e.reason}" for e in report.name_conflicts],
        warnings=[*database.warnings(), *_numbered_text_warning(database)],
    )
    return result


def _numbered_text_warning(database: Any) -> list[str]:
    texts = numbered_texts(database)
    if not texts:
        return []
    return [
        ngettext(
            "{n} description or note names a tooth by number ({example}). It comes across as "
            "written, so it may use the earlier app's numbering rather than the one shown here.",
            "{n} descriptions or notes name a tooth by number (for example {example}). They "
            "come across as written, so they may use the earlier app's numbering rather than the "
            "one shown here.",
            len(texts),
            example=f"\u201c\u2068{texts[0]}\u2069\u201d",
        )
    ]


def import_legacy(
    runtime: Runtime,
    source: LegacySource,
    *,
    notation: str | None = None,
    tables: dict[str, str] | None = None,
    early_layout: str | None = None,
    progress: Progress | None = None,
    dry_run: bool = False,
    move_files: bool = False,
    operation: str = "import",
) -> ImportReport:
    """Import `source` with its tooth numbers read in `notation` ("universal" or "fdi") for
    every table generation, or as `tables` says for one generation each ({"dental_treatments":
    "universal"}), or as the evidence decides with certainty; the early chart's mirrored lower
    arch is read as the tooth names say unless `early_layout` ("mirrored" or "standard") is
    given. Raises ValidationError before writing when a generation is not decided.
    Does not take the store lease itself: run it inside a whole-store job."""
    database = read_database(source.database)
    decision = decide(database, notation, tables, early_layout, require_certain=True)
    chosen = decision.describe()
    progress = progress or Progress()
    report = ImportReport(operation, str(source.folder), chosen, dry_run)
    report.notes.extend(database.warnings())
    started = time.monotonic()
    with progress.showing(report.counts):
        log.info(
            "%s of %s started (notation %s%s)",
            operation,
            source.folder,
            chosen,
            ", dry run" if dry_run else "",
        )
        if not dry_run:
            recover(runtime.sessions, runtime.store)
        progress.update(message=gettext("Reading {name}", name=source.database.name))
        with runtime.sessions() as session:
            plan = build_plan(session, source, database, decision, report, _own_files(runtime))
        placements = _inspect(runtime, plan, report, progress, move_files)
        if dry_run:
            report.imported += len(placements)
        else:
            _carry_out(runtime, source, plan, placements, report, progress)
    report.finish()
    log.log(
        outcome_level(report),
        "%s of %s finished in %.1f s: %s",
        operation,
        source.folder,
        time.monotonic() - started,
        report.summary(),
    )
    return report


def outcome_level(report: ImportReport) -> int:
    """How loudly the log tells of a finished import or migration: ERROR when something failed,
    WARNING when files were missing or left behind (not everything came across), INFO when all
    of it did. A dry run, which changes nothing, tells at INFO."""
    if report.dry_run or report.exit_code == codes.OK:
        return logging.INFO
    return logging.ERROR if report.exit_code == codes.PARTIAL else logging.WARNING


def _own_files(runtime: Runtime) -> set[str]:
    """Real paths of the files our own rows name (never mistaken for the earlier app's)."""
    root = fileio.real_path(runtime.settings.image_store_root)
    with runtime.sessions() as session:
        rows = session.execute(select(Image.folder_path, Image.file_name))
        # normpath: rows keep forward slashes; Windows' real paths have backslashes.
        return {os.path.normpath(os.path.join(root, folder + name)) for folder, name in rows}


def _inspect(
    runtime: Runtime,
    plan: ImportPlan,
    report: ImportReport,
    progress: Progress,
    move_files: bool,
) -> list[Placement]:
    """Read every found file once (checksum, image header) and turn it into a placement;
    a file that is not an image is reported."""
    images_dir = fileio.real_path(runtime.settings.images_dir)
    placements = []
    progress.update(current=0, total=len(plan.images), message=gettext("Checking the files"))
    with ThreadPoolExecutor(max_workers=INSPECT_WORKERS) as pool:
        # Hashing dominates a migration; hashlib and file reads release the GIL, so files are
        # checked in parallel, their results taken in plan order.
        inspected = pool.map(_inspect_one, [item.source for item in plan.images])
        for n, (item, facts) in enumerate(zip(plan.images, inspected, strict=True), start=1):
            if isinstance(facts, NotAnImage):
                report.add_failure(item.ref, str(item.source), str(facts))
                continue
            placements.append(_placement(item, facts, images_dir, move_files))
            if n % 50 == 0:
                progress.update(current=n)
    return placements


def _inspect_one(path: Path | None) -> FileFacts | NotAnImage:
    assert path is not None
    try:
        return inspect_file(path)
    except NotAnImage as exc:
        return exc


def _placement(item: ImagePlan, facts: FileFacts, images_dir: str, move_files: bool) -> Placement:
    """The file's move into the layout, with the row it gets there."""
    assert item.source is not None
    inside = fileio.real_path(item.source).startswith(images_dir + os.sep)
    row = {
        "id": item.image_id,
        **item.fields,
        "created_at": item.fields["created_at"] or utcnow(),
        "updated_at": item.fields["updated_at"] or utcnow(),
        "size_bytes": facts.size,
        "sha256": facts.sha256,
        "width": facts.width,
        "height": facts.height,
        "format": facts.format,
    }
    # The earlier app's date was given by a person; without one, the photo's own date.
    if row.get("taken_date") is None and facts.exif_date is not None:
        row["taken_date"], row["taken_source"] = facts.exif_date, TAKEN_EXIF
    else:
        row["taken_source"] = TAKEN_SET if row.get("taken_date") is not None else TAKEN_UPLOAD
    return Placement(
        source=item.source,
        folder=image_folder(item.patient_id, item.tooth, item.image_type),
        name=Path(item.source.name).stem,
        extension=facts.extension,
        sha256=facts.sha256,
        size=facts.size,
        image_id=item.image_id,
        ref=item.ref,
        row=row,
        legacy_key=item.key,
        retire_source=move_files or inside,
    )


def _carry_out(
    runtime: Runtime,
    source: LegacySource,
    plan: ImportPlan,
    placements: list[Placement],
    report: ImportReport,
    progress: Progress,
) -> None:
    retiring = [p for p in placements if p.retire_source]
    if retiring:
        items = [
            SafetyItem(p.source, _root_of(p.source, source), p.sha256, p.size) for p in retiring
        ]
        progress.update(message=gettext("Backing up the database and the files to move"))
        backup = make_safety_backup(runtime.settings, runtime.engine, items, [source.database])
        report.backup = str(backup)
    copying = [(p.source, p.size) for p in placements]
    check_free_space(
        runtime.settings.images_dir,
        bytes_to_copy(copying, runtime.settings.images_dir),
        gettext("the imported images"),
    )
    _write_records(runtime, plan)
    emptied = _place_files(runtime, placements, report, progress)
    if retiring:
        stops = [runtime.settings.images_dir, *source.roots]
        removed = cleanup.remove_emptied(emptied, stops)
        if removed:
            log.info("%d emptied legacy folders removed", removed)


def _root_of(path: Path, source: LegacySource) -> Path:
    for root in source.roots:
        if path.is_relative_to(root):
            return root
    return path.parent


def _write_records(runtime: Runtime, plan: ImportPlan) -> None:
    """Patients and their treatments, one transaction per patient (with the links that make
    a second import skip them)."""
    treatments = defaultdict(list)
    for treatment in plan.treatments:
        treatments[treatment.patient_id].append(treatment)
    patients = {p.patient_id: p for p in plan.patients}
    for patient_id in [*patients, *(pid for pid in treatments if pid not in patients)]:
        with runtime.sessions() as session:
            planned = patients.get(patient_id)
            if planned is not None:
                if planned.create:
                    session.add(Patient(id=patient_id, **planned.fields))
                session.add(LegacyLink(key=planned.key, kind="patient", target_id=patient_id))
            for t in treatments.get(patient_id, ()):
                session.add(
                    Treatment(id=t.treatment_id, patient_id=patient_id, tooth=t.tooth, **t.fields)
                )
                session.add(LegacyLink(key=t.key, kind="treatment", target_id=t.treatment_id))
            session.commit()


def _place_files(
    runtime: Runtime, placements: list[Placement], report: ImportReport, progress: Progress
) -> set[Path]:
    """Move or copy the files in batches; returns the folders originals were retired from."""
    mover = Mover(runtime.sessions, runtime.store, report.operation)
    total_bytes = sum(p.size for p in placements)
    progress.update(
        current=0,
        total=len(placements),
        bytes_done=0,
        bytes_total=total_bytes,
        message=gettext("Bringing the images in"),
    )
    for start in range(0, len(placements), BATCH):
        for outcome in mover.place(placements[start : start + BATCH]):
            item = outcome.placement
            if outcome.error:
                report.add_failure(item.ref, str(item.source), outcome.error, retryable=True)
                log.warning(
                    "%s: %s not brought in: %s", report.operation, item.source, outcome.error
                )
            else:
                report.imported += 1
        done = min(start + BATCH, len(placements))
        log.info("%s: %d of %d files done", report.operation, done, len(placements))
        progress.update(
            current=done,
            bytes_done=sum(p.size for p in placements[:done]),
            message=gettext(
                "Bringing the images in: {done} of {placements_count}",
                done=done,
                placements_count=len(placements),
            ),
        )
    return mover.emptied
