"""A cluster-wide lease on whole-store operations (backup, restore, migration, import), kept
in the database so that every PC using the same database sees it. A holder that dies stops
renewing, and its lease expires so that nobody is blocked for ever; a holder that died on this
PC (its process, told apart by its start time from a later one with the same id, has ended)
is not waited for at all."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    Interval,
    delete,
    func,
    insert,
    literal,
    select,
    type_coerce,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement

from backend import processes
from backend.errors import Conflict
from backend.i18n import gettext
from backend.models import StoreLock
from backend.vocabulary import operation_name

log = logging.getLogger(__name__)

LOCK_NAME = "store"
DEFAULT_LEASE = timedelta(seconds=90)
_held_here: set[str] = set()


def holder_name() -> str:
    return f"{socket.gethostname()} (process {os.getpid()}, {uuid.uuid4().hex[:6]})"


def db_now(session: Session, plus: timedelta | None = None) -> ColumnElement[datetime]:
    """The database server's current UTC time (plus `plus`), as a SQL expression evaluated by
    the server, so that every PC using the database goes by one clock, whatever its own says.

    It has the form the DateTime columns hold: on PostgreSQL a `timestamp without time zone` in
    UTC (`timezone('UTC', now())`, independent of the session's time zone); on SQLite the text
    SQLAlchemy writes for a datetime, `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, so that the text
    comparisons SQLite makes order times correctly."""
    if session.get_bind().dialect.name == "sqlite":
        modifiers = [f"{plus.total_seconds():+.3f} seconds"] if plus else []
        return func.strftime("%Y-%m-%d %H:%M:%f000", "now", *modifiers, type_=DateTime)
    now = type_coerce(func.timezone("UTC", func.now()), DateTime)
    return now + literal(plus, Interval()) if plus else now


def _rows_changed(session: Session, statement: Update) -> int:
    """Run an UPDATE in `session`; how many rows it changed. (A DML statement's result is a
    CursorResult, which the Session's generic signature does not say.)"""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


class StoreLockHeld(Conflict):
    def __init__(self, operation: str, holder: str, since: str) -> None:
        super().__init__(
            gettext(
                "A {operation} is running on {holder} since {since} UTC; wait until it has "
                "finished, then try again.",
                operation=operation_name(operation),
                holder=holder,
                since=since,
            ),
            field="job",
        )
        self.holder = holder


class LeaseLost(Conflict):
    def __init__(self, operation: str) -> None:
        super().__init__(
            gettext(
                "This PC lost the store lock of the {operation}: it could not be renewed in time "
                "(database unreachable?) or another PC has taken it over. Nothing more was done; "
                "try again.",
                operation=operation_name(operation),
            ),
            field="job",
        )


def current_lock(sessions: sessionmaker[Session]) -> StoreLock | None:
    """The live lease, if any (an expired one counts as none, by the database's clock)."""
    with sessions() as session:
        lock = session.scalar(
            select(StoreLock).where(
                StoreLock.name == LOCK_NAME, StoreLock.expires_at >= db_now(session)
            )
        )
        if lock is None:
            return None
        session.expunge(lock)
        return lock


class Lease:
    """A held store lock, renewed in the background until released. Times are the database
    server's (see `db_now`). A renewal that fails is logged and tried again at the next tick; a
    lease that could not be renewed in time, or that another holder has taken over, is `lost`:
    the work holding it checks `ensure_held()` before anything it cannot undo."""

    def __init__(
        self, sessions: sessionmaker[Session], operation: str, lease: timedelta = DEFAULT_LEASE
    ) -> None:
        self._sessions = sessions
        self.operation = operation
        self.holder = holder_name()
        self._lease = lease
        self._stop = threading.Event()
        self._lost = threading.Event()
        started = time.monotonic()
        self._acquire()
        self._valid_until = started + lease.total_seconds()
        _held_here.add(self.holder)
        self._renewer = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._renewer.start()

    def _acquire(self) -> None:
        ours = {
            "holder": self.holder,
            "operation": self.operation,
            "host": processes.this_host(),
            "pid": os.getpid(),
            "process_started": processes.process_start_time(),
        }
        with self._sessions() as session:
            now, expires = db_now(session), db_now(session, self._lease)
            try:
                session.execute(
                    insert(StoreLock).values(
                        name=LOCK_NAME, acquired_at=now, expires_at=expires, **ours
                    )
                )
                session.commit()
                return
            except IntegrityError:
                session.rollback()
            taken = _rows_changed(
                session,
                update(StoreLock)
                .where(StoreLock.name == LOCK_NAME, StoreLock.expires_at < now)
                .values(acquired_at=now, expires_at=expires, **ours),
            )
            session.commit()
            if taken == 1:
                log.warning("took over an expired store lock for %s", self.operation)
                return
            lock = session.scalar(select(StoreLock).where(StoreLock.name == LOCK_NAME))
            if lock is not None and processes.ended_here(lock.host, lock.pid, lock.process_started):
                # Its process on this PC has ended (killed, crashed): nothing renews it, and
                # waiting for it to run out would only block this PC's work.
                taken = _rows_changed(
                    session,
                    update(StoreLock)
                    .where(StoreLock.name == LOCK_NAME, StoreLock.holder == lock.holder)
                    .values(acquired_at=now, expires_at=expires, **ours),
                )
                session.commit()
                if taken == 1:
                    log.warning(
                        "took over the store lock of the %s of process %s, which has ended, for %s",
                        lock.operation,
                        lock.pid,
                        self.operation,
                    )
                    return
                lock = session.scalar(select(StoreLock).where(StoreLock.name == LOCK_NAME))
        if lock is None:  # released between our two statements: try once more
            return self._acquire()
        raise StoreLockHeld(lock.operation, lock.holder, lock.acquired_at.strftime("%H:%M"))

    @property
    def lost(self) -> bool:
        """True once the lease may be someone else's: another holder took it over, or it was
        not renewed before it ran out."""
        return self._lost.is_set() or time.monotonic() > self._valid_until

    def ensure_held(self) -> None:
        """Raise LeaseLost when the lease is `lost`."""
        if self.lost:
            raise LeaseLost(self.operation)

    def _renew(self) -> bool:
        """Extend the lease; False when no row of ours was there to extend."""
        started = time.monotonic()
        with self._sessions() as session:
            renewed = _rows_changed(
                session,
                update(StoreLock)
                .where(StoreLock.name == LOCK_NAME, StoreLock.holder == self.holder)
                .values(expires_at=db_now(session, self._lease)),
            )
            session.commit()
        if renewed != 1:
            return False
        self._valid_until = started + self._lease.total_seconds()
        return True

    def _renew_loop(self) -> None:
        interval = self._lease.total_seconds() / 3
        while not self._stop.wait(interval):
            try:
                renewed = self._renew()
            except Exception as exc:  # the database is away for a moment: next tick
                if time.monotonic() > self._valid_until:
                    log.error(
                        "the store lock for %s could not be renewed before it ran out (%s); "
                        "another PC may take it over",
                        self.operation,
                        exc,
                    )
                else:
                    log.warning(
                        "could not renew the store lock for %s (%s); trying again in %.0f s",
                        self.operation,
                        exc,
                        interval,
                    )
                continue
            if not renewed:
                if self._stop.is_set():
                    return  # released meanwhile
                self._lost.set()
                log.error(
                    "the store lock for %s was lost: it is no longer held by %s (taken over "
                    "after it ran out?)",
                    self.operation,
                    self.holder,
                )
                return

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
