"""Where the program keeps its data, and the few settings that change that."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

APP_NAME = "DentalImages"
HOME_ENV = "DENTAL_IMAGES_HOME"
DB_URL_ENV = "DENTAL_IMAGES_DB_URL"
LEGACY_ROOTS_ENV = "DENTAL_IMAGES_LEGACY_ROOTS"

IMAGES_DIRNAME = "dental_images"


@dataclass(frozen=True)
class Settings:
    """Resolved settings of one run. Every path the program writes lies under `data_dir`."""

    data_dir: Path
    db_url: str
    legacy_roots: tuple[Path, ...] = field(default_factory=tuple)

    @property
    def images_dir(self) -> Path:
        return self.data_dir / IMAGES_DIRNAME

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


def load_settings(data_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Resolve settings: an explicit `data_dir` wins over the environment, which wins over the OS
    default. The database is `dental.db` in the data folder unless DENTAL_IMAGES_DB_URL names
    another (e.g. PostgreSQL)."""
    chosen = data_dir or os.environ.get(HOME_ENV) or default_data_dir()
    root = Path(chosen).expanduser().resolve()
    db_url = os.environ.get(DB_URL_ENV) or sqlite_url(root / "dental.db")
    legacy = tuple(
        Path(p).expanduser().resolve()
        for p in os.environ.get(LEGACY_ROOTS_ENV, "").split(os.pathsep)
        if p.strip()
    )
    return Settings(data_dir=root, db_url=db_url, legacy_roots=legacy)
