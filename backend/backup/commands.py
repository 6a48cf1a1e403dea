"""The backup commands of `dental-images`: backup, verify, check and restore, with the exit
codes of backend.exit_codes (OK, FAILED, PROBLEMS for verify and check, BUSY, CANCELLED)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from backend import console
from backend import exit_codes as codes
from backend.backup import backup_set, passphrase, restore
from backend.backup.encrypted_zip import file_is_encrypted
from backend.backup.service import run_backup
from backend.backup.verify import verify_archive
from backend.db import session_scope
from backend.errors import AppError, Conflict
from backend.fileio import human_size
from backend.i18n import gettext, ngettext
from backend.job_follower import follow
from backend.jobs import CANCELLED, FAILED, Job, Progress
from backend.legacy.notation import add_reading_arguments, reading_from_args
from backend.runtime import Runtime
from backend.usecases.check import check_store

NAMES = ("backup", "verify", "check", "restore")


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the backup sub-commands to the `dental-images` parser."""
    backup = commands.add_parser(
        "backup",
        parents=[common],
        help=gettext("make a verified backup (database and images) in one zip"),
    )
    backup.add_argument(
        "--dest",
        help=gettext(
            "folder to write it to (default: the remembered folder, else backups/ in the data "
            "folder)"
        ),
    )
    backup.add_argument("--no-images", action="store_true", help=gettext("the database only"))
    backup.add_argument(
        "--set",
        action="store_true",
        help=gettext(
            "add the backup to the folder's incremental backup set (only new files are copied) "
            "instead of writing a zip"
        ),
    )
    add_passphrase_argument(backup)
    verify = commands.add_parser(
        "verify",
        parents=[common],
        help=gettext("check a backup file completely and say what is wrong"),
    )
    verify.add_argument("file", help=gettext("a backup file, a backup set, or one backup of a set"))
    add_passphrase_argument(verify)
    check = commands.add_parser(
        "check",
        parents=[common],
        help=gettext("check every image against its file and the image folder for unknown files"),
    )
    check.add_argument(
        "--repair", action="store_true", help=gettext("re-link images whose file is found by name")
    )
    restore_parser = commands.add_parser(
        "restore",
        parents=[common],
        help=gettext(
            "replace the data with a backup's (a safety backup of the current data first)"
        ),
    )
    restore_parser.add_argument("file")
    restore_parser.add_argument(
        "--yes", action="store_true", help=gettext("do not ask for confirmation")
    )
    add_reading_arguments(restore_parser, gettext("a backup of the earlier app"))
    add_passphrase_argument(restore_parser)


def add_passphrase_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--passphrase",
        help=gettext(
            "the backup passphrase (else {env}, else asked at the console; other users of this "
            "computer may see a command line's arguments)",
            env=passphrase.PASSPHRASE_ENV,
        ),
    )


def _given_passphrase(args: argparse.Namespace) -> str | None:
    given: str | None = args.passphrase or passphrase.from_environment()
    return given


def _ask_passphrase(missing: str) -> str | None:
    """The passphrase typed at the console, or None after printing `missing` when no one
    typed one."""
    typed = console.ask_secret(gettext("Backup passphrase: "))
    if typed is None:
        print(missing, file=sys.stderr)
    return typed


def archive_passphrase(args: argparse.Namespace, path: Path) -> tuple[str | None, bool]:
    """The passphrase for the archive at `path`: given, or asked at the console when the
    archive is encrypted. (passphrase, False) when an encrypted archive got none."""
    given = _given_passphrase(args)
    if given or not _is_encrypted(path):
        return given, True
    typed = _ask_passphrase(
        gettext(
            "This backup is encrypted: give its passphrase with --passphrase or {env}.",
            env=passphrase.PASSPHRASE_ENV,
        )
    )
    return typed, typed is not None


class RestoreInputs(NamedTuple):
    """What a restore command was given: the backup, how to read an earlier-app backup's
    teeth, and its passphrase."""

    path: Path
    reading: dict[str, Any]
    passphrase: str | None


def restore_inputs(args: argparse.Namespace) -> RestoreInputs | None:
    """The backup, reading and passphrase of a restore command, or None after printing why
    they are not usable."""
    try:
        path = restore.archive_path(args.file)
        reading = reading_from_args(args)
    except AppError as exc:
        print(gettext("Not restored: {message}", message=exc.message), file=sys.stderr)
        return None
    secret, usable = archive_passphrase(args, path)
    return RestoreInputs(path, reading, secret) if usable else None


