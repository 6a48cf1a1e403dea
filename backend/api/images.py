"""Images: upload, list, edit, delete, and the files themselves."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, jsonify, request, send_file
from flask.typing import ResponseReturnValue

from backend import validation as check
from backend.api.common import db, json_body, store
from backend.api.errors import error_response
from backend.imaging import MIME_TYPES
from backend.security import FILE_CSP
from backend.serializers import image_dict
from backend.usecases import images, retrieval

bp = Blueprint("images", __name__)

# Asked again at each showing (answered 304 while the row's checksum is unchanged): a file lost
# from disk shows as missing at once instead of from the browser's cache.
FILE_CACHE = "private, no-cache"


@bp.get("/api/patients/<patient_id>/teeth/<tooth>/images")
def list_tooth_images(patient_id: str, tooth: str) -> ResponseReturnValue:
    found = images.list_tooth_images(db(), patient_id, tooth, request.args.get("type"))
    return jsonify({"images": [image_dict(i) for i in found]})


@bp.post("/api/patients/<patient_id>/teeth/<tooth>/images")
def upload_images(patient_id: str, tooth: str) -> ResponseReturnValue:
    uploads = [
        images.Upload(name=f.filename or "", data=f.read()) for f in request.files.getlist("files")
    ]
    form = request.form
    results = images.add_images(
        db(),
        store(),
        patient_id,
        tooth,
        form.get("image_type"),
        uploads,
        treatment_id=form.get("treatment_id"),
        description=form.get("description"),
        taken_date=form.get("taken_date"),
        confirm_patient=form.get(images.CONFIRM_PATIENT_FIELD),
    )
    listed = [
        {"name": r.name, "image": image_dict(r.image)}
        if r.image is not None
        else {"name": r.name, "error": r.error.to_dict() if r.error else None}
        for r in results
    ]
    stored = sum(1 for r in results if r.image is not None)
    if stored == 0:
        first = next(r for r in results if r.error is not None)
        assert first.error is not None
        body = first.error.to_dict()
        body["message"] = f"No file was stored. {first.name}: {first.error.message}"
        # 409 when the first refusal is a question (another patient) or a duplicate
        return error_response(first.error.status, body, results=listed)
    return jsonify({"results": listed, "stored": stored}), 201 if stored == len(results) else 207


@bp.get("/api/images/<image_id>")
def get_image(image_id: str) -> ResponseReturnValue:
    return jsonify(image_dict(images.get_image(db(), image_id)))


@bp.patch("/api/images/<image_id>")
def update_image(image_id: str) -> ResponseReturnValue:
    return jsonify(image_dict(images.update_image(db(), store(), image_id, json_body())))


@bp.put("/api/images/<image_id>/teeth")
def set_image_teeth(image_id: str) -> ResponseReturnValue:
    """{"teeth": [..]}: the other teeth the image shows (Universal codes); [] removes them."""
    body = json_body()
    check.only_known_fields(body, {"teeth"})
    return jsonify(image_dict(images.set_image_teeth(db(), image_id, body.get("teeth"))))


@bp.delete("/api/images/<image_id>")
def delete_image(image_id: str) -> ResponseReturnValue:
    images.delete_image(db(), store(), image_id)
    return jsonify({"deleted": image_id})


def _send(path: Path, mimetype: str, etag: str) -> Response:
    return _sandboxed(send_file(path, mimetype=mimetype, etag=etag, conditional=True))


def _sandboxed(response: Response) -> Response:
    response.headers["Cache-Control"] = FILE_CACHE
    # Opened as a page (a new tab), an image that also parses as HTML or script runs nothing.
    response.headers["Content-Security-Policy"] = FILE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/images/<image_id>/file")
def image_file(image_id: str) -> ResponseReturnValue:
    image = images.get_image(db(), image_id)
    path = retrieval.locate_image(db(), store(), image)
    extension = image.file_name.rsplit(".", 1)[-1].lower()
    return _send(path, MIME_TYPES.get(extension, "application/octet-stream"), image.sha256)


@bp.get("/images/<image_id>/thumbnail")
def image_thumbnail(image_id: str) -> ResponseReturnValue:
    """Also of an image in the trash (`?trash=1`), which the Trash list shows."""
    image = images.get_image(db(), image_id, trashed=request.args.get("trash") == "1")
    path = retrieval.thumbnail_file(db(), store(), image)
    return _send(path, "image/jpeg", f"t-{image.sha256}")


@bp.get("/images/<image_id>/frames/<int:number>")
def image_frame(image_id: str, number: int) -> ResponseReturnValue:
    """What the viewer shows of a file a browser cannot show (see images.rendition): frame
    `number` (from 1) of a DICOM image as PNG, with the file's window/level, or a HEIC photo
    as JPEG. Made from the original at each request; a browser that has it revalidates by ETag
    and is answered 304 before anything is decoded."""
    image = images.get_image(db(), image_id)
    etag = f"f{number}-{image.sha256}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        body, mimetype = images.rendition(db(), store(), image, number)
        response = Response(body, mimetype=mimetype)
    response.set_etag(etag)
    return _sandboxed(response)
