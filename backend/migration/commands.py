"""`dental-images import-legacy SOURCE` and `dental-images migrate`, with the exit codes of
backend.exit_codes: OK everything came across; PROBLEMS the source lacked some files, or held
files no record names (everything else came across; the report lists them); PARTIAL something
failed (listed; a new run retries it); FAILED nothing was done (unreadable source, numbering not
decided); BUSY another whole-store job is running; CANCELLED not confirmed, or Ctrl+C."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from backend import console
from backend import exit_codes as codes
from backend.errors import AppError, Conflict
from backend.i18n import gettext, ngettext
from backend.job_follower import follow
from backend.jobs import CANCELLED, DONE, FAILED, Job
from backend.legacy.notation import IMPORT_NOTATIONS, add_reading_arguments, reading_from_args
from backend.legacy.source import import_roots
from backend.migration.importer import open_source, preview
from backend.migration.runner import start_import, start_migration
from backend.moving import report
from backend.runtime import Runtime

COMMANDS = ("import-legacy", "migrate")
LISTED = 20


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the two sub-commands to the `dental-images` parser."""
    epilog = codes.describe(
        codes.OK, codes.FAILED, codes.PROBLEMS, codes.BUSY, codes.CANCELLED, codes.PARTIAL
    )
    imported = commands.add_parser(
        "import-legacy",
        parents=[common],
        help=gettext("import the earlier app's data (its dental_clinic.db and image folders)"),
        epilog=epilog,
    )
    imported.add_argument(
        "source", help=gettext("the earlier app's data folder, or its dental_clinic.db")
    )
    add_reading_arguments(imported, gettext("its database"))
    imported.add_argument(
        "--images-from",
        action="append",
        default=[],
        metavar="FOLDER",
        help=gettext(
            "another folder the earlier app kept images in (its program folder, which holds "
            "dental_images/ or public/upload/); repeatable. On Windows the folder its installer "
            "recorded, and its default under Program Files, are looked in as well"
        ),
    )
    imported.add_argument(
        "--dry-run", action="store_true", help=gettext("report only; change nothing")
    )
    imported.add_argument(
        "--yes", action="store_true", help=gettext("confirm the preview without asking")
    )
    imported.add_argument(
        "--report", help=gettext("also write the report to this file (.json or .csv)")
    )
    migrate = commands.add_parser(
        "migrate",
        parents=[common],
        help=gettext("move legacy images found in this installation into the layout now"),
        epilog=epilog,
    )
    migrate.add_argument(
        "--dry-run", action="store_true", help=gettext("report only; change nothing")
    )
    migrate.add_argument(
        "--notation",
        choices=IMPORT_NOTATIONS,
        help=gettext("tooth notation of a legacy database found here, when it cannot be detected"),
    )
    migrate.add_argument(
        "--report", help=gettext("also write the report to this file (.json or .csv)")
    )


def run_command(runtime: Runtime, args: argparse.Namespace) -> int:
    """Run `import-legacy` or `migrate`; returns the exit code."""
    try:
        if args.command == "migrate":
            started: Job | int = start_migration(
                runtime, dry_run=args.dry_run, notation=args.notation
            )
        else:
            started = _start_import(runtime, args)
    except Conflict as exc:
        print(gettext("Nothing was done: {message}", message=exc.message), file=sys.stderr)
        return codes.BUSY
    except AppError as exc:
        print(gettext("Nothing was done: {message}", message=exc.message), file=sys.stderr)
        return codes.FAILED
    if isinstance(started, int):
        return started
    return _follow(runtime, started, args.report)


