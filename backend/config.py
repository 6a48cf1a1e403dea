"""Where the program keeps its data, and the few settings that change that."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from backend import fileio

APP_NAME = "DentalImages"
HOME_ENV = "DENTAL_IMAGES_HOME"
DB_URL_ENV = "DENTAL_IMAGES_DB_URL"
LEGACY_ROOTS_ENV = "DENTAL_IMAGES_LEGACY_ROOTS"
IMAGES_ROOT_ENV = "DENTAL_IMAGES_IMAGES_ROOT"
MACHINE_CONFIG = "config.json"

IMAGES_DIRNAME = "dental_images"


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
        """Create the data folder and its fixed sub-folders if they are missing."""
        for folder in (
            self.data_dir,
            self.images_dir,
            self.thumbnails_dir,
            self.backups_dir,
            self.logs_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True)


def default_data_dir() -> Path:
    """The operating system's per-user application-data folder for this program."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False, roaming=True))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve().as_posix()}"


def read_machine_config(data_dir: Path) -> dict[str, str]:
    """This PC's own settings (`config.json` in the data folder): the database URL and the
    shared images folder, which differ per PC (drive letters) even for one clinic."""
    try:
        loaded = json.loads((data_dir / MACHINE_CONFIG).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{data_dir / MACHINE_CONFIG} cannot be read: {exc}") from exc
    return {k: str(v) for k, v in loaded.items() if isinstance(v, str | int)}


def write_machine_config(data_dir: Path, **changes: str | None) -> dict[str, str]:
    """Set (or, with None, remove) keys of this PC's `config.json`, written atomically."""
    config = read_machine_config(data_dir)
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    data_dir.mkdir(parents=True, exist_ok=True)
    fileio.write_json_atomic(data_dir / MACHINE_CONFIG, config)  # flushed: survives a power cut
    return config


def load_settings(data_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Resolve settings: an explicit `data_dir` wins over the environment, which wins over the OS
    default. The database is `dental.db` in the data folder unless DENTAL_IMAGES_DB_URL or this
    PC's config.json names another (PostgreSQL); the same goes for the images folder
    (DENTAL_IMAGES_IMAGES_ROOT, config key `images_root`)."""
    chosen = data_dir or os.environ.get(HOME_ENV) or default_data_dir()
    root = Path(chosen).expanduser().resolve()
    machine = read_machine_config(root)
    db_url = os.environ.get(DB_URL_ENV) or machine.get("db_url") or sqlite_url(root / "dental.db")
    images_root_text = os.environ.get(IMAGES_ROOT_ENV) or machine.get("images_root")
    images_root = Path(images_root_text).expanduser().resolve() if images_root_text else None
    legacy = tuple(
        Path(p).expanduser().resolve()
        for p in os.environ.get(LEGACY_ROOTS_ENV, "").split(os.pathsep)
        if p.strip()
    )
    return Settings(data_dir=root, db_url=db_url, legacy_roots=legacy, images_root=images_root)
