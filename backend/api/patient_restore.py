"""Restoring one patient from a backup over HTTP: open the backup (a job; checked, its
database rebuilt), list and search its patients, preview one (a job), restore it (a
whole-store job). Jobs are polled at /api/jobs/<id>."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from backend.api.backup import backup_to_read
from backend.api.common import int_arg, json_body, runtime
from backend.backup import archives, patient_restore, patient_restore_plan, patient_source
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.jobs import Progress

bp = Blueprint("patient_restore", __name__, url_prefix="/api/patient-restore")


@bp.post("/open")
def open_backup() -> ResponseReturnValue:
    path, reading, secret = backup_to_read(json_body())
    rt = runtime()

    def work(progress: Progress) -> dict[str, Any]:
        opened = patient_source.open_backup(rt.settings, path, progress, reading, secret)
        return patient_restore_plan.list_patients(opened)

    return jsonify(rt.jobs.start("restore-patient-open", work, exclusive=False).as_dict()), 202


@bp.get("/<token>/patients")
def list_patients(token: str) -> ResponseReturnValue:
    opened = patient_source.opened_backup(token)
    query = request.args.get("q", "")
    return jsonify(patient_restore_plan.list_patients(opened, query, int_arg("limit", 50)))


@bp.delete("/<token>")
def close_backup(token: str) -> ResponseReturnValue:
    opened = patient_source.opened_backup(token)
    patient_source.close_backup(token)
    archives.discard_upload(runtime().settings, opened.archive)
    return jsonify({"closed": token})


@bp.post("/<token>/preview")
def start_preview(token: str) -> ResponseReturnValue:
    opened = patient_source.opened_backup(token)
    patient_id = patient_restore.parse_reference(json_body().get("patient"))
    rt = runtime()
    job = rt.jobs.start(
        "restore-patient-check",
        lambda p: patient_restore_plan.preview_patient(rt, opened, patient_id, p),
        exclusive=False,
    )
    return jsonify(job.as_dict()), 202


@bp.post("/<token>/restore")
def start_restore(token: str) -> ResponseReturnValue:
    opened = patient_source.opened_backup(token)
    body = json_body()
    patient_id = patient_restore.parse_reference(body.get("patient"))
    if body.get("confirm") is not True:
        raise ValidationError(
            gettext(
                "Restoring a patient replaces their current record: confirm it (confirm: true)."
            ),
            field="confirm",
        )
    rt = runtime()

    def work(progress: Progress) -> dict[str, Any]:
        result = patient_restore.restore_patient(rt, opened, patient_id, progress)
        patient_source.close_backup(opened.token)
        archives.discard_upload(rt.settings, opened.archive)
        return result

    return jsonify(rt.jobs.start("restore-patient", work).as_dict()), 202
