"""The migration: everything of the earlier app found at this installation's own places (its
database in the data folder or a legacy root, name-based folders in our image tree, the legacy
roots' images) is brought into the layout once, moved after a verified backup, and the outcome
recorded so that later starts do nothing. Runs as the "migration" job, at start when the check
finds work, or by hand (Settings, `dental-images migrate`)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend import app_state
from backend.config import IMAGES_DIRNAME
from backend.errors import Conflict, ValidationError
from backend.fileio import file_sha256
from backend.i18n import gettext
from backend.jobs import Job, Progress
from backend.legacy.database import read_database
from backend.legacy.notation import decide, detect_notation
from backend.legacy.paths import ROOT_CANDIDATES
from backend.legacy.source import LegacySource, locate_database, open_source
from backend.migration import state
from backend.migration.importer import import_legacy, outcome_level
from backend.models import Image
from backend.moving import cleanup
from backend.moving.mover import Mover, Placement, recover
from backend.moving.report import ImportReport
from backend.moving.safety import SafetyItem, make_safety_backup
from backend.runtime import Runtime

log = logging.getLogger(__name__)

JOB_KIND = "migration"
IMPORT_KIND = "import"


def legacy_sources(runtime: Runtime) -> list[LegacySource]:
    """The earlier app's databases at this installation's places: the data folder and each
    legacy root, each with every root as a place its paths may be relative to."""
    settings = runtime.settings
    folders = list(
        dict.fromkeys([settings.data_dir, settings.image_store_root, *settings.legacy_roots])
    )
    sources = []
    for folder in folders:
        if locate_database(folder) is not None:
            others = [f for f in folders if f != folder]
            sources.append(open_source(folder, extra_roots=others))
    return sources


def run_migration(
    runtime: Runtime,
    progress: Progress | None = None,
    *,
    dry_run: bool = False,
    notation: str | None = None,
) -> ImportReport:
    """Migrate what is found; record the outcome (complete only when nothing failed and no
    database waits for its notation to be chosen). Run inside the migration job."""
    settings = runtime.settings
    progress = progress or Progress()
    report = ImportReport(JOB_KIND, str(settings.data_dir), notation, dry_run)
    with progress.showing(report.counts):
        if not dry_run:
            recovered = recover(runtime.sessions, runtime.store)
            if recovered.finished or recovered.undone:
                report.notes.append(
                    gettext(
                        "Interrupted moves recovered: {finished} finished, {undone} undone (to be "
                        "redone).",
                        finished=recovered.finished,
                        undone=recovered.undone,
                    )
                )
        waiting = _migrate_sources(runtime, progress, report, dry_run, notation)
        _relocate(runtime, progress, report, dry_run)
    report.finish()
    if not dry_run:
        outcome = (
            state.NEEDS_NOTATION
            if waiting
            else state.INCOMPLETE
            if report.retryable
            else state.COMPLETE
        )
        with runtime.sessions() as session:
            state.record_state(session, settings, outcome, counts=report.counts(), waiting=waiting)
        log.log(outcome_level(report), "migration %s: %s", outcome, report.summary())
    save_report(runtime, report)
    return report


def _migrate_sources(
    runtime: Runtime,
    progress: Progress,
    report: ImportReport,
    dry_run: bool,
    notation: str | None,
) -> list[str]:
    """Import each legacy database found, moving its files. Returns the databases left
    waiting because their notation is not certain and none was given."""
    waiting = []
    for source in legacy_sources(runtime):
        database = read_database(source.database)
        try:
            decision = decide(database, notation, require_certain=True)
        except ValidationError as exc:
            waiting.append(str(source.database))
            report.notes.append(
                gettext(
                    "{database}: {message} Choose it in Settings or run `dental-images migrate "
                    "--notation universal|fdi`.",
                    database=source.database,
                    message=exc.message,
                )
            )
            log.warning("migration of %s waits for the notation to be chosen", source.database)
            continue
        chosen = decision.describe()
        evidence = detect_notation(database)
        report.notes.append(
            gettext(
                "{database}: teeth read as {chosen} ({evidence}).",
                database=source.database,
                chosen=chosen,
                evidence="; ".join(evidence.evidence),
            )
        )
        sub = import_legacy(
            runtime,
            source,
            notation=notation,
            tables=None if notation else dict(decision.notations),
            progress=progress,
            dry_run=dry_run,
            move_files=True,
            operation=JOB_KIND,
        )
        report.merge(sub)
        report.notation = chosen
        report.backup = sub.backup or report.backup
    return waiting


def _legacy_places(runtime: Runtime) -> list[Path]:
    """Name-based folders of our tree and the legacy roots' image folders."""
    settings = runtime.settings
    places = [settings.images_dir / name for name in state._name_based_folders(settings.images_dir)]
    for root in settings.legacy_roots:
        for suffix in ROOT_CANDIDATES:
            folder = root.joinpath(*suffix, IMAGES_DIRNAME)
            if folder.is_dir():
                places.append(folder)
    return places


