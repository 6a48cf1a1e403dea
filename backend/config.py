"""Where the program keeps its data, and the few settings that change that."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import keyring
import platformdirs
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from backend import fileio, i18n, private_files

log = logging.getLogger(__name__)

APP_NAME = "DentalImages"
HOME_ENV = "DENTAL_IMAGES_HOME"
DB_URL_ENV = "DENTAL_IMAGES_DB_URL"
LEGACY_ROOTS_ENV = "DENTAL_IMAGES_LEGACY_ROOTS"
IMAGES_ROOT_ENV = "DENTAL_IMAGES_IMAGES_ROOT"
MACHINE_CONFIG = "config.json"
# The database server's password lives in the OS credential store (Windows Credential Manager,
# macOS Keychain, Secret Service) under this service name; config.json then says so.
KEYRING_SERVICE = "DentalImages"
PASSWORD_KEY = "db_password"
IN_KEYRING = "keyring"

IMAGES_DIRNAME = "dental_images"

# How this PC shows the program, kept in its config.json (not in the clinic's database: one
# receptionist's PC may be in Arabic and dark, the dentist's in English and light).
PC_PREFERENCES: dict[str, tuple[str, ...]] = {
    "language": i18n.LANGUAGE_CHOICES,
    "theme": i18n.THEME_CHOICES,
    "digits": i18n.DIGIT_CHOICES,
}
PC_PREFERENCE_DEFAULTS: dict[str, str] = {
    "language": i18n.SYSTEM,
    "theme": i18n.SYSTEM,
    "digits": "latin",
}


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one run. Every path the program writes lies under `data_dir`."""

    data_dir: Path
    db_url: str
    legacy_roots: tuple[Path, ...] = field(default_factory=tuple)
    images_root: Path | None = None

    @property
    def image_store_root(self) -> Path:
        """The folder holding `dental_images/`: the data folder, or a shared folder (a network
        share that several PCs use) when one is set."""
        return self.images_root or self.data_dir

    @property
    def images_dir(self) -> Path:
        return self.image_store_root / IMAGES_DIRNAME

    @property
    def thumbnails_dir(self) -> Path:
        return self.data_dir / "thumbnails"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def ensure_folders(self) -> None:
        """Create the data folder and its fixed sub-folders if they are missing, private to
        this account (see backend.private_files; a shared images folder is left as it is)."""
        own = [self.thumbnails_dir, self.backups_dir, self.logs_dir]
        if self.images_root is None:
            own.append(self.images_dir)
        for folder in (self.data_dir, *own):
            folder.mkdir(mode=private_files.FOLDER_MODE, parents=True, exist_ok=True)
        self.images_dir.mkdir(parents=True, exist_ok=True)
        database = self.data_dir / "dental.db"
        if self.db_url == sqlite_url(database):
            private_files.create_private_file(database)
        private_files.make_private(self.data_dir, own, [database, self.data_dir / MACHINE_CONFIG])


def default_data_dir() -> Path:
    """The operating system's per-user application-data folder for this program."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=True))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve().as_posix()}"


def read_machine_config(data_dir: Path) -> dict[str, str]:
    """This PC's own settings (`config.json` in the data folder): the database URL and the
    shared images folder, which differ per PC (drive letters) even for one clinic. The URL is
    as written: without its password when that is in the OS credential store."""
    try:
        loaded = json.loads((data_dir / MACHINE_CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{data_dir / MACHINE_CONFIG} cannot be read: {exc}") from exc
    return {k: str(v) for k, v in loaded.items() if isinstance(v, str | int)}


def write_machine_config(data_dir: Path, **changes: str | None) -> dict[str, str]:
    """Set (or, with None, remove) keys of this PC's `config.json`, written atomically and
    0600. A `db_url` password goes to the OS credential store and the file keeps the URL
    without it; where no credential store is usable (a headless Linux PC) it stays in the file,
    with a warning in the log."""
    config = read_machine_config(data_dir)
    if "db_url" in changes:
        config.pop(PASSWORD_KEY, None)
        url = changes["db_url"]
        if url is not None and _store_password(url):
            changes["db_url"] = _without_password(url)
            config[PASSWORD_KEY] = IN_KEYRING
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    data_dir.mkdir(mode=private_files.FOLDER_MODE, parents=True, exist_ok=True)
    path = data_dir / MACHINE_CONFIG
    fileio.write_json_atomic(path, config)  # flushed: survives a power cut
    private_files.restrict(path)
    return config


def read_pc_preferences(data_dir: Path) -> dict[str, str]:
    """This PC's language, theme and digits: the values in config.json, or the defaults for any
    that is missing, unusable, or when the file cannot be read (the program still starts)."""
    try:
        stored = read_machine_config(data_dir)
    except ValueError as exc:
        log.warning("%s; showing the program with its default language and theme", exc)
        stored = {}
    preferences = dict(PC_PREFERENCE_DEFAULTS)
    for name, choices in PC_PREFERENCES.items():
        value = stored.get(name)
        if value in choices:
            preferences[name] = value
        elif value is not None:
            log.warning(
                "config.json: %s=%r is not one of %s; using %r",
                name,
                value,
                choices,
                preferences[name],
            )
    return preferences


def pc_language(data_dir: Path) -> str:
    """The language this PC shows the program in: the one chosen in Settings, else the OS's."""
    return i18n.effective_language(read_pc_preferences(data_dir)["language"])


