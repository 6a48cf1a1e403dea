"""The `dental-images` command."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from backend import __version__, console, i18n, private_files
from backend import exit_codes as codes
from backend.config import (
    HOME_ENV,
    default_data_dir,
    load_settings,
    move_password_to_keyring,
    pc_language,
    read_pc_preferences,
)
from backend.db import session_scope
from backend.errors import AppError, Conflict
from backend.i18n import gettext
from backend.logging_setup import setup_logging
from backend.runtime import Runtime
from backend.startup import open_runtime

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help=gettext(
            "folder holding the database, images, thumbnails, backups and logs (default: "
            "$DENTAL_IMAGES_HOME, else the per-user app-data folder)"
        ),
    )
    common.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help=gettext(
            "add sample patients, treatments and images first if the installation is empty"
        ),
    )
    parser = argparse.ArgumentParser(
        prog="dental-images",
        description=gettext(
            "Dental Images: patients' photos and x-rays, tooth by tooth. Without a command it "
            "opens the program's window."
        ),
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"dental-images {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve",
        parents=[common],
        help=gettext("run without a window and print the address to open"),
    )
    serve.add_argument(
        "--port", type=int, default=0, help=gettext("port on 127.0.0.1 (default: any free)")
    )
    move = commands.add_parser(
        "move-to-server",
        parents=[common],
        help=gettext(
            "copy this installation's records onto a PostgreSQL server and point this PC at it"
        ),
    )
    move.add_argument(
        "url", help=gettext("e.g. postgresql+psycopg://clinic:secret@server:5432/dental")
    )
    move.add_argument(
        "--images-root",
        help=gettext(
            "also copy the images (verified) to this shared folder and use it from now on"
        ),
    )
    from backend.migration.commands import add_parsers as add_migration_commands

    add_migration_commands(commands, common)
    from backend.backup.commands import add_commands as add_backup_commands

    add_backup_commands(commands, common)
    from backend.backup.patient_commands import add_command as add_patient_restore_command

    add_patient_restore_command(commands, common)
    return parser


def move_to_server_command(runtime: Runtime, url: str, images_root: str | None) -> int:
    """Exit OK when every record (and image) is on the server and this PC points at it;
    FAILED when nothing was switched (the message says why)."""
    from backend.jobs import Progress
    from backend.usecases.server_move import move_to_server

    try:
        report = move_to_server(
            runtime.settings,
            runtime.engine,
            url,
            Progress(),
            images_root=Path(images_root).expanduser().resolve() if images_root else None,
        )
    except AppError as exc:
        print(gettext("Not moved: {message}", message=exc.message), file=sys.stderr)
        return codes.FAILED
    rows = ", ".join(f"{count} {table}" for table, count in report["rows"].items())
    print(gettext("Moved to the server and verified: {rows}.", rows=rows))
    if "images" in report:
        images = report["images"]
        print(
            gettext(
                "Images: {copied} copied, {already_there} already there.",
                copied=images["copied"],
                already_there=images["already_there"],
            )
        )
    print(gettext("This PC now uses the server. Point the other PCs at it in Settings."))
    return codes.OK


def add_demo_data(runtime: Runtime) -> dict[str, int] | None:
    """Create the demo data and say what was made; on an installation that already has
    patients, say so and change nothing. Returns the counts, or None when nothing was added."""
    from backend.demo import create_demo_data

    try:
        with session_scope(runtime.sessions) as session:
            counts = create_demo_data(session, runtime.store)
    except Conflict:
        print(gettext("Demo data not added: this installation already has patients."), flush=True)
        return None
    print(
        gettext(
            "Demo data added: {patients} patients, {treatments} treatments, {images} images.",
            patients=counts["patients"],
            treatments=counts["treatments"],
            images=counts["images"],
        ),
        flush=True,
    )
    return counts


def choose_language(argv: Sequence[str] | None) -> str:
    """Set the language (and digits) of the command's texts (its help too, so before the parser
    is built):
    the one chosen on this PC in Settings (config.json of the data folder named by --data-dir,
    $DENTAL_IMAGES_HOME or the default), else the OS's. Returns it."""
    early = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    early.add_argument("--data-dir")
    try:
        named = early.parse_known_args(argv)[0].data_dir
    except argparse.ArgumentError:
        named = None  # the full parser says what is wrong with the command line
    chosen = named or os.environ.get(HOME_ENV) or default_data_dir()
    language = pc_language(Path(chosen).expanduser())
    i18n.set_process_locale(language)
    i18n.set_process_digits(read_pc_preferences(Path(chosen).expanduser())["digits"])
    return language


def _stacks_on_request() -> None:
    """`kill -USR1 <pid>` prints every thread's stack to stderr (for support), where the OS has
    the signal and stderr is a real file."""
    if not hasattr(signal, "SIGUSR1"):
        return
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (AttributeError, OSError, ValueError, RuntimeError):
        log.debug("no thread stacks on SIGUSR1: stderr is not a file")


def main(argv: Sequence[str] | None = None) -> int:
    console.configure_streams()  # a name the console cannot show must not fail the command
    _stacks_on_request()
    private_files.restrict_umask()  # first: everything this process creates is its own
    choose_language(argv)
    args = build_parser().parse_args(argv)
    chosen = getattr(args, "data_dir", None) or os.environ.get(HOME_ENV) or default_data_dir()
    settings = load_settings(chosen)
    settings.ensure_folders()
    setup_logging(settings.logs_dir)
    if move_password_to_keyring(settings.data_dir):
        settings = load_settings(chosen)
    log.info("dental-images %s starting; data folder %s", __version__, settings.data_dir)
    runtime = open_runtime(settings)
    try:
        if getattr(args, "demo", False):
            add_demo_data(runtime)
        if args.command == "move-to-server":
            return move_to_server_command(runtime, args.url, args.images_root)
        if args.command in ("import-legacy", "migrate"):
            from backend.migration.commands import run_command

            return run_command(runtime, args)
        if args.command in ("backup", "verify", "check", "restore"):
            from backend.backup import commands as backup_commands

            return backup_commands.run(runtime, args)
        if args.command == "restore-patient":
            from backend.backup import patient_commands

            return patient_commands.run(runtime, args)
        if args.command == "serve":
            from backend.desktop import serve_headless

            return serve_headless(runtime, args.port)
        from backend.desktop import run_window

        return run_window(runtime)
    finally:
        runtime.close()


if __name__ == "__main__":
    sys.exit(main())
