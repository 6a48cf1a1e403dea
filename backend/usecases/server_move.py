"""Several PCs: checking a database server, and moving this installation's data onto one (and,
if asked, its images onto a shared folder)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from backend import fileio
from backend import validation as check
from backend.config import IMAGES_DIRNAME, Settings, write_machine_config
from backend.db import (
    copy_table_rows,
    create_db_engine,
    make_session_factory,
    schema_is_current,
    upgrade_schema,
)
from backend.errors import Conflict, ValidationError
from backend.fileio import file_sha256, write_refused
from backend.i18n import gettext
from backend.jobs import Progress
from backend.locks import Lease
from backend.models import AppState, Base, StoreLock

log = logging.getLogger(__name__)

# Every table of the schema, parents before children; leases belong to running processes.
TABLES_IN_ORDER = tuple(t for t in Base.metadata.sorted_tables if t is not StoreLock.__table__)
# The one table a server may already hold rows in: a PC that started on it has written some
# (the migration check, settings). Ours replace those with the same key.
MERGED_TABLE = Base.metadata.tables[AppState.__tablename__]
REPORTED_FIRST = ("patients", "treatments", "images")
OPERATION = "move to the server"
CONNECT_TIMEOUT_S = 5


def check_server(db_url: str) -> dict[str, Any]:
    """Connect to the PostgreSQL server at `db_url` and say what is there: {"ok", "message",
    "server", "schema"}. Only postgresql URLs are accepted (any other would have the program
    open, even create, whatever it names, such as a file). The connection gives up after
    CONNECT_TIMEOUT_S seconds, so a listener that never answers holds no worker for long.
    Never raises for an unreachable or misconfigured server: the answer says what is wrong."""
    try:
        backend_name = make_url(db_url).get_backend_name() if db_url else ""
    except ArgumentError:
        backend_name = ""
    if backend_name != "postgresql":
        raise ValidationError(
            gettext(
                "The address must look like postgresql+psycopg://user:password@server:5432/dental."
            ),
            field="db_url",
        )
    try:
        engine = create_engine(
            db_url, poolclass=NullPool, connect_args={"connect_timeout": CONNECT_TIMEOUT_S}
        )
    except SQLAlchemyError as exc:  # a driver this program does not have
        return {
            "ok": False,
            "message": gettext("Cannot connect: {reason}", reason=exc),
            "server": None,
            "schema": None,
        }
    try:
        with engine.connect() as connection:
            server = connection.execute(text("SELECT version()")).scalar()
        schema = "current" if schema_is_current(engine) else "needs upgrade or empty"
        return {
            "ok": True,
            "message": gettext("Connected."),
            "server": str(server),
            "schema": schema,
        }
    except SQLAlchemyError as exc:
        driver_error = getattr(exc, "orig", None)  # what the driver said, when it said anything
        reason = str(driver_error or exc).strip().splitlines()[0]
        return {
            "ok": False,
            "message": gettext("Cannot connect: {reason}", reason=reason),
            "server": None,
            "schema": None,
        }
    finally:
        engine.dispose()


def _count(connection: Connection, table: Table) -> int:
    return connection.execute(select(func.count()).select_from(table)).scalar_one()


@contextlib.contextmanager
def _snapshot(source: Engine) -> Iterator[Connection]:
    """A connection reading `source` as of one moment (one read transaction), so that counts
    and rows agree even if someone works on this PC meanwhile."""
    with source.connect() as reading:
        if source.dialect.name == "postgresql":
            reading = reading.execution_options(isolation_level="REPEATABLE READ")
        elif source.dialect.name == "sqlite":
            reading.exec_driver_sql("BEGIN")  # plain reads would each see their own moment
        try:
            yield reading
        finally:
            reading.rollback()


def copy_rows(
    source: Engine,
    target: Engine,
    progress: Progress,
    *,
    before_commit: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Copy every row of every table of the schema (leases aside) into `target` in one
    transaction, verified before it commits: the rows read here, the rows written and the rows
    the server then holds must agree, table by table. Any failure (or `before_commit` raising)
    rolls the whole copy back, so the server is left as it was and the move can be retried.
    The server's data tables must be empty. Returns rows per table."""
    with _snapshot(source) as reading, target.begin() as writing:
        our_state = list(reading.scalars(select(AppState.key)))
        if our_state:
            writing.execute(delete(MERGED_TABLE).where(AppState.key.in_(our_state)))
        already = {table.name: _count(writing, table) for table in TABLES_IN_ORDER}
        holding = [name for name, n in already.items() if n and name != MERGED_TABLE.name]
        if holding:
            raise Conflict(
                gettext(
                    "The server's database already holds records ({tables}). Point this PC at it "
                    "instead of moving data onto it, or use an empty database.",
                    tables=", ".join(holding),
                ),
                field="db_url",
            )
        counts = {table.name: _count(reading, table) for table in TABLES_IN_ORDER}
        progress.update(total=sum(counts.values()), message=gettext("Copying records"))
        written = copy_table_rows(reading, writing, TABLES_IN_ORDER, progress.advance)
        on_server = {
            table.name: _count(writing, table) - already[table.name] for table in TABLES_IN_ORDER
        }
        if not counts == written == on_server:
            raise Conflict(
                gettext(
                    "The copy does not match: {counts} rows here, {on_server} on the server. "
                    "Nothing was kept on the server.",
                    counts=counts,
                    on_server=on_server,
                )
            )
        if before_commit is not None:
            before_commit()
    first = [name for name in REPORTED_FIRST if name in counts]
    return {name: counts[name] for name in first + [n for n in counts if n not in first]}