def _start_import(runtime: Runtime, args: argparse.Namespace) -> Job | int:
    """The import job, once the person has seen the preview and confirmed it; else the exit
    code of why it did not start."""
    source = open_source(args.source, import_roots(args.images_from, runtime.settings.legacy_roots))
    reading = reading_from_args(args)
    tables = reading["tables"]
    shown = preview(source, runtime, **reading)
    print(gettext("Earlier app's data: {database}", database=source.database))
    print(
        gettext(
            "  image folders: {folders}",
            folders=", ".join(str(r) for r in source.roots) or gettext("none found"),
        )
    )
    print(
        gettext(
            "  patients: {patients} ({patients_new} new); treatments: {treatments}; image records: "
            "{image_rows} ({images_found} files found, {images_missing} missing, "
            "{images_already_imported} imported before); patient images (no tooth): "
            "{patient_images} ({patient_images_found} files found)",
            patients=shown.patients,
            patients_new=shown.patients_new,
            treatments=sum(shown.treatments.values()),
            image_rows=shown.image_rows,
            images_found=shown.images_found,
            images_missing=shown.images_missing,
            images_already_imported=shown.images_already_imported,
            patient_images=shown.patient_images,
            patient_images_found=shown.patient_images_found,
        )
    )
    if shown.files_kept_as_patient_images or shown.unreferenced_files:
        print(
            gettext(
                "  files no record names: {files_kept_as_patient_images} in a patient's folder "
                "(kept as patient-level images), {unreferenced_files} listed",
                files_kept_as_patient_images=shown.files_kept_as_patient_images,
                unreferenced_files=shown.unreferenced_files,
            )
        )
    for generation, entry in shown.generations.items():
        evidence = entry["notation"]
        detected = evidence["detected"] or gettext("undecided")
        certain = gettext("certain") if evidence["certain"] else gettext("unsure")
        used = gettext("; read as {notation}", notation=entry["used"]) if entry["used"] else ""
        print(
            gettext(
                "  {generation} ({rows} treatment and image rows): tooth notation detected: "
                "{detected} ({certain}){used}",
                generation=generation,
                rows=entry["rows"],
                detected=detected,
                certain=certain,
                used=used,
            )
        )
        for line in evidence["evidence"]:
            print(f"    - {line}")
        if "layout" in entry:
            print(f"    {_layout_line(entry['layout'])}")
    for warning in shown.warnings:
        print(gettext("  Warning: {warning}", warning=warning))
    for conflict in shown.name_conflicts[:LISTED]:
        print(gettext("  Name and number disagree: {conflict}", conflict=conflict))
    for generation, entry in shown.generations.items():
        if entry["used"] is None and generation not in tables and not args.notation:
            # No one to answer (not a console, or the input ended) reads as in a script.
            answer = (
                None
                if args.yes
                else console.ask(
                    gettext(
                        "Read the tooth numbers of {generation} as [universal/fdi]? ",
                        generation=generation,
                    )
                )
            )
            if answer is None:
                print(
                    gettext(
                        "The notation of {generation} is not certain: run again with "
                        "--table-notation {generation}=universal or fdi (or --notation).",
                        generation=generation,
                    ),
                    file=sys.stderr,
                )
                return codes.FAILED
            if answer not in IMPORT_NOTATIONS:
                return codes.FAILED
            tables[generation] = answer
    if not (args.yes or args.dry_run):
        answer = console.ask(gettext("Import with the tooth readings shown? [yes/no] "))
        if answer is None:
            print(
                gettext("Not confirmed: add --yes to import without being asked."), file=sys.stderr
            )
            return codes.CANCELLED
        if answer not in ("yes", "y"):
            print(gettext("Nothing was imported."))
            return codes.CANCELLED
    return start_import(
        runtime,
        source,
        **reading,
        dry_run=args.dry_run,
    )


def _layout_line(layout: dict[str, Any]) -> str:
    used = layout.get("used") or layout["detected"]
    certain = "" if layout["certain"] else gettext(", unsure")
    if used == "mirrored":
        text = ngettext(
            "early chart layout: lower arch mirrored, {n} row affected",
            "early chart layout: lower arch mirrored, {n} rows affected",
            layout["affected"],
        )
    else:
        text = ngettext(
            "early chart layout: standard Universal ({n} lower-arch row)",
            "early chart layout: standard Universal ({n} lower-arch rows)",
            layout["affected"],
        )
    evidence = "; ".join(layout["evidence"])
    return f"{text}{certain}" + (f" ({evidence})" if evidence else "")


def _follow(runtime: Runtime, job: Job, report_file: str | None) -> int:
    """Follow the job until it ends, then print its report; return the exit code."""
    job = follow(runtime.jobs, job, stream=sys.stdout)
    if job.state == CANCELLED:
        print(gettext("Stopped: {reason}", reason=job.state), file=sys.stderr)
        return codes.CANCELLED
    if job.state != DONE:
        error = job.error or {}
        print(gettext("Stopped: {reason}", reason=error.get("message", job.state)), file=sys.stderr)
        # Typed errors stop a run before it writes; anything else may have stopped it midway.
        before_writing = job.state == FAILED and error.get("status", 500) < 500
        return codes.FAILED if before_writing else codes.PARTIAL
    result = job.result
    _print_report(result)
    if report_file:
        _write_report(Path(report_file), result)
    return int(result["exit_code"])


def _print_report(result: dict[str, Any]) -> None:
    print(result["summary"])
    if result.get("backup"):
        print(gettext("Backup taken before moving files: {backup}", backup=result["backup"]))
    listed = (
        (gettext("Missing"), gettext("missing"), result["missing_files"]),
        (gettext("Failed"), gettext("failed"), result["failures"]),
    )
    for title, lower, entries in listed:
        for entry in entries[:LISTED]:
            print(f"  {title}: {entry['what']} ({entry['path']}): {entry['reason']}")
        if len(entries) > LISTED:
            print(
                gettext(
                    "  ... and {more} more {kind} (see the report)",
                    more=len(entries) - LISTED,
                    kind=lower,
                )
            )
    for entry in result.get("name_conflicts", [])[:LISTED]:
        print(
            gettext(
                "  Name and number disagree: {what}: {reason}",
                what=entry["what"],
                reason=entry["reason"],
            )
        )
    for note in result["notes"]:
        print(gettext("  Note: {note}", note=note))


def _write_report(path: Path, result: dict[str, Any]) -> None:
    if path.suffix.lower() == ".csv":
        path.write_text(report.csv_of(result), encoding="utf-8")
    else:
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(gettext("Report written to {path}", path=path))
