"""Paths no file system accepts and dates not written YYYY-MM-DD are the person's mistake: 400
with a message naming the field and the limit, never a 500."""

import io

import pytest

from backend.validation import MAX_NAME_CHARS, MAX_PATH_CHARS
from tests.helpers import image_bytes

LONG_PATH = "/tmp/" + "a" * 5000
LONG_NAME = "/tmp/" + "b" * 300
NUL_PATH = "/tmp/backup\x00.zip"


@pytest.mark.parametrize("bad", [LONG_PATH, LONG_NAME, NUL_PATH])
@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("post", "/api/backups/verify", lambda p: {"path": p}, "path"),
        ("post", "/api/restore/preview", lambda p: {"path": p}, "path"),
        ("post", "/api/restore", lambda p: {"path": p, "confirm": True}, "path"),
        ("post", "/api/backups", lambda p: {"folder": p}, "folder"),
        (
            "patch",
            "/api/backup/settings",
            lambda p: {"schedule": "daily", "time": "19:00", "folder": p},
            "folder",
        ),
        ("post", "/api/migration/preview", lambda p: {"source": p}, "source"),
        (
            "post",
            "/api/migration/import",
            lambda p: {"source": p, "notation": "universal"},
            "source",
        ),
        ("put", "/api/settings/server", lambda p: {"db_url": "", "images_root": p}, "images_root"),
    ],
)
def test_unusable_paths_are_a_400_naming_the_field(client, method, url, body, field, bad):
    response = getattr(client, method)(url, json=body(bad))
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["field"] == field
    if bad is LONG_PATH:
        assert str(MAX_PATH_CHARS) in error["message"]
    elif bad is LONG_NAME:
        assert str(MAX_NAME_CHARS) in error["message"]
    else:
        assert "control character" in error["message"]


def _upload(client, patient_id, taken_date):
    return client.post(
        f"/api/patients/{patient_id}/teeth/8/images",
        data={
            "files": [(io.BytesIO(image_bytes("PNG")), "a.png")],
            "image_type": "xray",
            "taken_date": taken_date,
        },
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "written", ["20200101", "2020-W01-1", "2020-001", "2020-1-1", "٢٠٢٠-01-01"]
)
def test_taken_date_only_as_yyyy_mm_dd(client, patient, written):
    refused = _upload(client, patient.id, written)
    assert refused.status_code == 400
    error = refused.get_json()["error"]
    assert error["field"] == "taken_date" and "YYYY-MM-DD" in error["message"]
    assert _upload(client, patient.id, "2020-01-01").status_code == 201


def test_taken_date_edit_only_as_yyyy_mm_dd(client, patient):
    upload = _upload(client, patient.id, "2020-01-02")
    assert upload.status_code == 201, upload.get_data(as_text=True)
    image_id = upload.get_json()["results"][0]["image"]["id"]
    refused = client.patch(f"/api/images/{image_id}", json={"taken_date": "20200101"})
    assert refused.status_code == 400
    assert refused.get_json()["error"]["field"] == "taken_date"
    assert client.get(f"/api/images/{image_id}").get_json()["taken_date"] == "2020-01-02"
    changed = client.patch(f"/api/images/{image_id}", json={"taken_date": "2020-01-03"})
    assert changed.status_code == 200 and changed.get_json()["taken_date"] == "2020-01-03"
