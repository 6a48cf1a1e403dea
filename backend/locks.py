"""A cluster-wide lease on whole-store operations (backup, restore, migration, import), kept
in the database so that every PC using the same database sees it. A holder that dies stops
renewing, and its lease expires so that nobody is blocked for ever."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend.errors import Conflict
from backend.models import StoreLock, utcnow

log = logging.getLogger(__name__)

LOCK_NAME = "store"
DEFAULT_LEASE = timedelta(seconds=90)
_held_here: set[str] = set()


def holder_name() -> str:
    return f"{socket.gethostname()} (process {os.getpid()}, {uuid.uuid4().hex[:6]})"


class StoreLockHeld(Conflict):
    def __init__(self, operation: str, holder: str, since: str) -> None:
        super().__init__(
            f"A {operation} is running on {holder} since {since} UTC; "
            "wait until it has finished, then try again.",
            field="job",
        )
        self.holder = holder


def current_lock(sessions: sessionmaker[Session]) -> StoreLock | None:
    """The live lease, if any (an expired one counts as none)."""
    with sessions() as session:
        lock = session.get(StoreLock, LOCK_NAME)
        if lock is None or lock.expires_at < utcnow():
            return None
        session.expunge(lock)
        return lock


class Lease:
    """A held store lock, renewed in the background until released."""

    def __init__(
        self, sessions: sessionmaker[Session], operation: str, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self._sessions = sessions
        self.operation = operation
        self.holder = holder_name()
        self._lease = lease
        self._stop = threading.Event()
        self._acquire()
        _held_here.add(self.holder)
        self._renewer = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._renewer.start()

    def _acquire(self) -> None:
        now = utcnow()
        with self._sessions() as session:
            session.add(
                StoreLock(
                    name=LOCK_NAME,
                    holder=self.holder,
                    operation=self.operation,
                    acquired_at=now,
                    expires_at=now + self._lease,
                )
            )
            try:
                session.commit()
                return
            except IntegrityError:
                session.rollback()
            taken = session.execute(
                update(StoreLock)
                .where(StoreLock.name == LOCK_NAME, StoreLock.expires_at < now)
                .values(
                    holder=self.holder,
                    operation=self.operation,
                    acquired_at=now,
                    expires_at=now + self._lease,
                )
            )
            session.commit()
            if taken.rowcount == 1:
                log.warning("took over an expired store lock for %s", self.operation)
                return
            lock = session.scalar(select(StoreLock).where(StoreLock.name == LOCK_NAME))
        if lock is None:  # released between our two statements: try once more
            return self._acquire()
        raise StoreLockHeld(lock.operation, lock.holder, lock.acquired_at.strftime("%H:%M"))

    def _renew_loop(self) -> None:
        interval = self._lease.total_seconds() / 3
        while not self._stop.wait(interval):
            with self._sessions() as session:
                session.execute(
                    update(StoreLock)
                    .where(StoreLock.name == LOCK_NAME, StoreLock.holder == self.holder)
                    .values(expires_at=utcnow() + self._lease)
                )
                session.commit()

    def release(self) -> None:
        self._stop.set()
        _held_here.discard(self.holder)
        with self._sessions() as session:
            session.execute(
                delete(StoreLock).where(
                    StoreLock.name == LOCK_NAME, StoreLock.holder == self.holder
                )
            )
            session.commit()


def held_elsewhere(sessions: sessionmaker[Session]) -> StoreLock | None:
    """The live lease when another process (another PC) holds it."""
    lock = current_lock(sessions)
    return lock if lock is not None and lock.holder not in _held_here else None
