"""`dental-images restore-patient BACKUP --patient ID|SERIAL [--yes]`: restore one patient
from a backup (ours or the earlier app's) into the current data, after a preview and a
confirmation, with the exit codes of backend.exit_codes (OK, FAILED, BUSY, CANCELLED)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from backend import console
from backend import exit_codes as codes
from backend.backup import patient_restore, patient_restore_plan, patient_source
from backend.backup.commands import add_passphrase_argument, restore_inputs, run_job
from backend.errors import AppError
from backend.i18n import gettext
from backend.legacy.notation import add_reading_arguments
from backend.runtime import Runtime

NAME = "restore-patient"


def add_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add `restore-patient` to the `dental-images` parser."""
    parser = commands.add_parser(
        NAME,
        parents=[common],
        help=gettext(
            "restore one patient from a backup, leaving every other patient as it is (a safety "
            "backup of the current database first)"
        ),
    )
    parser.add_argument("file")
    parser.add_argument(
        "--patient",
        required=True,
        help=gettext("the patient's id or serial number in the backup"),
    )
    parser.add_argument("--yes", action="store_true", help=gettext("do not ask for confirmation"))
    add_reading_arguments(parser, gettext("a backup of the earlier app"))
    add_passphrase_argument(parser)


def run(runtime: Runtime, args: argparse.Namespace) -> int:
    """Open the backup, find the patient, show the preview, ask, restore."""
    given = restore_inputs(args)
    if given is None:
        return codes.FAILED
    path, reading, secret = given
    code, job = run_job(
        runtime,
        "restore-patient-open",
        lambda p: patient_source.open_backup(runtime.settings, path, p, reading, secret),
        exclusive=False,
    )
    if job is None:
        return code
    opened = job.result
    try:
        return _restore(runtime, opened, args)
    finally:
        patient_source.close_backup(opened.token)


def _restore(runtime: Runtime, opened: Any, args: argparse.Namespace) -> int:
    try:
        patient_id = patient_restore_plan.find_patient(opened, args.patient)
    except AppError as exc:
        print(gettext("Not restored: {message}", message=exc.message), file=sys.stderr)
        return codes.FAILED
    code, job = run_job(
        runtime,
        "restore-patient-check",
        lambda p: patient_restore_plan.preview_patient(runtime, opened, patient_id, p),
        exclusive=False,
    )
    if job is None:
        return code
    preview = job.result
    patient = preview["patient"]
    print(
        gettext(
            "Patient {name} (serial number {serial}) from {backup}:",
            name=patient["full_name"],
            serial=patient["serial_number"],
            backup=opened.summary()["name"],
        )
    )
    for place in preview["comes_back"]["by_place"]:
        print(
            gettext(
                "  tooth {tooth}, {image_type}: {count}",
                tooth=place["tooth"],
                image_type=place["image_type"],
                count=place["count"],
            )
        )
    for line in preview["lines"]:
        print(f"  * {line}")
    for warning in preview["warnings"]:
        print(gettext("Note: {warning}", warning=warning))
    if preview["problems"]:
        for problem in preview["problems"]:
            print(f"  - {problem}", file=sys.stderr)
        print(gettext("Not restored. Nothing was changed."), file=sys.stderr)
        return codes.FAILED
    if not args.yes and not _confirmed():
        print(gettext("Not restored: not confirmed. Nothing was changed."), file=sys.stderr)
        return codes.CANCELLED
    code, job = run_job(
        runtime,
        NAME,
        lambda p: patient_restore.restore_patient(runtime, opened, patient_id, p),
    )
    if job is not None:
        result = job.result
        print(
            gettext(
                "Restored {name}: {treatments} treatments, {images} images ({files} files "
                "copied in). The previous database is in the safety backup {safety_backup}.",
                name=result["patient"]["full_name"],
                treatments=result["treatments"],
                images=result["images"],
                files=result["files_copied"],
                safety_backup=result["safety_backup"],
            )
        )
    return code


def _confirmed() -> bool:
    answer = console.ask(gettext("Restore this patient from the backup? Type yes: "))
    if answer is None:
        print(gettext("Add --yes to restore without a question."), file=sys.stderr)
        return False
    return answer == "yes"
