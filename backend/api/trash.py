"""The trash: what is in it, restoring an item, emptying it."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from backend.api.common import db, json_body, store
from backend.usecases import trash

bp = Blueprint("trash", __name__, url_prefix="/api/trash")


@bp.get("")
def list_trash() -> ResponseReturnValue:
    return jsonify(trash.list_trash(db()))


@bp.post("/patients/<patient_id>/restore")
def restore_patient(patient_id: str) -> ResponseReturnValue:
    return jsonify(trash.restore_patient(db(), store(), patient_id))


@bp.post("/images/<image_id>/restore")
def restore_image(image_id: str) -> ResponseReturnValue:
    return jsonify(trash.restore_image(db(), store(), image_id))


@bp.post("/empty")
def empty_trash() -> ResponseReturnValue:
    """Everything in the trash removed for good; the body must say {"confirm": true}."""
    trash.ensure_empty_confirmed(json_body().get("confirm"))
    return jsonify({"purged": trash.purge(db(), store(), everything=True)})
