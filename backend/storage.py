"""The image store: files on disk under the data folder, and nothing else (no database here).

Layout: `dental_images/<patient uuid>/<tooth>/<type>/<file>`. A new file is written to a temporary
name in the tree, flushed to disk and then published under a name that has never been
used; an existing file is never overwritten. Every path is checked to stay under its root.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from backend import fileio, teeth
from backend.config import IMAGES_DIRNAME
from backend.fileio import file_sha256 as file_sha256  # where the store's users look for it
from backend.fileio import fsync_dir
from backend.models import IMAGE_TYPES

log = logging.getLogger(__name__)

GENERAL = "general"  # the folder of a patient's images that belong to no tooth
_TOOTH_PARTS = frozenset((*teeth.ALL_TEETH, GENERAL))
_MAX_STEM = 80
_LEGACY_NAME_DROP = re.compile(r"[^A-Za-z0-9\u0600-\u06FF\s\-_]")


class UnsafePath(ValueError):
    """A path that would leave its root, or a part that is not allowed in a path."""


def clean_stem(original_name: str | None) -> str:
    """A file-name stem safe on every OS: letters of any script, digits, `-` and `_`; spaces
    become `_`; everything else is dropped. Empty results become `image`."""
    stem = Path(original_name or "").stem if original_name else ""
    stem = unicodedata.normalize("NFC", stem)
    kept = []
    for char in stem:
        if char.isalnum() or char in "-_":
            kept.append(char)
        elif char.isspace():
            kept.append("_")
    cleaned = re.sub(r"_+", "_", "".join(kept)).strip("_-")
    return cleaned[:_MAX_STEM] or "image"


def legacy_patient_folder(full_name: str | None, patient_id: str) -> str:
    """The folder name the earlier app derived from a patient's name (see legacy-formats.md)."""
    cleaned = _LEGACY_NAME_DROP.sub("", full_name or "")
    cleaned = re.sub(r"\s+", "_", cleaned.strip())
    return cleaned or f"Patient_{patient_id}"


# The trash inside the image tree: `dental_images/.trash/<patient uuid>/<tooth>/<type>/<file>`
# mirrors the live place. Inside the tree, a move there is a rename on the same disk or share,
# and backups and restores carry it with the tree; hidden (a dot name), the scans for the earlier
# app's name-based folders pass it by.
TRASH_DIRNAME = ".trash"
_TRASH_PREFIX = f"{IMAGES_DIRNAME}/{TRASH_DIRNAME}/"


def is_trash_path(relative: str) -> bool:
    """Whether a row's folder (or a relative path) lies in the trash."""
    return relative.replace("\\", "/").startswith(_TRASH_PREFIX)


def trash_folder(folder: str) -> str:
    """The trash's mirror of a live folder (`dental_images/<uuid>/...` ->
    `dental_images/.trash/<uuid>/...`); a trash folder is returned as it is."""
    folder = folder.replace("\\", "/")
    if is_trash_path(folder):
        return folder
    first, _, rest = folder.partition("/")
    if first != IMAGES_DIRNAME:
        raise UnsafePath(f"not in the image tree ({IMAGES_DIRNAME}/): {folder!r}")
    return _TRASH_PREFIX + rest


def live_folder(folder: str) -> str:
    """The live folder a trash folder mirrors (the inverse of `trash_folder`)."""
    folder = folder.replace("\\", "/")
    if not is_trash_path(folder):
        return folder
    return f"{IMAGES_DIRNAME}/" + folder[len(_TRASH_PREFIX) :]


