"""One JSON error shape for every error the server returns:
`{"error": {"status": int, "code": str, "message": str, "field"?: str, ...}}`."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from backend.errors import AppError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
}


def error_response(status: int, body: dict[str, object], **extra: object) -> Response:
    response = jsonify({"error": {"status": status, **body}, **extra})
    response.status_code = status
    return response


def _app_error(exc: AppError) -> Response:
    return error_response(exc.status, exc.to_dict())


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 413:
        message = "The upload is larger than the server accepts in one request."
    return error_response(
        status, {"code": _HTTP_CODES.get(status, "http_error"), "message": message}
    )


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error: %s", exc)
    return error_response(
        500,
        {
            "code": "internal_error",
            "message": "Something went wrong inside the program. Nothing was changed; "
            "the details are in the log.",
        },
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(AppError, _app_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
