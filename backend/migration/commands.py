"""`dental-images import-legacy SOURCE` and `dental-images migrate`, with exit codes scripts can
trust: 0 everything came across; 3 the source lacked some files (everything else came across;
the report lists them); 4 something failed (listed; a new run retries it); 1 nothing was done
(unreadable source, notation not decided, not confirmed, another whole-store job running)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from backend import console
from backend.errors import AppError
from backend.jobs import DONE, FAILED, Job
from backend.legacy.importer import open_source, preview
from backend.legacy.notation import IMPORT_NOTATIONS
from backend.migration import report as codes
from backend.migration.runner import start_import, start_migration
from backend.runtime import Runtime

COMMANDS = ("import-legacy", "migrate")
LISTED = 20


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the two sub-commands to the `dental-images` parser."""
    epilog = (
        "exit codes: 0 everything came across; 3 the source lacked some files (all else "
        "came across, the report lists them); 4 something failed (listed; run again to "
        "retry); 1 nothing was done"
    )
    imported = commands.add_parser(
        "import-legacy",
        parents=[common],
        help="import the earlier app's data (its dental_clinic.db and image folders)",
        epilog=epilog,
    )
    imported.add_argument("source", help="the earlier app's data folder, or its dental_clinic.db")
    imported.add_argument(
        "--notation",
        choices=IMPORT_NOTATIONS,
        help="how the earlier app numbered teeth (default: as detected, when certain)",
    )
    imported.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    imported.add_argument("--yes", action="store_true", help="confirm the preview without asking")
    imported.add_argument("--report", help="also write the report to this file (.json or .csv)")
    migrate = commands.add_parser(
        "migrate",
        parents=[common],
        help="move legacy images found in this installation into the layout now",
        epilog=epilog,
    )
    migrate.add_argument("--dry-run", action="store_true", help="report only; change nothing")
    migrate.add_argument(
        "--notation",
        choices=IMPORT_NOTATIONS,
        help="tooth notation of a legacy database found here, when it cannot be detected",
    )
    migrate.add_argument("--report", help="also write the report to this file (.json or .csv)")


def run_command(runtime: Runtime, args: argparse.Namespace) -> int:
    """Run `import-legacy` or `migrate`; returns the exit code."""
    try:
        if args.command == "migrate":
            job = start_migration(runtime, dry_run=args.dry_run, notation=args.notation)
        else:
            job = _start_import(runtime, args)
            if job is None:
                return codes.EXIT_ERROR
    except AppError as exc:
        print(f"Nothing was done: {exc.message}", file=sys.stderr)
        return codes.EXIT_ERROR
    return _follow(runtime, job, args.report)


def _start_import(runtime: Runtime, args: argparse.Namespace) -> Job | None:
    source = open_source(args.source)
    shown = preview(source, runtime, notation=args.notation)
    evidence = shown.notation
    print(f"Earlier app's data: {source.database}")
    print(f"  image folders: {', '.join(str(r) for r in source.roots) or 'none found'}")
    print(
        f"  patients: {shown.patients} ({shown.patients_new} new); treatments: "
        f"{sum(shown.treatments.values())}; image records: {shown.image_rows} "
        f"({shown.images_found} files found, {shown.images_missing} missing, "
        f"{shown.images_already_imported} imported before)"
    )
    detected = evidence.detected or "undecided"
    print(f"  tooth notation detected: {detected} ({'certain' if evidence.certain else 'unsure'})")
    for line in evidence.evidence:
        print(f"    - {line}")
    notation = args.notation or (evidence.detected if evidence.certain else None)
    if notation is None:
        # No one to answer (not a console, or the input ended) reads as in a script.
        answer = None if args.yes else console.ask("Read the tooth numbers as [universal/fdi]? ")
        if answer is None:
            print(
                "The notation is not certain: run again with --notation universal or fdi.",
                file=sys.stderr,
            )
            return None
        if answer not in IMPORT_NOTATIONS:
            return None
        notation = answer
    if not (args.yes or args.dry_run):
        answer = console.ask(f"Import with teeth read as {notation}? [yes/no] ")
        if answer is None:
            print("Not confirmed: add --yes to import without being asked.", file=sys.stderr)
            return None
        if answer not in ("yes", "y"):
            print("Nothing was imported.")
            return None
    return start_import(runtime, source, notation=notation, dry_run=args.dry_run)


def _follow(runtime: Runtime, job: Job, report_file: str | None) -> int:
    """Print the job's progress until it ends, then its report; return the exit code."""
    last = ""
    while True:
        job = runtime.jobs.get(job.id)
        progress = job.progress
        line = progress.message
        if progress.total:
            line += f" ({progress.current}/{progress.total})"
        if line and line != last:
            print(line, flush=True)
            last = line
        if job.state != "running":
            break
        time.sleep(0.5)
    if job.state != DONE:
        error = job.error or {}
        print(f"Stopped: {error.get('message', job.state)}", file=sys.stderr)
        # Typed errors stop a run before it writes; anything else may have stopped it midway.
        before_writing = job.state == FAILED and error.get("status", 500) < 500
        return codes.EXIT_ERROR if before_writing else codes.EXIT_FAILED
    result = job.result
    _print_report(result)
    if report_file:
        _write_report(Path(report_file), result)
    return int(result["exit_code"])


def _print_report(result: dict[str, Any]) -> None:
    print(result["summary"])
    if result.get("backup"):
        print(f"Backup taken before moving files: {result['backup']}")
    for title, entries in (("Missing", result["missing_files"]), ("Failed", result["failures"])):
        for entry in entries[:LISTED]:
            print(f"  {title}: {entry['what']} ({entry['path']}): {entry['reason']}")
        if len(entries) > LISTED:
            print(f"  ... and {len(entries) - LISTED} more {title.lower()} (see the report)")
    for note in result["notes"]:
        print(f"  Note: {note}")


def _write_report(path: Path, result: dict[str, Any]) -> None:
    if path.suffix.lower() == ".csv":
        path.write_text(codes.csv_of(result), encoding="utf-8")
    else:
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    print(f"Report written to {path}")
