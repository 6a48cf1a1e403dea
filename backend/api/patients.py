"""Patients, their chart and their treatments, and the search across everyone's images."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from backend.api.common import db, int_arg, json_body, store
from backend.serializers import image_dict, patient_dict, treatment_dict
from backend.usecases import chart, image_search, patients, treatments
from backend.validation import tooth

bp = Blueprint("patients", __name__, url_prefix="/api")


@bp.get("/patients")
def list_patients() -> ResponseReturnValue:
    found = patients.search_patients(
        db(), request.args.get("q", ""), limit=int_arg("limit", 50), offset=int_arg("offset", 0)
    )
    counts = patients.image_counts_by_patient(db(), [p.id for p in found])
    return jsonify({"patients": [patient_dict(p, image_count=counts.get(p.id, 0)) for p in found]})


@bp.get("/search/images")
def search_images() -> ResponseReturnValue:
    """Images of any patient by description (q), type, tooth and the day taken (from, to:
    YYYY-MM-DD, both included), newest first, a page at a time (limit, offset)."""
    page = image_search.search_images(
        db(),
        image_search.read_image_search(request.args.to_dict()),
        limit=int_arg("limit", 50),
        offset=int_arg("offset", 0),
    )
    return jsonify(
        {
            "images": [
                {
                    **image_dict(image),
                    "patient": {
                        "id": image.patient.id,
                        "full_name": image.patient.full_name,
                        "serial_number": image.patient.serial_number,
                    },
                }
                for image in page.images
            ],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
        }
    )


@bp.post("/patients")
def create_patient() -> ResponseReturnValue:
    patient = patients.create_patient(db(), json_body())
    return jsonify(patient_dict(patient, image_count=0)), 201


@bp.get("/patients/<patient_id>")
def get_patient(patient_id: str) -> ResponseReturnValue:
    patient = patients.get_patient(db(), patient_id)
    count = patients.image_counts_by_patient(db(), [patient.id]).get(patient.id, 0)
    return jsonify(patient_dict(patient, image_count=count))


@bp.patch("/patients/<patient_id>")
def update_patient(patient_id: str) -> ResponseReturnValue:
    return jsonify(patient_dict(patients.update_patient(db(), patient_id, json_body())))


@bp.delete("/patients/<patient_id>")
def delete_patient(patient_id: str) -> ResponseReturnValue:
    return jsonify({"deleted": patients.delete_patient(db(), store(), patient_id)})


@bp.get("/patients/<patient_id>/chart")
def patient_chart(patient_id: str) -> ResponseReturnValue:
    return jsonify(chart.patient_chart(db(), patient_id))


@bp.get("/patients/<patient_id>/treatments")
def list_treatments(patient_id: str) -> ResponseReturnValue:
    patients.get_patient(db(), patient_id)
    wanted = request.args.get("tooth")
    found = treatments.list_treatments(db(), patient_id, tooth(wanted) if wanted else None)
    return jsonify({"treatments": [treatment_dict(t) for t in found]})


@bp.post("/patients/<patient_id>/treatments")
def create_treatment(patient_id: str) -> ResponseReturnValue:
    treatment = treatments.create_treatment(db(), patient_id, json_body())
    return jsonify(treatment_dict(treatment)), 201


@bp.patch("/treatments/<treatment_id>")
def update_treatment(treatment_id: str) -> ResponseReturnValue:
    return jsonify(treatment_dict(treatments.update_treatment(db(), treatment_id, json_body())))


@bp.delete("/treatments/<treatment_id>")
def delete_treatment(treatment_id: str) -> ResponseReturnValue:
    treatments.delete_treatment(db(), treatment_id)
    return jsonify({"deleted": treatment_id})
