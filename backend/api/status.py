"""Whether another PC is running a whole-store job (during a restore elsewhere, this PC only
reads: changes would be lost when the restored data is swapped in), and what this start did
that the user must hear of."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue

from backend.api.common import runtime
from backend.errors import Conflict
from backend.i18n import gettext
from backend.locks import current_lock, held_elsewhere

bp = Blueprint("status", __name__, url_prefix="/api")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Restoring(Conflict):
    code = "restoring"


# Changes only this program's memory, never the clinic's data.
LOCAL_CHANGES = frozenset({"/api/status/notices"})


def refuse_changes_during_a_restore_elsewhere() -> None:
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


@bp.get("/status")
def store_status() -> Response:
    lock = current_lock(runtime().sessions)
    return jsonify(
        {
            "lock": None
            if lock is None
            else {
                "operation": lock.operation,
                "holder": lock.holder,
                "since": lock.acquired_at.isoformat(),
                "here": held_elsewhere(runtime().sessions) is None,
            },
            "restoring": lock is not None and lock.operation == "restore",
            "notices": list(runtime().notices),
            "inbox_count": _inbox_count(),
        }
    )


def _inbox_count() -> int:
    """How many received x-rays wait in the Inbox (the main screen's badge)."""
    from backend.usecases.inbox import inbox_count

    with runtime().sessions() as session:
        return inbox_count(session)


@bp.delete("/status/notices")
def dismiss_notices() -> ResponseReturnValue:
    """The user has read the start-up notices: they are not shown again."""
    runtime().notices.clear()
    return "", 204


def init_app(app: Flask) -> None:
    app.before_request(refuse_changes_during_a_restore_elsewhere)
