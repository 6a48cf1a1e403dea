"""DICOM out: the clinic's DICOM node (Settings) and the export of a patient's images."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from backend.api.common import db, json_body, runtime
from backend.usecases import dicom_export

bp = Blueprint("dicom_export", __name__, url_prefix="/api")


@bp.get("/dicom-node")
def node_status() -> ResponseReturnValue:
    return jsonify(dicom_export.node_status(db()))


@bp.put("/dicom-node")
def save_node() -> ResponseReturnValue:
    return jsonify(dicom_export.save_node(db(), json_body()))


@bp.post("/dicom-node/test")
def test_node() -> ResponseReturnValue:
    """C-ECHO the node the body describes (the form as typed), else the stored one."""
    body = json_body()
    return jsonify(dicom_export.test_node(db(), body or None))


@bp.post("/patients/<patient_id>/dicom-export")
def export_images(patient_id: str) -> ResponseReturnValue:
    """Checked at once (a bad request starts nothing), then run as a job: poll /api/jobs/<id>."""
    rt = runtime()
    own = (rt.settings.data_dir, rt.settings.image_store_root)
    request = dicom_export.check_request(db(), patient_id, json_body(), own)
    job = dicom_export.start_export(rt.jobs, rt.sessions, lambda: rt.store, request)
    return jsonify({"job": job.as_dict()}), 202
