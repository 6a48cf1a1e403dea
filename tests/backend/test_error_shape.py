"""The one JSON error shape, for every kind of error the server can return."""

import pytest

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
