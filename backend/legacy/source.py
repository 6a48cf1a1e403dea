"""Where an earlier installation's data is: its database and the roots of its image paths."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend.config import IMAGES_DIRNAME
from backend.errors import ValidationError
from backend.i18n import gettext
from backend.legacy.database import DB_NAME
from backend.legacy.installed_app import install_folders
from backend.legacy.paths import ROOT_CANDIDATES, find_image_roots


@dataclass(frozen=True)
class LegacySource:
    """The earlier app's data: `database` (its dental_clinic.db) and the folders its
    relative image paths may start from (`roots`, each holding a dental_images/)."""

    folder: Path
    database: Path
    roots: tuple[Path, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "database": str(self.database),
            "image_roots": [str(root) for root in self.roots],
        }


def locate_database(folder: Path) -> Path | None:
    """The dental_clinic.db in `folder` or in one of the places its builds used."""
    for suffix in ROOT_CANDIDATES:
        candidate = folder.joinpath(*suffix, DB_NAME)
        if candidate.is_file():
            return candidate
    return None


def open_source(path: Path | str, extra_roots: Iterable[Path] = ()) -> LegacySource:
    """The legacy data at `path`: a folder holding dental_clinic.db (or a folder whose
    dental_images/ lies beside it), or the .db file itself. Image roots are looked for beside
    the database, under public/upload/ and the other places the earlier app's builds used, and
    under `extra_roots`. Raises ValidationError when no database is found."""
    given = Path(path).expanduser()
    if not given.exists():
        raise ValidationError(gettext("{given} does not exist.", given=given), field="source")
    given = given.resolve()
    if given.is_file():
        database, folder = given, given.parent
    else:
        folder = given.parent if given.name == IMAGES_DIRNAME else given
        found = locate_database(folder)
        if found is None:
            raise ValidationError(
                gettext(
                    "No {db_name} was found in {folder}. Choose the earlier app's data folder "
                    "(the one holding dental_clinic.db) or the database file itself.",
                    db_name=DB_NAME,
                    folder=folder,
                ),
                field="source",
            )
        database = found
    bases = [folder]
    if database.parent != folder:
        bases.append(database.parent)
    roots = find_image_roots(bases[0], [*bases[1:], *(Path(r) for r in extra_roots)])
    return LegacySource(folder=folder, database=database, roots=tuple(roots))


def import_roots(named: Iterable[Path | str], configured: Iterable[Path]) -> list[Path]:
    """Where an import looks for image roots besides the database's own folder: the folders
    the person named, those configured for this installation, and the earlier app's program
    folders on this PC (Windows), in that order."""
    return [*(Path(p) for p in named), *configured, *install_folders()]
