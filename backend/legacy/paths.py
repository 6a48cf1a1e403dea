"""The earlier app's image paths and the folders they are relative to.

`image_path` comes in three forms, each possibly under `public/upload/`, with `/` or `\\`:
name-based `dental_images/<clean name>/<type>/<file>`, folder-only
`dental_images/<patient id>/<tooth>/<type>/` and full `dental_images/<patient id>/<tooth>/<type>/
<file>`. A path is only ever resolved inside one of the image roots (resolve_under): a row that
names `..` or an absolute path is looked up by its file name alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend.config import IMAGES_DIRNAME
from backend.storage import UnsafePath, resolve_under

NAME_BASED, FOLDER_ONLY, FULL, UNKNOWN = "name-based", "folder-only", "full", "unknown"
UPLOAD_PREFIX = ("public", "upload")
# Where a data folder, an app folder or an unpacked Electron build keep `dental_images/`.
ROOT_CANDIDATES = (
    (),
    UPLOAD_PREFIX,
    ("resources", "app", *UPLOAD_PREFIX),
    ("app", *UPLOAD_PREFIX),
)


@dataclass(frozen=True)
class LegacyPath:
    """One `image_path` value, taken apart."""

    kind: str
    relative: str  # normalised, starting at dental_images/ (empty for UNKNOWN)
    owner: str | None = None  # patient id (folder-only, full) or clean name (name-based)
    tooth: str | None = None  # the legacy number as written in the folder name
    image_type: str | None = None
    file_name: str | None = None

    @property
    def folder(self) -> str:
        """The relative folder that holds the file (or the files, for folder-only)."""
        return self.relative if self.kind == FOLDER_ONLY else self.relative.rpartition("/")[0]


def parse_image_path(value: object) -> LegacyPath:
    """Take a legacy `image_path` apart. Anything unexpected (absolute, `..`, other shapes)
    becomes UNKNOWN with at most a file name to search for."""
    text = str(value or "").strip().replace("\\", "/")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    base_name = parts[-1] if parts and not text.endswith("/") and parts[-1] != ".." else None
    if text.startswith("/") or (parts and ":" in parts[0]) or ".." in parts:
        return LegacyPath(UNKNOWN, "", file_name=base_name)
    if tuple(p.lower() for p in parts[:2]) == UPLOAD_PREFIX:
        parts = parts[2:]
    if not parts or parts[0] != IMAGES_DIRNAME:
        return LegacyPath(UNKNOWN, "", file_name=base_name)
    folder_only = text.endswith("/")
    if len(parts) >= 4 and _is_uuid(parts[1]):
        _, owner, tooth, kind, *rest = parts
        if folder_only and not rest:
            return LegacyPath(FOLDER_ONLY, "/".join(parts) + "/", owner.lower(), tooth, kind)
        if len(rest) == 1 and not folder_only:
            return LegacyPath(FULL, "/".join(parts), owner.lower(), tooth, kind, rest[0])
    if len(parts) == 4 and not folder_only and not _is_uuid(parts[1]):
        _, owner, kind, name = parts
        return LegacyPath(NAME_BASED, "/".join(parts), owner, None, kind, name)
    return LegacyPath(UNKNOWN, "", file_name=base_name)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def find_image_roots(base: Path, extra: Iterable[Path] = ()) -> list[Path]:
    """Folders under which `dental_images/` exists: `base` and the places the earlier app's
    builds used relative to it, then `extra` (and their own such places), without repeats."""
    roots: list[Path] = []
    for folder in (base, *extra):
        for suffix in ROOT_CANDIDATES:
            candidate = folder.joinpath(*suffix)
            if (candidate / IMAGES_DIRNAME).is_dir() and candidate.resolve() not in {
                r.resolve() for r in roots
            }:
                roots.append(candidate)
    return roots


@dataclass
class ImageRoots:
    """The folders a legacy installation's relative paths may be relative to, with a lazily
    built index of file names under their `dental_images/`."""

    roots: Sequence[Path]
    _by_name: dict[str, list[Path]] | None = field(default=None, repr=False)

    def existing(self, relative: str) -> list[Path]:
        """Every file at `relative` (a path starting at dental_images/) in any root."""
        found = []
        for root in self.roots:
            try:
                path = resolve_under(root, relative)
            except UnsafePath:
                continue
            if path.is_file():
                found.append(path)
        return found

    def files_in(self, relative_folder: str) -> list[Path]:
        """Files directly in `relative_folder`, in every root (hidden and partial files
        excluded), sorted by name then root order."""
        found: list[Path] = []
        for root in self.roots:
            try:
                folder = resolve_under(root, relative_folder)
            except UnsafePath:
                continue
            if folder.is_dir():
                found.extend(p for p in sorted(folder.iterdir()) if _is_image_file(p))
        return found

    def by_name(self, file_name: str) -> list[Path]:
        """Every file called `file_name` under any root's dental_images/."""
        if self._by_name is None:
            self._by_name = {}
            for path in self.all_files():
                self._by_name.setdefault(path.name, []).append(path)
        return list(self._by_name.get(file_name, ()))

    def all_files(self) -> list[Path]:
        """Every file under the roots' dental_images/ (sorted within each root)."""
        found: list[Path] = []
        for root in self.roots:
            for dirpath, dirs, names in os.walk(root / IMAGES_DIRNAME):
                dirs.sort()
                found.extend(Path(dirpath) / n for n in sorted(names))
        return [p for p in found if _is_image_file(p)]

    def relative_to_root(self, path: Path) -> str:
        """`path` relative to the root it lies under (starting at dental_images/)."""
        for root in self.roots:
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                continue
        return path.name


def _is_image_file(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(".part")