def image_folder(patient_id: str, tooth: str | None, image_type: str) -> str:
    """The relative folder of a patient's tooth and type, as stored in the database:
    `dental_images/<uuid>/<tooth>/<type>/` with forward slashes and a trailing slash;
    `dental_images/<uuid>/general/<type>/` for a patient-level image (tooth None)."""
    if tooth is None:
        tooth = GENERAL
    try:
        canonical_id = str(uuid.UUID(patient_id))
    except (ValueError, TypeError, AttributeError) as exc:
        raise UnsafePath(f"not a patient id: {patient_id!r}") from exc
    if canonical_id != patient_id.lower() or str(tooth) not in _TOOTH_PARTS:
        raise UnsafePath(f"not a valid folder part: {patient_id!r}/{tooth!r}")
    if image_type not in IMAGE_TYPES:
        raise UnsafePath(f"not an image type: {image_type!r}")
    return f"{IMAGES_DIRNAME}/{canonical_id}/{tooth}/{image_type}/"


def resolve_under(root: Path, relative: str) -> Path:
    """`root / relative`, refusing absolute paths, drive letters, `..` and anything whose real
    location falls outside `root`."""
    parts = relative.replace("\\", "/").split("/")
    if relative.startswith(("/", "\\")) or (parts and ":" in parts[0]):
        raise UnsafePath(f"absolute path refused: {relative!r}")
    if any(part in ("..",) or "\x00" in part for part in parts):
        raise UnsafePath(f"path escapes its folder: {relative!r}")
    candidate = root.joinpath(*[p for p in parts if p not in ("", ".")])
    real_root = fileio.real_path(root)
    real = fileio.real_path(candidate)
    if os.path.commonpath([real_root, real]) != real_root:
        raise UnsafePath(f"path escapes its folder: {relative!r}")
    return candidate


def _publish(temp: Path, final: Path) -> bool:
    """Give `temp` the name `final` unless that name exists. False when the name is taken.

    The file system itself decides who gets a name (a hard link, a rename that refuses a taken
    name, or an exclusive create), so two writers never clash, even on different PCs sharing a
    folder; see `fileio.publish`, whose reservation may leave an empty file after a crash."""
    return fileio.publish(temp, final, others_may_publish=True)


def is_leftover_reservation(path: Path) -> bool:
    """True for an empty file: a name reserved by a publish that never finished (see
    `fileio.publish`). No image file is ever empty."""
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


