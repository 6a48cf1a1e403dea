"""What every entry point works with once an installation is open: settings, database, image
store, jobs, the maintenance gate. A plain holder: `backend.startup` opens an installation and
builds one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from backend.config import Settings
from backend.jobs import JobRunner
from backend.maintenance import MaintenanceGate
from backend.storage import ImageStore

if TYPE_CHECKING:  # the migration package sits above this holder
    from backend.migration.state import StartupCheck


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

    def close(self) -> None:
        self.engine.dispose()

    def reopen(self) -> None:
        """Drop every pooled connection and the file-name index, after a restore has replaced
        the database and the image tree: the next request sees the new data."""
        self.engine.dispose()
        self.store = image_store(self.settings)


def image_store(settings: Settings) -> ImageStore:
    """The image store of the installation that `settings` describe."""
    return ImageStore(settings.image_store_root, settings.thumbnails_dir, settings.legacy_roots)
