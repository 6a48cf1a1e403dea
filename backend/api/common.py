"""What every blueprint needs: the request's session, the store, and JSON input."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from backend.errors import ValidationError
from backend.i18n import gettext
from backend.runtime import Runtime
from backend.storage import ImageStore

RUNTIME_KEY = "dental_runtime"


def runtime() -> Runtime:
    app_runtime: Runtime = current_app.extensions[RUNTIME_KEY]
    return app_runtime


def db() -> Session:
    """The session of this request, opened on first use and closed on teardown."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    session: Session = g.db_session
    return session


def store() -> ImageStore:
    return runtime().store


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError(gettext("The request body must be a JSON object."), field="body")
    return data


def int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError as exc:
        raise ValidationError(
            gettext("'{name}' must be a whole number.", name=name), field=name
        ) from exc


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask, rt: Runtime) -> None:
    app.extensions[RUNTIME_KEY] = rt
    app.teardown_appcontext(_close_session)
