"""The Flask application factory."""

from __future__ import annotations

from typing import Any

from flask import Flask

from backend import security
from backend.api import backup as backup_routes
from backend.api import (
    common,
    dicom_export,
    errors,
    i18n,
    images,
    inbox,
    jobs,
    patients,
    request_gate,
    settings,
    status,
    system,
    trash,
)
from backend.api import migration as migration_routes
from backend.api import patient_restore as patient_restore_routes
from backend.paths import web_dir
from backend.runtime import Runtime

MAX_REQUEST_BYTES = 512 * 1024 * 1024


def create_app(
    runtime: Runtime,
    *,
    token: str,
    port: int,
    prefix: str = "",
    overrides: dict[str, Any] | None = None,
) -> Flask:
    """An app serving `runtime` under the path `prefix` ("" or "/<secret>") to requests that
    address 127.0.0.1:`port` and carry `token` (the launch token) or what it is exchanged for;
    see backend.security."""
    app = Flask(
        __name__,
        template_folder=str(web_dir() / "templates"),
        static_folder=str(web_dir() / "static"),
    )
    app.config.update(
        ALLOWED_HOSTS=security.allowed_hosts(port),
        MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides or {})
    common.init_app(app, runtime)
    errors.init_app(app)
    i18n.init_app(app)
    security.init_app(app, security.LaunchSecrets(launch_token=token, prefix=prefix))
    request_gate.init_app(app)  # first: refuses requests while a restore swaps data in
    for blueprint in (
        system.bp,
        patients.bp,
        images.bp,
        inbox.bp,
        settings.bp,
        jobs.bp,
        status.bp,
        trash.bp,
        dicom_export.bp,
    ):
        app.register_blueprint(blueprint)
    app.register_blueprint(migration_routes.bp)
    app.register_blueprint(backup_routes.bp)
    app.register_blueprint(patient_restore_routes.bp)
    return app


def set_port(app: Flask, port: int) -> None:
    """Accept requests for `port` (known only once the server has bound its socket)."""
    app.config["ALLOWED_HOSTS"] = security.allowed_hosts(port)
