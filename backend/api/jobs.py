"""Polling and cancelling long jobs. Starting one is the business of the blueprint that owns it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from backend.api.common import runtime

bp = Blueprint("jobs", __name__, url_prefix="/api/jobs")


@bp.get("/<job_id>")
def job_status(job_id: str) -> Response:
    return jsonify(runtime().jobs.get(job_id).as_dict())


@bp.post("/<job_id>/cancel")
def cancel_job(job_id: str) -> Response:
    return jsonify(runtime().jobs.cancel(job_id).as_dict())
