"""Migration and import of the earlier app's data: status, preview, start and the report
download. A started job is followed as every job is, at GET /api/jobs/<id>; its progress
carries the live counts as `details`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from backend import validation as check
from backend.api.common import json_body, runtime
from backend.errors import NotFound, ValidationError
from backend.i18n import gettext
from backend.legacy.notation import reading_choices
from backend.legacy.source import LegacySource, import_roots
from backend.migration import runner
from backend.migration.importer import open_source, preview
from backend.moving.report import csv_of

bp = Blueprint("migration", __name__, url_prefix="/api/migration")


def _source_path(body: dict[str, Any]) -> Path:
    text = str(body.get("source") or "").strip()
    if not text:
        raise ValidationError(gettext("Choose the earlier app's data folder."), field="source")
    return Path(check.path_text(text, "source"))


def _source(body: dict[str, Any]) -> LegacySource:
    """The source named in `body`, with the earlier app's other image folders (`images_from`:
    a list of folders, e.g. its program folder) and those configured for this installation."""
    extra = body.get("images_from") or []
    if not isinstance(extra, list) or not all(isinstance(p, str) for p in extra):
        raise ValidationError(gettext("images_from is a list of folders."), field="images_from")
    roots = import_roots([p for p in extra if p.strip()], runtime().settings.legacy_roots)
    return open_source(_source_path(body), roots)


def _readings(body: dict[str, Any]) -> dict[str, Any]:
    """`notation` (every table), `table_notation` ({"dental_treatments": "universal"}) and
    `early_layout` ("mirrored" or "standard") as the importer takes them."""
    return reading_choices(
        body.get("notation"), body.get("table_notation"), body.get("early_layout")
    )


@bp.get("")
def status() -> Response:
    return jsonify(runner.migration_status(runtime()))


@bp.post("/preview")
def preview_source() -> Response:
    body = json_body()
    return jsonify(preview(_source(body), runtime(), **_readings(body)).as_dict())


@bp.post("/import")
def start_import() -> ResponseReturnValue:
    body = json_body()
    readings = _readings(body)
    source = _source(body)
    shown = preview(source, runtime(), **readings)
    if shown.reading is None:
        undecided = [g for g, entry in shown.generations.items() if entry["used"] is None]
        if undecided:
            message = gettext(
                "Choose how the earlier app numbered teeth in {tables} (notation, or "
                "table_notation per table).",
                tables=", ".join(undecided),
            )
        else:
            message = gettext(
                "Choose how the earlier app numbered teeth (notation, or table_notation per table)."
            )
        raise ValidationError(message, field="notation")
    job = runner.start_import(runtime(), source, **readings, dry_run=bool(body.get("dry_run")))
    return jsonify(job.as_dict()), 202


@bp.post("/run")
def start_migration() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    job = runner.start_migration(
        runtime(), dry_run=bool(body.get("dry_run")), notation=_readings(body)["notation"]
    )
    return jsonify(job.as_dict()), 202


@bp.get("/report")
def download_report() -> Response:
    report = runner.last_report(runtime())
    if report is None:
        raise NotFound(gettext("No import or migration has run yet."), field="report")
    if request.args.get("format", "json") == "csv":
        body, mimetype, extension = csv_of(report), "text/csv", "csv"
    else:
        response = jsonify(report)
        body, mimetype, extension = response.get_data(as_text=True), "application/json", "json"
    name = f"{report.get('operation', 'import')}-report.{extension}"
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
