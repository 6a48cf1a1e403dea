"""App settings through the API: defaults, changes that persist, refusals that name the field."""

from pathlib import Path

from backend import __version__, i18n
from backend.config import Settings
from backend.imaging import FORMAT_NAMES
from backend.models import AppState
from backend.usecases import images
from backend.usecases import settings as app_settings
from tests.backend.test_error_shape import assert_error_shape


def test_defaults_and_installation_facts(client, settings):
    assert client.get("/api/settings").get_json() == {
        "numbering": "universal",
        "trash_days": "30",
        "language": "system",
        "theme": "system",
        "digits": "latin",
        "locale": i18n.os_language(),
        "data_dir": str(settings.data_dir),
        "images_dir": str(settings.images_dir),
        "images_root": str(settings.image_store_root),
        "db_url": app_settings.mask_db_url(settings.db_url),
        "version": __version__,
        "upload": {
            "max_bytes": images.DEFAULT_LIMITS.max_bytes,
            "max_dicom_bytes": images.DEFAULT_LIMITS.max_dicom_bytes,
            "formats": [*FORMAT_NAMES, "DICOM"],
        },
    }


def test_patch_changes_numbering_and_it_persists(client, runtime):
    response = client.patch("/api/settings", json={"numbering": "FDI"})
    assert response.status_code == 200
    assert response.get_json()["numbering"] == "fdi"
    assert client.get("/api/settings").get_json()["numbering"] == "fdi"
    with runtime.sessions() as session:
        assert session.get(AppState, "setting.numbering").value == "fdi"
    client.patch("/api/settings", json={"numbering": "palmer"})
    assert client.get("/api/settings").get_json()["numbering"] == "palmer"


def test_unknown_numbering_is_refused_and_changes_nothing(client):
    client.patch("/api/settings", json={"numbering": "fdi"})
    error = assert_error_shape(
        client.patch("/api/settings", json={"numbering": "roman"}), 400, "invalid_input"
    )
    assert error["field"] == "numbering" and "roman" in error["message"]
    assert client.get("/api/settings").get_json()["numbering"] == "fdi"


def test_unknown_and_read_only_fields_are_refused(client):
    error = assert_error_shape(
        client.patch("/api/settings", json={"colour_scheme": "dark"}), 400, "invalid_input"
    )
    assert error["field"] == "colour_scheme"
    error = assert_error_shape(
        client.patch("/api/settings", json={"data_dir": "/elsewhere"}), 400, "invalid_input"
    )
    assert error["field"] == "data_dir" and "cannot be changed" in error["message"]


def test_patch_needs_a_json_object_and_the_token(client, anonymous_client):
    response = client.patch("/api/settings", data="fdi", content_type="text/plain")
    assert assert_error_shape(response, 400, "invalid_input")["field"] == "body"
    forbidden = anonymous_client.patch("/api/settings", json={"numbering": "fdi"})
    assert_error_shape(forbidden, 403, "forbidden")
    assert client.get("/api/settings").get_json()["numbering"] == "universal"


def test_a_damaged_stored_value_reads_as_the_default(session):
    session.add(AppState(key="setting.numbering", value="klingon"))
    session.commit()
    assert app_settings.get_settings(session) == {"numbering": "universal", "trash_days": "30"}


def test_database_password_is_masked(tmp_path):
    settings = Settings(
        data_dir=Path(tmp_path), db_url="postgresql+psycopg://clinic:s3cret@db.local:5432/dental"
    )
    facts = app_settings.installation_facts(settings)
    assert facts["db_url"] == "postgresql+psycopg://clinic:***@db.local:5432/dental"
    assert "s3cret" not in str(facts)


def test_password_in_an_unparsable_url_is_masked_too():
    masked = app_settings.mask_db_url("weird scheme://admin:hunter2@host/db")
    assert "hunter2" not in masked and masked.endswith("admin:***@host/db")
