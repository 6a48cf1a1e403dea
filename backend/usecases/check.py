"""Checking the live store: image rows whose file is missing, files no row knows, files whose
checksum differs from their row's, damage inside the database, and tooth links (an image's
other teeth) to a missing image, an invalid tooth or the image's own tooth. With repair, rows
whose file is found elsewhere by name (the usage guide's fallback) are re-linked; the rest is
reported.

The trash (backend.usecases.trash) is understood: its rows name their files under
`dental_images/.trash/`, and a trashed patient's folder there also holds the files no row knew
that went with them; neither is reported. What an interrupted move to or from the trash can
leave, a second name of a file whose row names the other one, is listed as `duplicates`, and
the repair removes it (after comparing checksums)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from backend.config import IMAGES_DIRNAME
from backend.errors import ImageMissing
from backend.fileio import file_sha256
from backend.i18n import gettext, ngettext
from backend.jobs import Progress, Reporter
from backend.models import Image, Patient
from backend.storage import ImageStore, UnsafePath, is_trash_path, live_folder, trash_folder
from backend.usecases.image_teeth import link_problems
from backend.usecases.inbox import inbox_dir
from backend.usecases.retrieval import locate_image

log = logging.getLogger(__name__)

LISTED = 200
BATCH = 500


@dataclass
class CheckReport:
    rows: int = 0
    files: int = 0
    missing: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    legacy_files: int = 0
    mismatched: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    database_problems: list[str] = field(default_factory=list)
    link_problems: list[str] = field(default_factory=list)  # see image_teeth.link_problems
    trash_rows: int = 0
    trash_files: int = 0
    trash_missing: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    removed_duplicates: list[str] = field(default_factory=list)
    repair: bool = False

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.orphans
            or self.mismatched
            or self.database_problems
            or self.link_problems
            or self.duplicates
        )

    def problems(self) -> list[str]:
        """What is wrong, one sentence each, for the person at the desk."""
        said = [*self.database_problems, *self.link_problems]
        if self.missing:
            said.append(
                ngettext(
                    "{n} image has no file (first: {first}).",
                    "{n} images have no file (first: {first}).",
                    len(self.missing),
                    first=", ".join(self.missing[:3]),
                )
            )
        if self.mismatched:
            said.append(
                ngettext(
                    "{n} image file differs from the checksum recorded when it was added: "
                    "damaged (first: {first}).",
                    "{n} image files differ from the checksum recorded when they were added: "
                    "damaged (first: {first}).",
                    len(self.mismatched),
                    first=", ".join(self.mismatched[:3]),
                )
            )
        if self.duplicates:
            said.append(
                ngettext(
                    "{n} file is a second copy of an image, left by an interrupted move to or "
                    "from the trash (first: {first}). Check and repair removes it.",
                    "{n} files are second copies of images, left by interrupted moves to or "
                    "from the trash (first: {first}). Check and repair removes them.",
                    len(self.duplicates),
                    first=", ".join(self.duplicates[:3]),
                )
            )
        if self.orphans:
            said.append(
                ngettext(
                    "{n} file in the image folder belongs to no image record (first: {first}). "
                    "It was left in place.",
                    "{n} files in the image folder belong to no image record (first: {first}). "
                    "They were left in place.",
                    len(self.orphans),
                    first=", ".join(self.orphans[:3]),
                )
            )
        return said

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "repair": self.repair,
            "rows": self.rows,
            "files": self.files,
            "missing": self.missing[:LISTED],
            "missing_count": len(self.missing),
            "orphans": self.orphans[:LISTED],
            "orphan_count": len(self.orphans),
            "legacy_files": self.legacy_files,
            "mismatched": self.mismatched[:LISTED],
            "mismatched_count": len(self.mismatched),
            "repaired": self.repaired[:LISTED],
            "repaired_count": len(self.repaired),
            "database_problems": self.database_problems,
            "link_problems": self.link_problems,
            "trash_rows": self.trash_rows,
            "trash_files": self.trash_files,
            "trash_missing": self.trash_missing[:LISTED],
            "duplicates": self.duplicates[:LISTED],
            "removed_duplicates": self.removed_duplicates[:LISTED],
            "problems": self.problems(),
        }


def check_store(
    session: Session,
    store: ImageStore,
    *,
    repair: bool = False,
    progress: Reporter | None = None,
) -> CheckReport:
    """Check every image row against its file (existence, size, checksum) and the image folder
    for files no row knows; with `repair`, re-link rows whose file is found elsewhere."""
    progress = progress or Progress()
    report = CheckReport(repair=repair)
    report.database_problems = _database_problems(session)
    report.link_problems = link_problems(session)
    total = session.scalar(select(func.count()).select_from(Image)) or 0
    progress.update(
        total=total, current=0, message=gettext("Checking every image against its file")
    )
    known: dict[str, str] = {}
    missing_ids: list[str] = []
    for image in session.scalars(
        select(Image).order_by(Image.id).execution_options(yield_per=BATCH)
    ):
        report.rows += 1
        known[image.relative_path] = image.sha256
        if image.deleted_at is not None:
            report.trash_rows += 1
        state = _file_state(store, image)
        if state == "missing":
            missing_ids.append(image.id)
        elif state == "mismatched":
            report.mismatched.append(image.relative_path)
        progress.advance(1, image.size_bytes)
    for image_id in missing_ids:
        lost = session.get(Image, image_id)
        assert lost is not None
        if repair and _relink(session, store, lost):
            report.repaired.append(lost.relative_path)
            known[lost.relative_path] = lost.sha256
        elif lost.deleted_at is not None:
            report.trash_missing.append(lost.relative_path)  # in the trash: shown nowhere
        else:
            report.missing.append(lost.relative_path)
    progress.update(message=gettext("Looking for files no image record knows"))
    trashed_patients = set(
        session.scalars(select(Patient.id).where(Patient.deleted_at.is_not(None)))
    )
    _walk(store, known, trashed_patients, report)
    log.info(
        "store check%s: %d rows, %d files, %d missing, %d orphans, %d mismatched, %d repaired",
        " and repair" if repair else "",
        report.rows,
        report.files,
        len(report.missing),
        len(report.orphans),
        len(report.mismatched),
        len(report.repaired),
    )
    return report


def _database_problems(session: Session) -> list[str]:
    if session.get_bind().dialect.name != "sqlite":
        return []
    result = [row[0] for row in session.execute(text("PRAGMA integrity_check"))]
    problems = (
        []
        if result == ["ok"]
        else [gettext("The database is damaged: {details}.", details="; ".join(result[:3]))]
    )
    broken = session.execute(text("PRAGMA foreign_key_check")).fetchall()
    if broken:
        problems.append(
            gettext(
                "The database has {broken_count} rows pointing at missing rows.",
                broken_count=len(broken),
            )
        )
    return problems


def _file_state(store: ImageStore, image: Image) -> str:
    try:
        path = store.path_of(image.relative_path)
        size = path.stat().st_size
    except (OSError, UnsafePath):
        return "missing"
    if size != image.size_bytes or (image.sha256 and file_sha256(path) != image.sha256):
        return "mismatched"
    return "ok"


def _relink(session: Session, store: ImageStore, image: Image) -> bool:
    try:
        locate_image(session, store, image)
    except ImageMissing:
        return False
    return True


def _walk(
    store: ImageStore, known: dict[str, str], trashed_patients: set[str], report: CheckReport
) -> None:
    inbox_folder = inbox_dir(store)
    for dirpath, _dirs, names in os.walk(store.images_dir):
        if Path(dirpath) == inbox_folder:
            continue  # received x-rays waiting to be assigned: the Inbox's, named by its rows
        for name in names:
            if name.startswith("."):
                continue  # files being written right now
            path = Path(dirpath) / name
            relative = (Path(IMAGES_DIRNAME) / path.relative_to(store.images_dir)).as_posix()
            in_trash = is_trash_path(relative)
            report.files += 1
            report.trash_files += in_trash
            if relative in known:
                continue
            if _is_duplicate(path, relative, known):
                if report.repair and store.remove(relative):
                    report.removed_duplicates.append(relative)
                else:
                    report.duplicates.append(relative)
            elif in_trash:
                if _patient_of(relative) not in trashed_patients:
                    report.orphans.append(relative)
            elif store.is_in_new_layout(path):
                report.orphans.append(relative)
            else:
                report.legacy_files += 1  # the earlier app's layout: the migration's business


def _patient_of(relative: str) -> str:
    """The patient id of a path in the trash (`dental_images/.trash/<id>/...`)."""
    parts = relative.split("/")
    return parts[2] if len(parts) > 2 else ""


def _is_duplicate(path: Path, relative: str, known: dict[str, str]) -> bool:
    """A file no row names whose mirror (trash <-> live, same name) is a row's file with the
    same checksum: the second name an interrupted move to or from the trash left."""
    folder, _, name = relative.rpartition("/")
    mirror_folder = live_folder(folder + "/") if is_trash_path(relative) else trash_folder(folder)
    if not mirror_folder.endswith("/"):
        mirror_folder += "/"
    checksum = known.get(mirror_folder + name)
    if not checksum:
        return False
    try:
        return file_sha256(path) == checksum
    except OSError:
        return False
