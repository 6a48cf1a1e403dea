"""Settings and upkeep: app settings, the storage report, the log view, demo data."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from backend import i18n
from backend.api.common import db, json_body, runtime, store
from backend.config import read_pc_preferences
from backend.demo import create_demo_data
from backend.imaging import FORMAT_NAMES
from backend.usecases import images, logs, pc_preferences, server_move, settings, storage_report

bp = Blueprint("settings", __name__, url_prefix="/api")


def _upload_facts() -> dict[str, object]:
    """What the page checks before it sends a file: the largest photo and the largest DICOM
    file the server takes, and the formats it accepts. One source: the server's own limits."""
    limits = images.DEFAULT_LIMITS
    return {
        "max_bytes": limits.max_bytes,
        "max_dicom_bytes": limits.max_dicom_bytes,
        "formats": [*FORMAT_NAMES, "DICOM"],
    }


def _settings_response() -> Response:
    """The clinic's settings, this PC's own (language, theme, digits) with the language the
    program shows now (`locale`), then the read-only facts about the installation."""
    return jsonify(
        {
            **settings.get_settings(db()),
            **read_pc_preferences(runtime().settings.data_dir),
            "locale": i18n.current_locale(),
            **settings.installation_facts(runtime().settings),
            "upload": _upload_facts(),
        }
    )


@bp.get("/settings")
def get_settings() -> ResponseReturnValue:
    return _settings_response()


@bp.patch("/settings")
def update_settings() -> ResponseReturnValue:
    """Every change is checked before any is kept: one bad value changes nothing."""
    own, clinic = pc_preferences.split_changes(json_body())
    cleaned = pc_preferences.check_changes(own)
    settings.update_settings(db(), clinic)
    pc_preferences.save(runtime().settings.data_dir, cleaned)
    i18n.forget_request_locale()  # the answer is in the newly chosen language
    return _settings_response()


@bp.post("/settings/server/test")
def test_server() -> ResponseReturnValue:
    return jsonify(server_move.check_server(str(json_body().get("db_url") or "")))


@bp.put("/settings/server")
def save_server() -> ResponseReturnValue:
    body = json_body()
    return jsonify(
        server_move.save_server_settings(
            runtime().settings,
            str(body.get("db_url") or "").strip(),
            str(body.get("images_root") or "").strip(),
        )
    )


@bp.get("/storage")
def storage() -> ResponseReturnValue:
    return jsonify(storage_report.storage_report(db(), store()))


@bp.get("/logs")
def log_entries() -> ResponseReturnValue:
    log_file = logs.log_file_path(runtime().settings)
    entries = logs.recent_entries(
        log_file,
        level=request.args.get("level"),
        limit=request.args.get("limit"),
        query=request.args.get("q"),
    )
    return jsonify({"entries": entries, "log_file": str(log_file)})


@bp.post("/demo")
def demo() -> ResponseReturnValue:
    return jsonify(create_demo_data(db(), store())), 201
