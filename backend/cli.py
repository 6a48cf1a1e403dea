"""The `dental-images` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from backend import __version__
from backend.config import load_settings
from backend.logging_setup import setup_logging
from backend.runtime import open_runtime

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        default=argparse.SUPPRESS,
        help="folder holding the database, images, thumbnails, backups and logs "
        "(default: $DENTAL_IMAGES_HOME, else the per-user app-data folder)",
    )
    parser = argparse.ArgumentParser(
        prog="dental-images",
        description="Dental Images: patients' photos and x-rays, tooth by tooth. "
        "Without a command it opens the program's window.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"dental-images {__version__}")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve", parents=[common], help="run without a window and print the address to open"
    )
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings(getattr(args, "data_dir", None))
    settings.ensure_folders()
    setup_logging(settings.logs_dir)
    log.info("dental-images %s starting; data folder %s", __version__, settings.data_dir)
    runtime = open_runtime(settings)
    try:
        if args.command == "serve":
            from backend.desktop import serve_headless

            return serve_headless(runtime, args.port)
        from backend.desktop import run_window

        return run_window(runtime)
    finally:
        runtime.close()


if __name__ == "__main__":
    sys.exit(main())
