"""Whether another PC is running a whole-store job (during a restore elsewhere this PC only
reads: see backend.api.request_gate), and what this start did that the user must hear of."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue

from backend.api.common import runtime
from backend.locks import current_lock, held_elsewhere

bp = Blueprint("status", __name__, url_prefix="/api")


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
