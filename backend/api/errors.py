"""One JSON error shape for every error the server returns:
`{"error": {"status": int, "code": str, "message": str, "field"?: str, ...}}`."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from backend.errors import AppError
from backend.i18n import gettext
from backend.storage import UnsafePath

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


_MAX_LOGGED_MESSAGE = 300


def _log_refusal(status: int, code: str, message: str) -> None:
    """One log line for a request the server refused (4xx): method, path, status, code and the
    message the user saw. The path is logged without its query string, where a launch token can
    travel, and no header, cookie or body is logged."""
    level = logging.WARNING if status in (403, 409, 413) else logging.INFO
    log.log(
        level,
        "refused %s %s: %d %s: %s",
        request.method,
        request.path,
        status,
        code,
        message[:_MAX_LOGGED_MESSAGE],
    )


def _app_error(exc: AppError) -> Response:
    if exc.status >= 500:
        log.error("%s %s failed: %s: %s", request.method, request.path, exc.code, exc.message)
    else:
        _log_refusal(exc.status, exc.code, exc.message)
    return error_response(exc.status, exc.to_dict())


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if status == 413:
        message = gettext("The upload is larger than the server accepts in one request.")
    code = _HTTP_CODES.get(status, "http_error")
    if 400 <= status < 500:
        _log_refusal(status, code, message)
    return error_response(status, {"code": code, "message": message})


def _unsafe_path(exc: UnsafePath) -> Response:
    """A path that would leave its folder, from a request or from a record (a row that names
    a file outside the image tree): refused before anything was read or changed."""
    message = gettext("Refused: {reason}. Nothing was read or changed.", reason=exc)
    _log_refusal(409, "unsafe_path", message)
    return error_response(409, {"code": "unsafe_path", "message": message})


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error: %s", exc)
    return error_response(
        500,
        {
            "code": "internal_error",
            "message": gettext(
                "Something went wrong inside the program. Nothing was changed; "
                "the details are in the log."
            ),
        },
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(AppError, _app_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(UnsafePath, _unsafe_path)
    app.register_error_handler(Exception, _unexpected)
