import io

import pytest

from backend.security import SESSION_COOKIE, TOKEN_HEADER
from tests.conftest import PORT, PREFIX, TOKEN
from tests.helpers import image_bytes


@pytest.mark.parametrize(
    "path", ["/", "/api/patients", "/api/health", "/images/x/file", "/images/x/thumbnail"]
)
def test_every_page_api_and_image_needs_the_token(anonymous_client, path):
    assert anonymous_client.get(path).status_code == 403


def test_wrong_token_is_refused(anonymous_client):
    response = anonymous_client.get("/api/patients", headers={TOKEN_HEADER: "guess"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:1", f"192.168.1.5:{PORT}"]
)
def test_foreign_host_header_is_refused_even_with_the_token(app, host):
    client = app.test_client()
    response = client.get("/api/patients", headers={"Host": host, TOKEN_HEADER: TOKEN})
    assert response.status_code == 403


def test_localhost_name_with_our_port_is_accepted(app):
    client = app.test_client()
    response = client.get("/api/health", headers={"Host": f"localhost:{PORT}", TOKEN_HEADER: TOKEN})
    assert response.status_code == 200


def test_refused_requests_change_nothing(anonymous_client, client):
    response = anonymous_client.post("/api/patients", json={"full_name": "Intruder"})
    assert response.status_code == 403
    assert client.get("/api/patients").get_json()["patients"] == []


def test_tokenised_url_sets_a_strict_cookie_and_drops_the_token(anonymous_client, app):
    response = anonymous_client.get(f"/?token={TOKEN}&view=chart")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{PREFIX}/?view=chart"
    cookie = response.headers["Set-Cookie"]
    session = app.config["LAUNCH_SECRETS"].session
    assert (
        f"{SESSION_COOKIE}={session}" in cookie
        and "HttpOnly" in cookie
        and "SameSite=Strict" in cookie
    )
    assert f"Path={PREFIX}/" in cookie and TOKEN not in cookie
    assert anonymous_client.get("/api/health").status_code == 200
    assert anonymous_client.get("/").status_code == 200


def test_cookie_alone_cannot_change_data(anonymous_client, client):
    anonymous_client.get(f"/?token={TOKEN}")
    response = anonymous_client.post("/api/patients", json={"full_name": "Via cookie"})
    assert response.status_code == 403
    patient = client.post("/api/patients", json={"full_name": "Real"}).get_json()
    upload = anonymous_client.post(
        f"/api/patients/{patient['id']}/teeth/8/images",
        data={"image_type": "xray", "files": [(io.BytesIO(image_bytes("PNG")), "a.png")]},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 403


def test_no_cors_and_security_headers_are_set(client):
    response = client.get("/api/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    preflight = client.options("/api/patients", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_the_app_icon_is_served_as_favicon_without_the_token(anonymous_client, app):
    icon = anonymous_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/png"
    assert icon.data.startswith(b"\x89PNG")
    foreign = app.test_client().get("/favicon.ico", headers={"Host": f"evil.example:{PORT}"})
    assert foreign.status_code == 403


def test_static_files_need_no_token_but_the_right_host(anonymous_client):
    assert anonymous_client.get("/static/js/bridge.js").status_code == 200
