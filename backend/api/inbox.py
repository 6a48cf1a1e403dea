"""The Inbox of received x-rays, and the DICOM receiver's settings of this PC."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, send_file
from flask.typing import ResponseReturnValue

from backend.api.common import db, json_body, runtime, store
from backend.api.images import _sandboxed
from backend.models import InboxItem
from backend.serializers import image_dict
from backend.usecases import inbox
from backend.usecases.dicom_receiver import ReceiverControl

bp = Blueprint("inbox", __name__, url_prefix="/api")


def _receiver() -> ReceiverControl:
    control = runtime().receiver
    assert control is not None  # open_runtime makes it
    return control


@bp.get("/dicom-receiver")
def receiver_status() -> ResponseReturnValue:
    return jsonify(_receiver().status())


@bp.put("/dicom-receiver")
def change_receiver() -> ResponseReturnValue:
    body = json_body()
    return jsonify(_receiver().change(body, take_over=body.get("take_over") is True))


def _item_dict(item: InboxItem) -> dict[str, Any]:
    patient = item.suggested_patient
    stored = inbox.already_stored(db(), item)
    return {
        "id": item.id,
        "received_at": item.received_at.isoformat(),
        "sender_ae": item.sender_ae,
        "sender_address": item.sender_address,
        "modality": item.modality,
        "study_date": item.study_date.isoformat() if item.study_date else None,
        "patient_name": item.patient_name,
        "patient_ref": item.patient_ref,
        "patient_birth_date": (
            item.patient_birth_date.isoformat() if item.patient_birth_date else None
        ),
        "rows": item.rows,
        "columns": item.columns,
        "frames": item.frames,
        "size_bytes": item.size_bytes,
        "sop_instance_uid": item.sop_instance_uid,
        "suggested_patient": None
        if patient is None
        else {
            "id": patient.id,
            "full_name": patient.full_name,
            "serial_number": patient.serial_number,
        },
        "match": item.match,
        "already_stored_image_id": stored.id if stored is not None else None,
        "thumbnail_url": f"/api/inbox/{item.id}/thumbnail",
    }


@bp.get("/inbox")
def list_inbox() -> ResponseReturnValue:
    items = [_item_dict(item) for item in inbox.list_inbox(db())]
    return jsonify({"items": items, "count": len(items)})


@bp.get("/inbox/<item_id>/thumbnail")
def inbox_thumbnail(item_id: str) -> ResponseReturnValue:
    item = inbox.get_item(db(), item_id)
    path = inbox.thumbnail(store(), item)
    return _sandboxed(
        send_file(path, mimetype="image/jpeg", etag=f"i-{item.sha256}", conditional=True)
    )


@bp.post("/inbox/<item_id>/assign")
def assign(item_id: str) -> ResponseReturnValue:
    body = json_body()
    image = inbox.assign(
        db(),
        store(),
        item_id,
        patient_id=body.get("patient_id"),
        tooth=body.get("tooth"),
        image_type=body.get("image_type"),
        description=body.get("description"),
        confirm_patient=body.get("confirm_patient", False),
    )
    return jsonify({"image": image_dict(image)}), 201


@bp.delete("/inbox/<item_id>")
def discard(item_id: str) -> ResponseReturnValue:
    inbox.discard(db(), store(), item_id)
    return jsonify({"discarded": item_id})
