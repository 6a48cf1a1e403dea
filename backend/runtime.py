"""Opening an installation: folders, database (schema upgraded), image store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.db import create_db_engine, make_session_factory, upgrade_schema
from backend.jobs import JobRunner
from backend.locks import Lease
from backend.storage import ImageStore

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What every entry point (web app, CLI, jobs) works with."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ImageStore
    jobs: JobRunner = field(default_factory=JobRunner)

    def close(self) -> None:
        self.engine.dispose()


def open_runtime(settings: Settings) -> Runtime:
    """Create missing folders, connect, and bring the schema up to date."""
    settings.ensure_folders()
    engine = create_db_engine(settings.db_url)
    if upgrade_schema(engine):
        log.info("database schema upgraded to the newest version")
    store = ImageStore(settings.image_store_root, settings.thumbnails_dir, settings.legacy_roots)
    sessions = make_session_factory(engine)
    jobs = JobRunner(guard=lambda operation: Lease(sessions, operation))
    return Runtime(settings, engine, sessions, store, jobs)
