"""Opening an installation: folders, the end of an interrupted restore, stale uploads cleared,
database connected and its schema upgraded, the earlier app's data looked for. Every entry point
(window, server, CLI) starts here; the feature packages sit below."""

from __future__ import annotations

import logging

from sqlalchemy import event

from backend.backup.recovery import recover_interrupted_restore
from backend.backup.uploads import clear_stale_uploads
from backend.config import Settings
from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.jobs import JobRunner
from backend.locks import Lease
from backend.maintenance import MaintenanceGate
from backend.migration.state import startup_check
from backend.runtime import Runtime, image_store

log = logging.getLogger(__name__)


def open_runtime(settings: Settings) -> Runtime:
    """Create missing folders, finish or undo a restore that was interrupted, clear backup
    uploads older than a day, connect, and bring the schema up to date."""
    settings.ensure_folders()
    engine = create_db_engine(settings.db_url)
    recovered = recover_interrupted_restore(settings, engine)
    clear_stale_uploads(settings)
    if upgrade_schema(engine):
        log.info("database schema upgraded to the newest version")
    store = image_store(settings)
    sessions = make_session_factory(engine)
    jobs = JobRunner(guard=lambda operation: Lease(sessions, operation))
    gate = MaintenanceGate()
    # While a restore swaps the data in, new connections wait instead of opening a file that is
    # being replaced.
    event.listen(engine, "do_connect", lambda *_args: gate.wait_until_open())
    runtime = Runtime(settings, engine, sessions, store, jobs, gate)
    if recovered:
        runtime.notices.append(recovered)
    runtime.migration_check = startup_check(settings, sessions)
    return runtime