def _is_encrypted(path: Path) -> bool:
    """Whether the backup at `path` (a zip, a set or a backup of one) is encrypted."""
    if path.is_file():
        return file_is_encrypted(path)
    path = backup_set.normalized(path)
    set_dir = path if backup_set.is_set_dir(path) else backup_set.set_of_backup(path)
    return set_dir is not None and backup_set.is_encrypted(set_dir)


def _backup_passphrase(runtime: Runtime, args: argparse.Namespace) -> tuple[str | None, bool]:
    """The passphrase a new backup is encrypted with, when backups are: given, kept in this
    PC's credential store, or asked at the console."""
    given = _given_passphrase(args)
    with session_scope(runtime.sessions) as session:
        try:
            return passphrase.for_backup(session, given), True
        except passphrase.PassphraseNeeded:
            pass
        except AppError as exc:
            print(gettext("Not started: {message}", message=exc.message), file=sys.stderr)
            return None, False
        typed = _ask_passphrase(
            gettext(
                "Backups are encrypted: give the passphrase with --passphrase or {env}.",
                env=passphrase.PASSPHRASE_ENV,
            )
        )
        if typed is None:
            return None, False
        try:
            return passphrase.for_backup(session, typed), True
        except AppError as exc:
            print(gettext("Not started: {message}", message=exc.message), file=sys.stderr)
            return None, False


def run(runtime: Runtime, args: argparse.Namespace) -> int:
    """Run the backup command named in `args`; returns the exit code."""
    commands: dict[str, Callable[[Runtime, argparse.Namespace], int]] = {
        "backup": _backup,
        "verify": _verify,
        "check": _check,
        "restore": _restore,
    }
    return commands[args.command](runtime, args)


def _backup(runtime: Runtime, args: argparse.Namespace) -> int:
    folder = str(Path(args.dest).expanduser().resolve()) if args.dest else None
    secret, usable = _backup_passphrase(runtime, args)
    if not usable:
        return codes.FAILED
    code, job = run_job(
        runtime,
        "backup",
        lambda p: run_backup(
            runtime,
            p,
            folder=folder,
            include_images=not args.no_images,
            kind="set" if args.set else "zip",
            secret=secret,
        ),
    )
    if job is not None:
        result = job.result
        counts = result["backup"]["counts"]
        print(
            gettext(
                "Backup written and verified: {path} ({size_bytes}; {patients} patients, {images} "
                "images, {files} files).",
                path=result["path"],
                size_bytes=human_size(result["size_bytes"]),
                patients=counts["patients"],
                images=counts["images"],
                files=counts["files"],
            )
        )
        if result.get("kind") == "set-backup":
            print(
                ngettext(
                    "It added {n} new file ({size}) to the set {set}.",
                    "It added {n} new files ({size}) to the set {set}.",
                    result["added_files"],
                    size=human_size(result["size_bytes"]),
                    set=result["set"],
                )
            )
        for warning in result["warnings"]:
            print(gettext("Note: {warning}", warning=warning))
    return code


