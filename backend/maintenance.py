"""A gate that a restore closes while it replaces the data under the running program: requests
are refused with a clear message (never served half-old, half-new data), the restore waits for
requests already running, and any other attempt to open a database connection waits until the
gate opens again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from backend.errors import Conflict
from backend.i18n import gettext


class Restoring(Conflict):
    """The clinic's data is being restored (here or on another PC): nothing was changed."""

    code = "restoring"


class MaintenanceGate:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._owner: int | None = None
        self._reason = ""
        self._active: dict[int, int] = {}  # thread -> requests it is serving

    @property
    def is_closed(self) -> bool:
        return self._owner is not None

    def enter(self) -> None:
        """Let a request in, or refuse it while the gate is closed."""
        with self._condition:
            me = threading.get_ident()
            if self._owner is not None and self._owner != me:
                raise Restoring(self._reason)
            self._active[me] = self._active.get(me, 0) + 1

    def leave(self) -> None:
        with self._condition:
            me = threading.get_ident()
            self._active[me] -= 1
            if not self._active[me]:
                del self._active[me]
            self._condition.notify_all()

    def wait_until_open(self) -> None:
        """Block any thread until the gate is open, except its owner and requests that were
        let in before it closed (the owner waits for those to finish)."""
        with self._condition:
            me = threading.get_ident()
            while self._owner not in (None, me) and me not in self._active:
                self._condition.wait()

    @contextmanager
    def closed(self, reason: str, *, timeout: float = 60.0) -> Iterator[None]:
        """Close the gate for the calling thread's work, once requests already running have
        finished (Conflict if they do not within `timeout` seconds)."""
        with self._condition:
            if self._owner is not None:
                raise Restoring(self._reason)
            self._owner, self._reason = threading.get_ident(), reason
            if not self._condition.wait_for(lambda: not self._active, timeout=timeout):
                self._owner = None
                self._condition.notify_all()
                raise Conflict(
                    gettext("Requests of the program did not finish; try again in a moment.")
                )
        try:
            yield
        finally:
            with self._condition:
                self._owner = None
                self._condition.notify_all()
