"""The one gate every request passes before it reads or changes data.

- While a restore on this PC swaps the data in, requests wait outside (refused with the
  "restoring" conflict; pages, static files and job progress stay open so the page can follow
  the restore).
- While a restore runs on another PC sharing the database, this PC only reads: a change would be
  lost when the restored data is swapped in there.

Registered before every other hook that reads the database.
"""

from __future__ import annotations

from flask import Flask, g, request

from backend.api.common import runtime
from backend.i18n import gettext
from backend.locks import held_elsewhere
from backend.maintenance import Restoring

OPEN_DURING_RESTORE = ("/static/", "/api/jobs/")
OPEN_PATHS = frozenset({"/", "/favicon.ico", "/api/health", "/api/ready"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Changes only this program's memory, never the clinic's data.
LOCAL_CHANGES = frozenset({"/api/status/notices"})


def _enter() -> None:
    if request.path in OPEN_PATHS or request.path.startswith(OPEN_DURING_RESTORE):
        return
    runtime().gate.enter()
    g.request_gate_entered = True
    _refuse_changes_during_a_restore_elsewhere()


def _refuse_changes_during_a_restore_elsewhere() -> None:
    if request.method in READ_METHODS or not request.path.startswith("/api/"):
        return
    if request.path in LOCAL_CHANGES:
        return
    lock = held_elsewhere(runtime().sessions)
    if lock is not None and lock.operation == "restore":
        raise Restoring(
            gettext(
                "The clinic's data is being restored on {holder}. Changes are paused until the "
                "restore has finished; nothing was changed.",
                holder=lock.holder,
            )
        )


def _leave(_exc: BaseException | None) -> None:
    if g.pop("request_gate_entered", False):
        runtime().gate.leave()


def init_app(app: Flask) -> None:
    app.before_request(_enter)
    app.teardown_request(_leave)
