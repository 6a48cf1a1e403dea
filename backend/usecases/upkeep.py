"""Upkeep that runs in the background after start: nothing the window waits for."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend import app_state
from backend.models import Image, utcnow
from backend.runtime import Runtime
from backend.storage import ImageStore

log = logging.getLogger(__name__)

# The walk is I/O on the whole image tree, on a network share for several PCs; leftovers are
# rare (a crash in one step of a publish without hard links) and harmless, so one walk a day
# for all PCs sharing the database is enough.
SWEEP_INTERVAL = timedelta(hours=20)
# A purge is two small queries when nothing is due; a clinic's PC may run for weeks.
PURGE_INTERVAL = timedelta(hours=6)


def claim_sweep(sessions: sessionmaker[Session], now: datetime | None = None) -> bool:
    """True (and the sweep recorded as started now) when no PC sharing this database swept
    within `SWEEP_INTERVAL`; False when the sweep is not due or another PC claims it at this
    moment. A recorded time ahead of `now` (a PC's clock that was wrong) counts as overdue."""
    now = now or utcnow()
    try:
        with sessions.begin() as session:
            # On PostgreSQL the row lock makes a second PC wait and then see the new time.
            last = app_state.get(session, app_state.LAST_SWEEP, for_update=True)
            if last is not None:
                try:
                    if timedelta(0) <= now - datetime.fromisoformat(last) < SWEEP_INTERVAL:
                        return False
                except ValueError:
                    pass  # an unreadable value is an overdue sweep
            app_state.put(session, app_state.LAST_SWEEP, now.isoformat())
    except IntegrityError:
        return False  # another PC recorded the first sweep at the same moment: it sweeps
    return True


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


def purge_trash(sessions: sessionmaker[Session], store: ImageStore) -> dict[str, int]:
    """Remove for good what has been in the trash longer than the `trash_days` setting."""
    from backend.usecases import trash

    with sessions() as session:
        return trash.purge(session, store)


def upkeep_round(runtime: Runtime, *, sweep: bool) -> None:
    """One round of upkeep: the trash's purge, and with `sweep` the walk of the image tree for
    leftovers when it is due. Uses the runtime's sessions and store of the moment (a restore
    replaces the store)."""
    purge_trash(runtime.sessions, runtime.store)
    if sweep and claim_sweep(runtime.sessions):
        sweep_leftovers(runtime.sessions, runtime.store)


def start_upkeep(
    runtime: Runtime, *, purge_every: float = PURGE_INTERVAL.total_seconds()
) -> threading.Thread:
    """Run the upkeep on a background thread: a round with the sweep at once, then a purge
    every `purge_every` seconds, until the runtime closes."""

    def run() -> None:
        first = True
        while not runtime.closing.is_set():
            try:
                upkeep_round(runtime, sweep=first)
            except Exception:  # upkeep must never take the program down
                log.exception("background upkeep failed")
            first = False
            runtime.closing.wait(purge_every)

    thread = threading.Thread(target=run, name="upkeep", daemon=True)
    thread.start()
    return thread