def move_password_to_keyring(data_dir: Path) -> bool:
    """At start: a server password still written in config.json (an earlier version, or no
    credential store at the time) moves to the credential store if one is usable now. True
    when it moved."""
    try:
        config = read_machine_config(data_dir)
    except ValueError:
        return False  # load_settings reports the unreadable file
    url = config.get("db_url")
    if not url or config.get(PASSWORD_KEY) == IN_KEYRING or _password_of(url) is None:
        private_files.restrict(data_dir / MACHINE_CONFIG)
        return False
    written = write_machine_config(data_dir, db_url=url)
    moved = written.get(PASSWORD_KEY) == IN_KEYRING
    if moved:
        log.info("the database server's password moved from config.json to the credential store")
    return moved


def _password_of(url: str) -> str | None:
    try:
        return make_url(url).password
    except ArgumentError:
        return None


def _without_password(url: str) -> str:
    # URL.set(password=None) keeps the password (None means "unchanged" there)
    return make_url(url)._replace(password=None).render_as_string(hide_password=False)


def _keyring_user(url: str) -> str:
    """The credential's name: the URL without its password (user, server, port, database)."""
    return _without_password(url)


def _store_password(url: str) -> bool:
    password = _password_of(url)
    if password is None:
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, _keyring_user(url), password)
    except Exception as exc:  # any backend failure (none installed, locked, no D-Bus): unusable
        log.warning(
            "no usable credential store (%s): the database server's password stays in "
            "config.json, readable only by this account",
            exc,
        )
        return False
    return True


def _with_stored_password(url: str) -> str:
    try:
        password = keyring.get_password(KEYRING_SERVICE, _keyring_user(url))
    except Exception as exc:  # as in _store_password
        log.error("the credential store cannot be read (%s): connecting without a password", exc)
        return url
    if password is None:
        log.error("the database server's password is missing from the credential store")
        return url
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def load_settings(data_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Resolve settings: an explicit `data_dir` wins over the environment, which wins over the OS
    default. The database is `dental.db` in the data folder unless DENTAL_IMAGES_DB_URL or this
    PC's config.json names another (PostgreSQL); the same goes for the images folder
    (DENTAL_IMAGES_IMAGES_ROOT, config key `images_root`)."""
    chosen = data_dir or os.environ.get(HOME_ENV) or default_data_dir()
    root = Path(chosen).expanduser().resolve()
    machine = read_machine_config(root)
    configured = machine.get("db_url")
    if configured and machine.get(PASSWORD_KEY) == IN_KEYRING:
        configured = _with_stored_password(configured)
    db_url = os.environ.get(DB_URL_ENV) or configured or sqlite_url(root / "dental.db")
    images_root_text = os.environ.get(IMAGES_ROOT_ENV) or machine.get("images_root")
    images_root = Path(images_root_text).expanduser().resolve() if images_root_text else None
    legacy = tuple(
        Path(p).expanduser().resolve()
        for p in os.environ.get(LEGACY_ROOTS_ENV, "").split(os.pathsep)
        if p.strip()
    )
    return Settings(data_dir=root, db_url=db_url, legacy_roots=legacy, images_root=images_root)