def _require_same(destination: Path, checksum: str) -> None:
    """A file already at `destination` must be the one being copied: never overwritten."""
    if file_sha256(destination) != checksum:
        raise Conflict(
            gettext(
                "{destination} exists with other content; nothing was overwritten.",
                destination=destination,
            )
        )


def copy_images(
    source_root: Path,
    target_root: Path,
    progress: Progress,
    *,
    created: list[Path] | None = None,
) -> dict[str, int]:
    """Copy `dental_images/` from one root to another, each file verified by checksum before it
    gets its name; files already there with the same bytes are skipped, and a different file
    with the same name is never overwritten (reported as a conflict). The files this call
    created are appended to `created` as they appear (so that a failed move can take them
    back)."""
    source = source_root / IMAGES_DIRNAME
    files = [p for p in source.rglob("*") if p.is_file() and not p.name.endswith(".part")]
    progress.update(
        total=len(files),
        bytes_total=sum(p.stat().st_size for p in files),
        message=gettext("Copying images"),
    )
    copied = skipped = 0
    for path in files:
        destination = target_root / IMAGES_DIRNAME / path.relative_to(source)
        checksum = file_sha256(path)
        if destination.exists():
            _require_same(destination, checksum)
            skipped += 1
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            temp = fileio.temp_name(destination)
            try:
                fileio.copy_flushed(path, temp)
                if file_sha256(temp) != checksum:
                    raise Conflict(
                        gettext(
                            "The copy of {path} did not verify; check the shared folder.", path=path
                        )
                    )
                # Other PCs may already write into the shared folder: a name is never replaced.
                if not fileio.publish(temp, destination, others_may_publish=True):
                    _require_same(destination, checksum)
                    skipped += 1
                    progress.advance(1, path.stat().st_size)
                    continue
            finally:
                fileio.discard(temp)
            fileio.fsync_dir(destination.parent)
            if created is not None:
                created.append(destination)
            copied += 1
        progress.advance(1, path.stat().st_size)
    return {"copied": copied, "already_there": skipped}


def _take_back(files: list[Path], root: Path) -> None:
    """Remove the files a failed move copied to the shared folder (and folders left empty)."""
    for path in reversed(files):
        fileio.unlink(path)
        folder = path.parent
        while folder != root and folder.is_relative_to(root):
            try:
                folder.rmdir()
            except OSError:
                break
            folder = folder.parent
    if files:
        log.info("took back %d image file(s) copied by the failed move", len(files))


def _same_database(source: Engine, db_url: str) -> bool:
    try:
        return make_url(db_url).render_as_string(False) == source.url.render_as_string(False)
    except Exception:
        return False


def move_to_server(
    settings: Settings,
    source: Engine,
    db_url: str,
    progress: Progress,
    *,
    images_root: Path | None = None,
) -> dict[str, Any]:
    """Copy this installation's data onto the server at `db_url` and point this PC at it, all or
    nothing: under the store lease of both databases, the images are copied to `images_root`
    (if given) and verified first, then every row in one transaction verified before it
    commits. On any failure the server keeps nothing (no row; no image file this move copied)
    and this PC stays as it was, so the move can simply be tried again."""
    check = check_server(db_url)
    if not check["ok"]:
        raise ValidationError(check["message"], field="db_url")
    if _same_database(source, db_url):
        raise Conflict(
            gettext("This PC already uses that database: the server already holds its records."),
            field="db_url",
        )
    report: dict[str, Any] = {}
    target = create_db_engine(db_url)
    created: list[Path] = []
    try:
        with contextlib.ExitStack() as leases:
            here = Lease(make_session_factory(source), OPERATION)
            leases.callback(here.release)
            upgrade_schema(target)
            there = Lease(make_session_factory(target), OPERATION)
            leases.callback(there.release)

            def still_held() -> None:
                here.ensure_held()
                there.ensure_held()

            if images_root is not None:
                report["images"] = copy_images(
                    settings.image_store_root, images_root, progress, created=created
                )
                still_held()
            report["rows"] = copy_rows(source, target, progress, before_commit=still_held)
    except BaseException:
        if images_root is not None:
            _take_back(created, images_root)
        raise
    finally:
        target.dispose()
    write_machine_config(
        settings.data_dir,
        db_url=db_url,
        images_root=str(images_root) if images_root is not None else None,
    )
    report = {"rows": report["rows"], **report}
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
        folder = Path(check.path_text(images_root, "images_root")).expanduser()
        if not folder.is_dir():
            raise ValidationError(
                gettext(
                    "The folder {images_root} does not exist or cannot be reached from this PC.",
                    images_root=images_root,
                ),
                field="images_root",
            )
        refused = write_refused(folder)
        if refused is not None:
            raise ValidationError(
                gettext(
                    "This PC cannot write to {images_root}: {strerror}. Check the share's "
                    "permissions.",
                    images_root=images_root,
                    strerror=refused.strerror,
                ),
                field="images_root",
            ) from refused
    config = write_machine_config(
        settings.data_dir, db_url=db_url or None, images_root=images_root or None
    )
    log.info("server settings saved for this PC: %s", sorted(config))
    return {
        "saved": True,
        "message": gettext("Saved. Restart the program on this PC to use these settings."),
    }
