"""Upkeep that runs in the background after start: nothing the window waits for."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from backend.models import Image
from backend.storage import ImageStore

log = logging.getLogger(__name__)


def sweep_leftovers(sessions: sessionmaker[Session], store: ImageStore) -> list[str]:
    """Remove the empty files interrupted writes left under final names (see
    `ImageStore.sweep_empty_reservations`); a file an image row names is always kept."""

    def is_named(relative: str) -> bool:
        folder, _, name = relative.rpartition("/")
        with sessions() as session:
            found = session.scalar(
                select(Image.id).where(Image.folder_path == folder + "/", Image.file_name == name)
            )
        return found is not None

    return store.sweep_empty_reservations(is_named)


def start_upkeep(sessions: sessionmaker[Session], store: ImageStore) -> threading.Thread:
    """Run the upkeep once on a background thread (it walks the image tree)."""

    def run() -> None:
        try:
            sweep_leftovers(sessions, store)
        except Exception:  # upkeep must never take the program down
            log.exception("background upkeep failed")

    thread = threading.Thread(target=run, name="upkeep", daemon=True)
    thread.start()
    return thread
