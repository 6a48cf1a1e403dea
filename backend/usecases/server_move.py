"""Several PCs: checking a database server, and moving this installation's data onto one (and,
if asked, its images onto a shared folder)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from backend.config import IMAGES_DIRNAME, Settings, write_machine_config
from backend.db import create_db_engine, schema_is_current, upgrade_schema
from backend.errors import Conflict, ValidationError
from backend.jobs import Progress
from backend.models import AppState, Image, Patient, Treatment
from backend.storage import file_sha256

log = logging.getLogger(__name__)

TABLES_IN_ORDER = (Patient.__table__, Treatment.__table__, Image.__table__, AppState.__table__)
BATCH = 1000


def check_server(db_url: str) -> dict[str, Any]:
    """Connect to `db_url` and say what is there: {"ok", "message", "server", "schema"}.
    Never raises for an unreachable or misconfigured server: the answer says what is wrong."""
    if not db_url or not db_url.startswith(("postgresql", "sqlite")):
        raise ValidationError(
            "The address must look like postgresql+psycopg://user:password@server:5432/dental.",
            field="db_url",
        )
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as connection:
            server = connection.execute(
                text("SELECT version()" if engine.dialect.name == "postgresql" else "SELECT 1")
            ).scalar()
        schema = "current" if schema_is_current(engine) else "needs upgrade or empty"
        return {"ok": True, "message": "Connected.", "server": str(server), "schema": schema}
    except SQLAlchemyError as exc:
        reason = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
        return {"ok": False, "message": f"Cannot connect: {reason}", "server": None, "schema": None}
    finally:
        engine.dispose()


def _count(engine: Engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def copy_rows(source: Engine, target: Engine, progress: Progress) -> dict[str, int]:
    """Copy every row of the data tables into the empty `target` in one transaction, then
    check the counts. Returns rows per table."""
    if _count(target, Patient.__table__) or _count(target, Image.__table__):
        raise Conflict(
            "The server's database already holds patients or images. Point this PC at it "
            "instead of moving data onto it, or use an empty database.",
            field="db_url",
        )
    counts = {table.name: _count(source, table) for table in TABLES_IN_ORDER}
    progress.update(total=sum(counts.values()), message="Copying records")
    with source.connect() as reading, target.begin() as writing:
        for table in TABLES_IN_ORDER:
            rows = reading.execute(select(table)).mappings()
            while batch := [dict(row) for row in rows.fetchmany(BATCH)]:
                writing.execute(insert(table), batch)
                progress.advance(len(batch))
    copied = {table.name: _count(target, table) for table in TABLES_IN_ORDER}
    if copied != counts:
        raise Conflict(f"The copy does not match: {counts} rows here, {copied} on the server.")
    return counts


def copy_images(source_root: Path, target_root: Path, progress: Progress) -> dict[str, int]:
    """Copy `dental_images/` from one root to another, each file verified by checksum before it
    gets its name; files already there with the same bytes are skipped, and a different file
    with the same name is never overwritten (reported as a conflict)."""
    source = source_root / IMAGES_DIRNAME
    files = [p for p in source.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    progress.update(
        total=len(files), bytes_total=sum(p.stat().st_size for p in files), message="Copying images"
    )
    copied = skipped = 0
    for path in files:
        destination = target_root / IMAGES_DIRNAME / path.relative_to(source)
        checksum = file_sha256(path)
        if destination.exists():
            if file_sha256(destination) != checksum:
                raise Conflict(f"{destination} exists with other content; nothing was overwritten.")
            skipped += 1
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            temp = destination.with_name(f".{destination.name}.part")
            shutil.copyfile(path, temp)
            if file_sha256(temp) != checksum:
                temp.unlink()
                raise Conflict(f"The copy of {path} did not verify; check the shared folder.")
            os.replace(temp, destination)
            copied += 1
        progress.advance(1, path.stat().st_size)
    return {"copied": copied, "already_there": skipped}


def move_to_server(
    settings: Settings,
    source: Engine,
    db_url: str,
    progress: Progress,
    *,
    images_root: Path | None = None,
) -> dict[str, Any]:
    """Copy this installation's rows onto the server at `db_url` (schema created there first),
    verify them, optionally copy the images to `images_root`, then point this PC at both."""
    check = check_server(db_url)
    if not check["ok"]:
        raise ValidationError(check["message"], field="db_url")
    target = create_db_engine(db_url)
    try:
        upgrade_schema(target)
        rows = copy_rows(source, target, progress)
    finally:
        target.dispose()
    report: dict[str, Any] = {"rows": rows}
    if images_root is not None:
        report["images"] = copy_images(settings.image_store_root, images_root, progress)
    write_machine_config(
        settings.data_dir,
        db_url=db_url,
        images_root=str(images_root) if images_root is not None else None,
    )
    log.info("moved to server %s: %s", check["server"], report)
    return report


def save_server_settings(settings: Settings, db_url: str, images_root: str) -> dict[str, Any]:
    """Point this PC at a database server and/or a shared images folder (empty = this PC's own),
    after checking that both can be used. Takes effect at the next start."""
    if db_url:
        answer = check_server(db_url)
        if not answer["ok"]:
            raise ValidationError(answer["message"], field="db_url")
    if images_root:
        folder = Path(images_root).expanduser()
        if not folder.is_dir():
            raise ValidationError(
                f"The folder {images_root} does not exist or cannot be reached from this PC.",
                field="images_root",
            )
        probe = folder / f".dental-images-write-test-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ValidationError(
                f"This PC cannot write to {images_root}: {exc.strerror}. Check the share's "
                "permissions.",
                field="images_root",
            ) from exc
    config = write_machine_config(
        settings.data_dir, db_url=db_url or None, images_root=images_root or None
    )
    log.info("server settings saved for this PC: %s", sorted(config))
    return {
        "saved": True,
        "message": "Saved. Restart the program on this PC to use these settings.",
    }
