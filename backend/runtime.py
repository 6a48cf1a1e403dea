"""Opening an installation: folders, database (schema upgraded), image store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from backend.backup.recovery import recover_interrupted_restore
from backend.backup.uploads import clear_stale_uploads
from backend.config import Settings
from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.jobs import JobRunner
from backend.locks import Lease
from backend.maintenance import MaintenanceGate
from backend.migration.state import StartupCheck, startup_check
from backend.storage import ImageStore
from backend.usecases.dicom_receiver import ReceiverControl

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every entry point (web app, CLI, jobs) works with."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ImageStore
    jobs: JobRunner = field(default_factory=JobRunner)
    gate: MaintenanceGate = field(default_factory=MaintenanceGate)
    migration_check: StartupCheck | None = None  # legacy data waiting to be migrated?
    # What the start did that the user must hear of (e.g. an interrupted restore finished or
    # undone); the main screen shows these until they are dismissed.
    notices: list[str] = field(default_factory=list)
    # The DICOM receiver of this process (off unless this PC's setting turns it on).
    receiver: ReceiverControl | None = None

    def close(self) -> None:
        if self.receiver is not None:
            self.receiver.stop()
        self.engine.dispose()

    def reopen(self) -> None:
        """Drop every pooled connection and the file-name index, after a restore has replaced
        the database and the image tree: the next request sees the new data."""
        self.engine.dispose()
        self.store = _image_store(self.settings)


def _image_store(settings: Settings) -> ImageStore:
    return ImageStore(settings.image_store_root, settings.thumbnails_dir, settings.legacy_roots)


def open_runtime(settings: Settings) -> Runtime:
    """Create missing folders, finish or undo a restore that was interrupted, clear backup
    uploads older than a day, connect, and bring the schema up to date."""
    settings.ensure_folders()
    engine = create_db_engine(settings.db_url)
    recovered = recover_interrupted_restore(settings, engine)
    clear_stale_uploads(settings)
    if upgrade_schema(engine):
        log.info("database schema upgraded to the newest version")
    store = _image_store(settings)
    sessions = make_session_factory(engine)
    jobs = JobRunner(guard=lambda operation: Lease(sessions, operation))
    gate = MaintenanceGate()
    # While a restore swaps the data in, new connections wait instead of opening a file that is
    # being replaced.
    event.listen(engine, "do_connect", lambda *_args: gate.wait_until_open())
    runtime = Runtime(settings, engine, sessions, store, jobs, gate)
    runtime.receiver = ReceiverControl(settings.data_dir, sessions, lambda: runtime.store)
    if recovered:
        runtime.notices.append(recovered)
    runtime.migration_check = startup_check(settings, sessions)
    return runtime