def _relocate(runtime: Runtime, progress: Progress, report: ImportReport, dry_run: bool) -> None:
    """Our own rows whose file is missing at its place but lies in a legacy place (same name,
    same checksum): the file is moved back to its place."""
    files = []
    for place in _legacy_places(runtime):
        for dirpath, dirs, names in os.walk(place):
            dirs.sort()
            files += [Path(dirpath) / n for n in sorted(names) if not n.startswith(".")]
    if not files:
        return
    progress.update(current=0, total=len(files), message=gettext("Looking for misplaced images"))
    placements = []
    with runtime.sessions() as session:
        for path in files:
            rows = session.scalars(select(Image).where(Image.file_name == path.name)).all()
            wanted = [r for r in rows if not runtime.store.path_of(r.relative_path).is_file()]
            if not wanted:
                continue
            checksum = file_sha256(path)
            row = next(
                (r for r in sorted(wanted, key=lambda r: r.id) if r.sha256 == checksum), None
            )
            if row is None:
                continue
            stem, _, extension = row.file_name.rpartition(".")
            placements.append(
                Placement(
                    path,
                    row.folder_path,
                    stem,
                    extension,
                    checksum,
                    path.stat().st_size,
                    row.id,
                    f"image {row.id}",
                    retire_source=True,
                )
            )
    if dry_run or not placements:
        report.imported += len(placements)
        return
    items = [SafetyItem(p.source, p.source.parent, p.sha256, p.size) for p in placements]
    report.backup = str(make_safety_backup(runtime.settings, runtime.engine, items))
    mover = Mover(runtime.sessions, runtime.store, JOB_KIND)
    for outcome in mover.place(placements):
        if outcome.error:
            report.add_failure(
                outcome.placement.ref, str(outcome.placement.source), outcome.error, retryable=True
            )
        else:
            report.imported += 1
    settings = runtime.settings
    cleanup.remove_emptied(mover.emptied, [settings.images_dir, *settings.legacy_roots])
    log.info("%d misplaced images moved back to their place", len(placements))


def save_report(runtime: Runtime, report: ImportReport) -> None:
    """Keep the last report (import or migration) for the Settings page's download."""
    with runtime.sessions() as session:
        app_state.put_json(session, state.REPORT_KEY, report.as_dict())
        session.commit()


def last_report(runtime: Runtime) -> dict[str, Any] | None:
    with runtime.sessions() as session:
        return app_state.get_json(session, state.REPORT_KEY)


def start_migration(runtime: Runtime, *, dry_run: bool = False, notation: str | None = None) -> Job:
    """Start the migration job (whole-store: takes the lease)."""
    return runtime.jobs.start(
        JOB_KIND,
        lambda progress: run_migration(
            runtime, progress, dry_run=dry_run, notation=notation
        ).as_dict(),
    )


def start_import(
    runtime: Runtime,
    source: LegacySource,
    *,
    notation: str | None = None,
    tables: dict[str, str] | None = None,
    early_layout: str | None = None,
    dry_run: bool = False,
) -> Job:
    """Start the import job (whole-store: takes the lease); its result is the report. The
    notation arguments are import_legacy's."""

    def work(progress: Progress) -> dict[str, Any]:
        report = import_legacy(
            runtime,
            source,
            notation=notation,
            tables=tables,
            early_layout=early_layout,
            progress=progress,
            dry_run=dry_run,
        )
        save_report(runtime, report)
        return report.as_dict()

    return runtime.jobs.start(IMPORT_KIND, work)


def start_if_needed(runtime: Runtime) -> Job | None:
    """At start, after the server is up: run the migration when the start-up check found
    work. Another PC holding the store lease is logged, not an error."""
    check = runtime.migration_check
    if check is None or not check.needed:
        return None
    try:
        job = start_migration(runtime)
    except Conflict as exc:
        log.warning("migration not started now: %s", exc.message)
        return None
    log.info("migration started at start-up (job %s)", job.id)
    return job


def migration_status(runtime: Runtime) -> dict[str, Any]:
    """For the Settings page: the start-up check, the recorded state, the last report's
    counts (its lists are in the download)."""
    with runtime.sessions() as session:
        recorded = app_state.get_json(session, state.STATE_KEY) or {}
        report = app_state.get_json(session, state.REPORT_KEY)
    summary = None
    if report:
        summary = {
            key: report.get(key)
            for key in (
                "operation",
                "source",
                "notation",
                "dry_run",
                "finished_at",
                "imported",
                "skipped",
                "missing",
                "failed",
                "exit_code",
                "summary",
                "backup",
            )
        }
    check = runtime.migration_check
    return {
        "state": recorded.get("state"),
        "recorded_at": recorded.get("at"),
        "waiting": recorded.get("waiting", []),
        "check": check.as_dict() if check else None,
        "last_report": summary,
    }
