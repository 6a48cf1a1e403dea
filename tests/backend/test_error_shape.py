"""The one JSON error shape, for every kind of error the server can return."""

import io
import logging

import pytest

from tests.conftest import TOKEN

SHAPE_KEYS = {"status", "code", "message"}


def assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) >= SHAPE_KEYS
    assert error["status"] == status and error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return error


def test_validation_error_names_the_field(client):
    error = assert_error_shape(client.post("/api/patients", json={}), 400, "invalid_input")
    assert error["field"] == "full_name"


def test_body_that_is_not_json(client):
    response = client.post("/api/patients", data="nope", content_type="text/plain")
    assert assert_error_shape(response, 400, "invalid_input")["field"] == "body"


def test_not_found_record(client):
    assert_error_shape(client.get("/api/patients/nope"), 404, "not_found")


def test_unknown_route(client):
    assert_error_shape(client.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method(client):
    assert_error_shape(client.put("/api/patients"), 405, "method_not_allowed")


def test_forbidden(anonymous_client):
    assert_error_shape(anonymous_client.get("/api/patients"), 403, "forbidden")


def test_conflict(client):
    client.post("/api/patients", json={"full_name": "A", "serial_number": "9"})
    response = client.post("/api/patients", json={"full_name": "B", "serial_number": "9"})
    assert assert_error_shape(response, 409, "conflict")["field"] == "serial_number"


def test_too_large(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 10
    response = client.post("/api/patients", json={"full_name": "A" * 100})
    assert_error_shape(response, 413, "too_large")


@pytest.mark.filterwarnings("ignore")
def test_unexpected_error_hides_details(client, monkeypatch):
    from backend.usecases import patients

    def explode(*_args, **_kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(patients, "search_patients", explode)
    error = assert_error_shape(client.get("/api/patients"), 500, "internal_error")
    assert "secret" not in error["message"]


def _refusals(caplog):
    return [r for r in caplog.records if r.name == "backend.api.errors"]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "code", "level"),
    [
        ("post", "/api/patients", {}, 400, "invalid_input", logging.INFO),
        ("get", "/api/patients/nope", None, 404, "not_found", logging.INFO),
        ("get", "/api/nothing-here", None, 404, "not_found", logging.INFO),
        ("put", "/api/patients", None, 405, "method_not_allowed", logging.INFO),
    ],
)
def test_refused_requests_are_logged(client, caplog, method, url, body, status, code, level):
    with caplog.at_level(logging.INFO, logger="backend.api.errors"):
        response = getattr(client, method)(url, json=body)
    message = assert_error_shape(response, status, code)["message"]
    [record] = _refusals(caplog)
    assert record.levelno == level
    line = record.getMessage()
    assert f"{method.upper()} {url}: {status} {code}: {message}" in line
    assert TOKEN not in caplog.text


def test_a_conflict_is_logged_as_a_warning(client, caplog):
    client.post("/api/patients", json={"full_name": "A", "serial_number": "9"})
    with caplog.at_level(logging.INFO, logger="backend.api.errors"):
        response = client.post("/api/patients", json={"full_name": "B", "serial_number": "9"})
    assert_error_shape(response, 409, "conflict")
    [record] = _refusals(caplog)
    assert record.levelno == logging.WARNING
    assert "POST /api/patients: 409 conflict: " in record.getMessage()


def test_a_refused_token_is_logged_without_the_token_or_the_query(anonymous_client, caplog):
    with caplog.at_level(logging.INFO, logger="backend.api.errors"):
        response = anonymous_client.get("/api/patients?token=guessed-secret-value&q=x")
    assert_error_shape(response, 403, "forbidden")
    [record] = _refusals(caplog)
    assert record.levelno == logging.WARNING
    assert "GET /api/patients: 403 forbidden: Missing or wrong launch token" in record.getMessage()
    assert "guessed-secret-value" not in caplog.text and "token=" not in caplog.text


def test_a_refused_upload_is_logged(client, app, caplog):
    app.config["MAX_CONTENT_LENGTH"] = 10
    with caplog.at_level(logging.INFO, logger="backend.api.errors"):
        response = client.post("/api/patients", json={"full_name": "A" * 100})
    assert_error_shape(response, 413, "too_large")
    [record] = _refusals(caplog)
    assert record.levelno == logging.WARNING and "413 too_large" in record.getMessage()


def test_a_refused_upload_of_a_bad_kind_is_logged(client, caplog):
    patient = client.post("/api/patients", json={"full_name": "A"}).get_json()
    url = f"/api/patients/{patient['id']}/teeth/3/images"
    with caplog.at_level(logging.INFO, logger="backend.api.errors"):
        response = client.post(
            url,
            data={"image_type": "selfie", "files": [(io.BytesIO(b"x"), "a.png")]},
            content_type="multipart/form-data",
        )
    error = assert_error_shape(response, 400, "invalid_input")
    [record] = _refusals(caplog)
    assert f"POST {url}: 400 invalid_input: {error['message']}" in record.getMessage()
