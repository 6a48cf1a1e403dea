"""Typed errors of the use cases. Each carries the HTTP status and a stable code, so the API can
turn any of them into the one JSON error shape without knowing the details."""

from __future__ import annotations


class AppError(Exception):
    """Base of every error a user may see. `message` is written for the person at the desk."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return body


class ValidationError(AppError):
    status = 400
    code = "invalid_input"


class NotFound(AppError):
    status = 404
    code = "not_found"


class ImageMissing(AppError):
    """The row exists but its file could not be found anywhere the program looks."""

    status = 404
    code = "image_missing"

    def __init__(self, message: str, *, expected_path: str) -> None:
        super().__init__(message)
        self.expected_path = expected_path

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "expected_path": self.expected_path}


class Conflict(AppError):
    status = 409
    code = "conflict"


class FileOpenElsewhere(Conflict):
    """Windows refused to move or delete a file because another program has it open."""

    code = "file_in_use"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(AppError):
    status = 413
    code = "too_large"