class ImageStore:
    """Files of the image tree and the thumbnails, addressed by paths relative to `data_dir`,
    the folder holding `dental_images/` (the data folder, or a shared folder)."""

    def __init__(
        self, data_dir: Path, thumbnails_dir: Path, extra_roots: Sequence[Path] = ()
    ) -> None:
        self.data_dir = Path(data_dir)
        self.images_dir = self.data_dir / IMAGES_DIRNAME
        self.thumbnails_dir = Path(thumbnails_dir)
        self.extra_roots = tuple(Path(r) for r in extra_roots)
        self.trash_dir = self.images_dir / TRASH_DIRNAME
        self._name_index = FileNameIndex(self.search_roots())

    # ----- paths
    def path_of(self, relative: str) -> Path:
        """The file or folder `relative` (as the database stores it, `dental_images/...`)
        names, which must lie inside the image tree: whatever a row says, nothing else of the
        data folder (the database, config.json, backups) is ever served, moved or deleted
        through it. UnsafePath otherwise."""
        first, _, rest = relative.replace("\\", "/").partition("/")
        if first != IMAGES_DIRNAME:
            raise UnsafePath(f"not in the image tree ({IMAGES_DIRNAME}/): {relative!r}")
        return resolve_under(self.images_dir, rest)

    def search_roots(self) -> list[Path]:
        """Folders that may hold image files, ours first, then those of the earlier app."""
        roots = [self.images_dir]
        for root in self.extra_roots:
            roots.append(root / IMAGES_DIRNAME if (root / IMAGES_DIRNAME).is_dir() else root)
        return roots

    # ----- writing
    def write_new(self, folder: str, original_name: str | None, extension: str, data: bytes) -> str:
        """Write `data` as a new file in `folder` and return its file name
        (`<clean stem>-<unix ms>.<ext>`, with `-2`, `-3`... if that name is taken)."""
        return self.publish_staged(self.stage(data), folder, original_name, extension)

    def stage(self, data: bytes) -> fileio.BackgroundWrite:
        """Start writing `data`, flushed, to a hidden file at the top of the image tree (the
        same disk as every folder of it), on a thread, while the caller checks the upload;
        then `publish_staged` gives it its place, or `discard()` removes it. Nothing appears
        in a patient's folders before the publish; a crash leaves a hidden `.part` file,
        which the sweep removes."""
        self.images_dir.mkdir(parents=True, exist_ok=True)
        return fileio.BackgroundWrite(self.images_dir / f".{secrets.token_hex(8)}.part", data)

    def publish_staged(
        self,
        staged: fileio.BackgroundWrite,
        folder: str,
        original_name: str | None,
        extension: str,
    ) -> str:
        """Give the staged file its name in `folder` (see `write_new`); the staged file is
        gone afterwards, also when this raises."""
        try:
            target_dir = self.path_of(folder)
            temp = staged.wait()
            target_dir.mkdir(parents=True, exist_ok=True)
            base = f"{clean_stem(original_name)}-{time.time_ns() // 1_000_000}"
            name = self._publish_unique(temp, target_dir, base, extension)
        finally:
            staged.discard()
        fsync_dir(target_dir)
        self._name_index.add(target_dir / name)
        return name

    def copy_in(self, source: Path, folder: str, file_name: str) -> str:
        """Place a copy (a hard link where possible) of `source` in `folder` under a fresh name
        derived from `file_name`. The source is left untouched."""
        target_dir = self.path_of(folder)
        temp = self._stage_copy(source, target_dir)
        try:
            stem, _, ext = file_name.rpartition(".")
            name = self._publish_unique(temp, target_dir, clean_stem(stem or file_name), ext)
        finally:
            fileio.discard(temp)
        fsync_dir(target_dir)
        self._name_index.add(target_dir / name)
        return name

    def place_copy(self, source: Path, relative: str) -> bool:
        """Place a copy (a hard link where possible) of `source` under exactly `relative`.
        False, with nothing changed, when that name is taken (it is never overwritten).
        The source is left untouched."""
        final = self.path_of(relative)
        temp = self._stage_copy(source, final.parent)
        try:
            published = _publish(temp, final)
        finally:
            fileio.discard(temp)
        if published:
            fsync_dir(final.parent)
            self._name_index.add(final)
        return published

    def _stage_copy(self, source: Path, target_dir: Path) -> Path:
        """A flushed copy (or hard link) of `source` under a temporary name in `target_dir`."""
        target_dir.mkdir(parents=True, exist_ok=True)
        temp = target_dir / f".{secrets.token_hex(8)}.part"
        try:
            try:
                os.link(fileio.long_path(source), fileio.long_path(temp))
            except OSError:
                fileio.copy_flushed(source, temp)
        except BaseException:
            fileio.discard(temp)
            raise
        return temp

    def _publish_unique(self, temp: Path, target_dir: Path, base: str, extension: str) -> str:
        """Publish `temp` as `<base>.<ext>`, or `<base>-2.<ext>`, `-3`... if that is taken (also
        under another case: `A.png` and `a.png` are one name on Windows and macOS)."""
        taken = fileio.names_in(target_dir)
        for name in fileio.numbered_names(fileio.safe_file_name(f"{base}.{extension}")):
            if fileio.name_key(name) not in taken and _publish(temp, target_dir / name):
                return name
        raise FileExistsError(f"no free file name for {base} in {target_dir}")

    # ----- removing
    def ensure_removable(self, relative: str) -> None:
        """Raise `fileio.FileInUse`, changing nothing, when the file cannot be removed now
        because another program has it open (Windows, after the bounded wait). Windows refuses
        a rename exactly when it would refuse the delete, so the file is renamed to a hidden
        name and straight back; nothing to check when the file is not there."""
        path = self.path_of(relative)
        aside = fileio.temp_name(path, ".probe")
        try:
            fileio.rename(path, aside)
        except FileNotFoundError:
            return
        if not fileio.publish(aside, path):  # never over a copy put back meanwhile
            fileio.unlink(aside)

    def remove(self, relative: str) -> bool:
        """Delete one file of the tree; False when it was already gone. Raises
        `fileio.FileInUse` when another program keeps it open (Windows)."""
        path = self.path_of(relative)
        if not fileio.unlink(path):
            return False
        self._name_index.discard(path)
        self._prune_empty_parents(path.parent)
        return True

    def sweep_empty_reservations(
        self, is_named: Callable[[str], bool], older_than: float = 3600.0
    ) -> list[str]:
        """Delete the empty files a crashed publish left under a final name (see
        `fileio.publish`) once they are older than `older_than` seconds and
        `is_named(relative path)` says no row names them. An empty file holds no bytes, so
        nothing is lost. Returns the relative paths removed. Staged files a crash cut short
        (see `stage`) go too once that old: a live write takes seconds."""
        staged = fileio.remove_stale(self.images_dir, ".*.part", older_than)
        if staged:
            log.info("removed %d staged file(s) of interrupted uploads", staged)
        cutoff = time.time() - older_than
        removed = []
        for dirpath, _dirs, names in os.walk(self.images_dir):
            for name in names:
                path = Path(dirpath) / name
                if name.startswith(".") or not self.is_in_new_layout(path):
                    continue
                try:
                    stat = path.stat()
                except OSError:
                    continue
                relative = (Path(IMAGES_DIRNAME) / path.relative_to(self.images_dir)).as_posix()
                if stat.st_size or stat.st_mtime > cutoff or is_named(relative):
                    continue
                if self.remove(relative):
                    removed.append(relative)
        if removed:
            log.info("removed %d empty leftover file(s) of interrupted writes", len(removed))
        return removed

    def remove_patient_tree(self, patient_id: str) -> int:
        """Delete a patient's whole folder (including files no row knew). Returns files removed."""
        folder = self.path_of(f"{IMAGES_DIRNAME}/{uuid.UUID(patient_id)}")
        if not folder.is_dir():
            return 0
        removed = sum(1 for p in folder.rglob("*") if p.is_file())
        fileio.remove_path(folder)
        self._name_index.invalidate()
        return removed

    def remove_trash_tree(self, patient_id: str) -> int:
        """Delete a patient's whole trash folder. Returns files removed."""
        folder = self.path_of(trash_folder(f"{IMAGES_DIRNAME}/{uuid.UUID(patient_id)}"))
        if not folder.is_dir():
            return 0
        removed = sum(1 for p in folder.rglob("*") if p.is_file())
        fileio.remove_path(folder)
        return removed

    def patient_files(self, patient_id: str, *, trash: bool = False) -> list[str]:
        """Relative paths of the files in a patient's live folder (with `trash`: in their
        trash folder), hidden and partial files excluded."""
        live = f"{IMAGES_DIRNAME}/{uuid.UUID(patient_id)}"
        folder = self.path_of(trash_folder(live) if trash else live)
        found = []
        for dirpath, _dirs, names in os.walk(folder):
            for name in sorted(names):
                if not name.startswith("."):
                    found.append(self.relative_of(Path(dirpath) / name) or "")
        return [f for f in found if f]

    def _prune_empty_parents(self, folder: Path) -> None:
        while folder != self.images_dir and self.images_dir in folder.parents:
            try:
                folder.rmdir()
            except OSError:
                return
            folder = folder.parent

    # ----- thumbnails
    def thumbnail_path(self, image_id: str) -> Path:
        canonical = str(uuid.UUID(image_id))
        return self.thumbnails_dir / canonical[:2] / f"{canonical}.jpg"

    def write_thumbnail(self, image_id: str, data: bytes) -> Path:
        path = self.thumbnail_path(image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{secrets.token_hex(8)}.part")
        try:
            temp.write_bytes(data)
            fileio.replace(temp, path)  # a thumbnail is derived data: replacing it is safe
        finally:
            fileio.discard(temp)
        return path

    def remove_thumbnail(self, image_id: str) -> None:
        try:
            fileio.unlink(self.thumbnail_path(image_id))
        except fileio.FileInUse:  # derived data: a leftover thumbnail names nothing
            log.warning("the thumbnail of %s is open in another program; left in place", image_id)

    # ----- searching
    def find_by_name(self, file_name: str) -> list[Path]:
        """Every file called `file_name` under the search roots (served from a warm index)."""
        return self._name_index.lookup(file_name)

    def legacy_candidates(self, legacy_folder: str, image_type: str, file_name: str) -> list[Path]:
        """Where the earlier app's name-based layout would have put this file, in every root."""
        found = []
        for root in self.search_roots():
            try:
                path = resolve_under(root, f"{legacy_folder}/{image_type}/{file_name}")
            except UnsafePath:
                continue
            if path.is_file():
                found.append(path)
        return found

    def is_in_new_layout(self, path: Path) -> bool:
        """True for a file inside a patient-id folder of our own image tree."""
        try:
            first = path.relative_to(self.images_dir).parts[0]
            uuid.UUID(first)
        except (ValueError, IndexError):
            return False
        return True

    def relative_of(self, path: Path) -> str | None:
        """The path relative to the data folder (as rows store it) of a file in our own image
        tree; None for a file anywhere else (a legacy root, say)."""
        try:
            return (Path(IMAGES_DIRNAME) / path.relative_to(self.images_dir)).as_posix()
        except ValueError:
            return None

    def tree_usage(self, *, trash: bool = False) -> tuple[int, int]:
        """(files, bytes) of the live image tree, or with `trash` of the trash alone."""
        if trash:
            return fileio.folder_usage(self.trash_dir)
        return fileio.folder_usage(self.images_dir, skip=(TRASH_DIRNAME,))


class FileNameIndex:
    """file name -> paths under some roots. Built by one walk on first use, kept up to date by
    the store's own writes, and rebuilt at most every `stale_after` seconds on a miss."""

    def __init__(self, roots: Iterable[Path], stale_after: float = 60.0) -> None:
        self._roots = list(roots)
        self._stale_after = stale_after
        self._lock = threading.Lock()
        self._index: dict[str, set[Path]] | None = None
        self._built_at = 0.0

    def lookup(self, file_name: str) -> list[Path]:
        with self._lock:
            if self._index is None:
                self._build()
            hits = self._existing(file_name)
            # >=: Windows' clock moves in 16 ms steps, so 0 s must still mean every miss.
            if not hits and time.monotonic() - self._built_at >= self._stale_after:
                self._build()
                hits = self._existing(file_name)
            return sorted(hits)

    def _existing(self, file_name: str) -> list[Path]:
        assert self._index is not None
        return [p for p in self._index.get(file_name, ()) if p.is_file()]

    def _build(self) -> None:
        index: dict[str, set[Path]] = {}
        for root in self._roots:
            for dirpath, dirs, names in os.walk(root):
                if TRASH_DIRNAME in dirs and Path(dirpath) == root:
                    dirs.remove(TRASH_DIRNAME)  # a trashed file is no candidate for a live row
                for name in names:
                    if not name.endswith(".part"):
                        index.setdefault(name, set()).add(Path(dirpath) / name)
        self._index = index
        self._built_at = time.monotonic()
        log.debug("file-name index built: %d names", len(index))

    def add(self, path: Path) -> None:
        with self._lock:
            if self._index is not None:
                self._index.setdefault(path.name, set()).add(path)

    def discard(self, path: Path) -> None:
        with self._lock:
            if self._index is not None:
                self._index.get(path.name, set()).discard(path)

    def invalidate(self) -> None:
        with self._lock:
            self._index = None
