"""What every entry point works with once an installation is open: settings, database, image
store, jobs, the maintenance gate. A plain holder: `backend.startup` opens an installation and
builds one."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.jobs import JobRunner
from backend.locks import Lease
from backend.maintenance import MaintenanceGate
from backend.storage import ImageStore

if TYPE_CHECKING:  # the packages that fill these fields sit above this holder
    from backend.migration.state import StartupCheck
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
    # Set when the program closes: background loops (the upkeep) end at their next wait.
    closing: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.closing.set()
        if self.receiver is not None:
            self.receiver.stop()
        self.engine.dispose()

    def reopen(self) -> None:
        """Drop every pooled connection and the file-name index, after a restore has replaced
        the database and the image tree: the next request sees the new data."""
        self.engine.dispose()
        self.store = image_store(self.settings)


def image_store(settings: Settings) -> ImageStore:
    """The image store of the installation that `settings` describe."""
    return ImageStore(settings.image_store_root, settings.thumbnails_dir, settings.legacy_roots)


def open_installation(settings: Settings, engine: Engine | None = None) -> Runtime:
    """The installation at `settings` opened as it is: folders made, the schema brought up to
    date, the store, sessions, jobs (each holding the store lease) and the maintenance gate.
    None of the start-up work (`backend.startup` does that); a scratch installation, such as
    the one a backup of the earlier app is read into, needs no more."""
    settings.ensure_folders()
    engine = engine or create_db_engine(settings.db_url)
    if upgrade_schema(engine):
        log.info("database schema upgraded to the newest version")
    sessions = make_session_factory(engine)
    jobs = JobRunner(guard=lambda operation: Lease(sessions, operation))
    gate = MaintenanceGate()
    # While a restore swaps the data in, new connections wait instead of opening a file that is
    # being replaced.
    event.listen(engine, "do_connect", lambda *_args: gate.wait_until_open())
    return Runtime(settings, engine, sessions, image_store(settings), jobs, gate)
