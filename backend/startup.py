"""Opening an installation: folders, the end of an interrupted restore, stale uploads cleared,
database connected and its schema upgraded, the earlier app's data looked for. Every entry point
(window, server, CLI) starts here; the feature packages sit below."""

from __future__ import annotations

from backend.backup.archives import clear_stale_uploads
from backend.backup.recovery import recover_interrupted_restore
from backend.config import Settings
from backend.db import create_db_engine
from backend.migration.state import startup_check
from backend.runtime import Runtime, open_installation
from backend.usecases.dicom_receiver import ReceiverControl


def open_runtime(settings: Settings) -> Runtime:
    """Create missing folders, finish or undo a restore that was interrupted, clear backup
    uploads older than a day, connect, bring the schema up to date, and get the DICOM receiver
    ready (it listens only when this PC's setting turns it on: see backend.desktop)."""
    settings.ensure_folders()
    engine = create_db_engine(settings.db_url)
    recovered = recover_interrupted_restore(settings, engine)
    clear_stale_uploads(settings)
    runtime = open_installation(settings, engine)
    runtime.receiver = ReceiverControl(settings.data_dir, runtime.sessions, lambda: runtime.store)
    if recovered:
        runtime.notices.append(recovered)
    runtime.migration_check = startup_check(settings, runtime.sessions)
    return runtime