def _verify(runtime: Runtime, args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser()
    secret, usable = archive_passphrase(args, path)
    if not usable:
        return codes.FAILED
    code, job = run_job(
        runtime,
        "verify",
        lambda p: verify_archive(
            path, progress=p, work_dir=runtime.settings.backups_dir, passphrase=secret
        ),
        exclusive=False,
    )
    if job is None:
        return code
    report = job.result
    for backup in report.as_dict().get("backups", []):
        print(
            gettext("  {name}: whole", name=backup["name"])
            if backup["ok"]
            else gettext("  {name}: DAMAGED", name=backup["name"])
        )
    if report.ok:
        _describe(report.as_dict())
        print(gettext("OK: {path} is complete and every entry matches its checksum.", path=path))
    else:
        print(gettext("PROBLEMS in {path}:", path=path))
        for problem in report.problems:
            print(f"  - {problem}")
    for warning in report.warnings:
        print(gettext("Note: {warning}", warning=warning))
    return codes.OK if report.ok else codes.PROBLEMS


def _check(runtime: Runtime, args: argparse.Namespace) -> int:
    def work(progress: Progress) -> Any:
        with session_scope(runtime.sessions) as session:
            return check_store(session, runtime.store, repair=args.repair, progress=progress)

    code, job = run_job(runtime, "check", work)
    if job is None:
        return code
    report = job.result
    print(
        gettext(
            "Checked {rows} image records and {files} files.", rows=report.rows, files=report.files
        )
    )
    if report.repaired:
        print(
            ngettext(
                "Repaired: {n} image re-linked to a file found by name.",
                "Repaired: {n} images re-linked to a file found by name.",
                len(report.repaired),
            )
        )
    if report.removed_duplicates:
        print(
            ngettext(
                "Repaired: {n} second copy left by an interrupted move to or from the trash "
                "removed.",
                "Repaired: {n} second copies left by interrupted moves to or from the trash "
                "removed.",
                len(report.removed_duplicates),
            )
        )
    if report.trash_rows:
        print(
            ngettext(
                "{n} image record is in the trash (restorable in Settings → Trash).",
                "{n} image records are in the trash (restorable in Settings → Trash).",
                report.trash_rows,
            )
        )
    if report.legacy_files:
        print(
            ngettext(
                "{n} file lies in the earlier app's layout (left for migration).",
                "{n} files lie in the earlier app's layout (left for migration).",
                report.legacy_files,
            )
        )
    for problem in report.problems():
        print(f"  - {problem}")
    print(
        gettext("OK: the store is in order.")
        if report.ok
        else gettext("PROBLEMS found (see above).")
    )
    return codes.OK if report.ok else codes.PROBLEMS


def _restore(runtime: Runtime, args: argparse.Namespace) -> int:
    given = restore_inputs(args)
    if given is None:
        return codes.FAILED
    path, reading, secret = given
    code, job = run_job(
        runtime,
        "restore-check",
        lambda p: restore.preview_restore(runtime, path, p, reading, passphrase=secret),
        False,
    )
    if job is None:
        return code
    _describe(job.result)
    for line in job.result["replaces"]:
        print(f"  * {line}")
    if not args.yes and not _confirmed():
        print(gettext("Not restored: not confirmed. Nothing was changed."), file=sys.stderr)
        return codes.CANCELLED
    code, job = run_job(
        runtime,
        "restore",
        lambda p: restore.restore_backup(
            runtime, path, progress=p, reading=reading, passphrase=secret
        ),
    )
    if job is not None:
        print(
            gettext(
                "Restored. The previous data is in the safety backup {safety_backup}.",
                safety_backup=job.result["safety_backup"],
            )
        )
        for warning in job.result["warnings"]:
            print(gettext("Note: {warning}", warning=warning))
    return code


def _confirmed() -> bool:
    """Whether the person at the console typed yes. No one to answer (not a console, or the
    input ended, as NUL gives on Windows) is asked for --yes."""
    answer = console.ask(gettext("Replace the current data with this backup? Type yes: "))
    if answer is None:
        print(gettext("Add --yes to restore without a question."), file=sys.stderr)
        return False
    return answer == "yes"


def _describe(summary: dict[str, Any]) -> None:
    backup = summary.get("backup")
    if backup:
        counts = backup["counts"]
        text = gettext(
            "Backup of {created_at} from {machine} (version {version}): {patients} patients, "
            "{treatments} treatments, {images} images, {files} files",
            created_at=backup["created_at"],
            machine=backup["source_machine"],
            version=backup["app_version"],
            patients=counts["patients"],
            treatments=counts["treatments"],
            images=counts["images"],
            files=counts["files"],
        )
        print(text + ("" if backup["includes_images"] else gettext(" (database only)")) + ".")
    elif summary.get("legacy"):
        legacy = summary["legacy"]
        print(
            gettext(
                "Backup of the earlier app: {patients} patients, {image_rows} image records; "
                "tooth numbering {notation}.",
                patients=legacy["patients"],
                image_rows=legacy["image_rows"],
                notation=legacy["notation"]["detected"] or gettext("undecided"),
            )
        )


def run_job(
    runtime: Runtime, kind: str, work: Callable[[Progress], Any], exclusive: bool = True
) -> tuple[int, Job | None]:
    """Run `work` as a job, reporting progress on stderr; Ctrl+C cancels it. Returns the exit
    code and the job when it finished."""
    try:
        job = runtime.jobs.start(kind, work, exclusive=exclusive)
    except Conflict as exc:
        print(gettext("Not started: {message}", message=exc.message), file=sys.stderr)
        return codes.BUSY, None
    job = follow(runtime.jobs, job)
    if job.state == CANCELLED:
        print(gettext("Cancelled. Nothing was changed."), file=sys.stderr)
        return codes.CANCELLED, None
    if job.state == FAILED:
        assert job.error is not None
        print(gettext("Failed: {message}", message=job.error["message"]), file=sys.stderr)
        for problem in job.error.get("problems", [])[1:]:
            print(f"  - {problem}", file=sys.stderr)
        return codes.FAILED, None
    return codes.OK, job
