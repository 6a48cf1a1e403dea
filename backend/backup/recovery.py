"""At every start, before the database is used: finish or undo a restore that a crash, a kill
or a power cut interrupted, from its journal. The result is always the old data or the new data,
complete; never a mix."""

from __future__ import annotations

import logging
import tempfile
import zipfile
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from backend import app_state
from backend.backup import journal as jr
from backend.backup.archive_safety import stream_member
from backend.backup.manifest import DATABASE_ENTRY
from backend.backup.snapshot import load_into
from backend.config import Settings
from backend.errors import Conflict
from backend.i18n import N_, gettext

log = logging.getLogger(__name__)


def recover_interrupted_restore(settings: Settings, engine: Engine) -> str | None:
    """Undo or finish the restore named by the journal, if there is one. Returns what was done
    (also logged), None when there was nothing to do. Raises Conflict when the restore is still
    running in another process of this computer."""
    journal = jr.load_journal(settings)
    if journal is None:
        return None
    if jr.still_running(journal):
        raise Conflict(
            gettext(
                "A restore is running in another copy of the program (process {pid}); wait until "
                "it has finished, then start the program again.",
                pid=journal.pid,
            )
        )
    if journal.phase == jr.COMMITTED or (
        journal.method == jr.ROWS
        and journal.phase in (jr.SWAPPING, jr.SWAPPED)
        and restore_marker(engine) == journal.id
    ):
        jr.remove_leftovers(journal)
        outcome = N_(
            "An interrupted restore of {archive} was finished: the restored data is in place."
        )
    elif journal.phase == jr.STAGING:
        jr.remove_leftovers(journal)
        outcome = N_(
            "An interrupted restore of {archive} was abandoned before it changed anything: the "
            "data is as it was."
        )
    else:
        if journal.method == jr.ROWS and journal.phase == jr.ROLLING_BACK:
            restore_rows_from_archive(engine, Path(str(journal.safety_backup)))
        jr.roll_back_moves(journal)
        jr.remove_leftovers(journal)
        outcome = N_(
            "An interrupted restore of {archive} was undone: the data is back as it was before "
            "the restore."
        )
    jr.clear_journal(settings)
    message = gettext(outcome, archive=journal.archive)
    log.warning(message)
    return message


def restore_marker(engine: Engine) -> str | None:
    """The id of the restore whose rows the database holds (rows method), if any."""
    try:
        with engine.connect() as connection:
            return app_state.get(connection, app_state.RESTORE_MARKER)
    except SQLAlchemyError:
        return None


def write_marker(connection: Connection, restore_id: str) -> None:
    app_state.put(connection, app_state.RESTORE_MARKER, restore_id)


def restore_rows_from_archive(engine: Engine, archive: Path) -> None:
    """Load the database snapshot of a (safety) backup into the live database, in one
    transaction."""
    with tempfile.TemporaryDirectory(prefix="dental-rollback-") as folder:
        snapshot = Path(folder) / DATABASE_ENTRY
        with zipfile.ZipFile(archive) as opened, open(snapshot, "wb") as handle:
            stream_member(opened, opened.getinfo(DATABASE_ENTRY), handle.write)
        load_into(engine, snapshot)
