from pathlib import Path

import pytest

from backend.config import (
    DB_URL_ENV,
    HOME_ENV,
    IMAGES_ROOT_ENV,
    default_data_dir,
    load_settings,
    write_machine_config,
)


def test_explicit_data_dir_wins_over_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    settings = load_settings(tmp_path / "explicit")
    assert settings.data_dir == (tmp_path / "explicit").resolve()


def test_environment_overrides_the_os_default(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "from-env"))
    assert load_settings().data_dir == (tmp_path / "from-env").resolve()


def test_default_is_the_per_user_app_data_folder():
    settings = load_settings()
    assert settings.data_dir == default_data_dir().resolve()
    assert "DentalImages" in settings.data_dir.parts[-1]


def test_default_database_is_sqlite_in_the_data_folder(tmp_path):
    settings = load_settings(tmp_path)
    assert settings.is_sqlite
    assert settings.db_url.endswith("/dental.db")
    assert Path(settings.db_url.removeprefix("sqlite:///")).parent == tmp_path.resolve()


def test_database_url_setting_is_taken_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(DB_URL_ENV, "postgresql+psycopg://clinic@server/dental")
    settings = load_settings(tmp_path)
    assert settings.db_url == "postgresql+psycopg://clinic@server/dental"
    assert not settings.is_sqlite


def test_ensure_folders_creates_the_fixed_layout(tmp_path):
    settings = load_settings(tmp_path / "new")
    settings.ensure_folders()
    for name in ("dental_images", "thumbnails", "backups", "logs"):
        assert (tmp_path / "new" / name).is_dir()


def test_this_pcs_config_file_points_at_a_server_and_a_shared_folder(tmp_path):
    share = tmp_path / "share"
    write_machine_config(
        tmp_path / "pc", db_url="postgresql+psycopg://clinic@server/dental", images_root=str(share)
    )
    settings = load_settings(tmp_path / "pc")
    assert settings.db_url == "postgresql+psycopg://clinic@server/dental"
    assert settings.images_dir == share.resolve() / "dental_images"
    assert settings.thumbnails_dir == (tmp_path / "pc").resolve() / "thumbnails"


def test_environment_wins_over_the_config_file(tmp_path, monkeypatch):
    write_machine_config(tmp_path, images_root=str(tmp_path / "a"))
    monkeypatch.setenv(IMAGES_ROOT_ENV, str(tmp_path / "b"))
    assert load_settings(tmp_path).image_store_root == (tmp_path / "b").resolve()


def test_config_keys_can_be_removed_and_bad_files_are_reported(tmp_path):
    write_machine_config(tmp_path, images_root="/x")
    assert write_machine_config(tmp_path, images_root=None) == {}
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"config\.json cannot be read"):
        load_settings(tmp_path)
