"""Finding an image's file, with the fallbacks the usage guide promises, and its thumbnail."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Session

from backend import dicom, imaging
from backend.errors import ImageMissing, NotFound
from backend.i18n import gettext
from backend.models import Image
from backend.storage import (
    ImageStore,
    file_sha256,
    is_leftover_reservation,
    legacy_patient_folder,
)

log = logging.getLogger(__name__)

_ATTEMPTS = 3


class _SourceChanged(Exception):
    """The file picked by a fallback went away or changed before it was copied."""


class _KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


_restoring = _KeyedLocks()


def _present(path: Path) -> bool:
    return path.is_file() and not is_leftover_reservation(path)


def _pick(candidates: list[Path], image: Image) -> Path | None:
    """The one candidate with the row's checksum (or the only candidate if the row has none)."""
    candidates = [p for p in candidates if not is_leftover_reservation(p)]
    if image.sha256:
        matching = [p for p in candidates if file_sha256(p) == image.sha256]
        return matching[0] if matching else None
    return candidates[0] if len(candidates) == 1 else None


def locate_image(session: Session, store: ImageStore, image: Image) -> Path:
    """The file of `image`: at its place in the layout; else in the earlier app's name-based
    layout; else anywhere under the image roots by file name. A file found by a fallback is
    copied back to its place and verified against the found file's bytes, then the row is
    corrected; the found file is removed only when it is a stray of our own tree that no row
    names. One request at a time restores a given image (a lock in this process, the row locked
    in the database across PCs where the engine can); a copy that another request or PC put back
    meanwhile counts as success. Raises ImageMissing when nothing finds it."""
    expected = store.path_of(image.relative_path)
    if _present(expected):
        return expected
    session.commit()  # hold no row lock of the caller's while waiting for the image's lock
    with _restoring.hold(image.id):
        try:
            path = _locate_locked(session, store, image)
        except ImageMissing:
            session.commit()  # nothing changed; ends the transaction holding the row lock
            raise
        except BaseException:
            session.rollback()
            raise
        session.commit()
        return path


def _locate_locked(session: Session, store: ImageStore, image: Image) -> Path:
    for _attempt in range(_ATTEMPTS):
        _reload_locked(session, image)
        expected = store.path_of(image.relative_path)
        if _present(expected):
            return expected  # put back meanwhile by another request or PC
        found, how = _search(store, image, expected)
        if found is None:
            break
        try:
            return _restore(session, store, image, found, how)
        except (FileNotFoundError, _SourceChanged):
            log.info("image %s: %s went away while being copied; looking again", image.id, found)
    log.error("image missing: %s (row %s)", image.relative_path, image.id)
    raise ImageMissing(
        gettext(
            "The file of this image is missing: {file_name} is not at {relative_path} nor "
            "anywhere else the program looked.",
            file_name=image.file_name,
            relative_path=image.relative_path,
        ),
        expected_path=image.relative_path,
    )


def _reload_locked(session: Session, image: Image) -> None:
    """Read the row afresh (another request may have put the file back and renamed it), locked
    for update until the next commit where the engine supports it (PostgreSQL)."""
    try:
        session.refresh(image, with_for_update=True)
    except InvalidRequestError as exc:
        raise NotFound(gettext("This image no longer exists.")) from exc


def _search(store: ImageStore, image: Image, expected: Path) -> tuple[Path | None, str]:
    legacy_folder = legacy_patient_folder(image.patient.full_name, image.patient_id)
    searches: tuple[tuple[str, Callable[[], list[Path]]], ...] = (
        (
            "legacy name-based layout",
            lambda: store.legacy_candidates(legacy_folder, image.image_type, image.file_name),
        ),
        ("file-name search", lambda: store.find_by_name(image.file_name)),
    )
    for how, candidates in searches:
        found = _pick([p for p in candidates() if p != expected], image)
        if found is not None:
            return found, how
    return None, ""


def _checksum(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def _restore(session: Session, store: ImageStore, image: Image, found: Path, how: str) -> Path:
    """Copy `found` back to the row's place (under a fresh name if that one is taken by other
    bytes), verify the copy against the bytes of `found`, correct the row, and only then retire
    `found` if nothing else needs it."""
    source_sum = file_sha256(found)  # FileNotFoundError when it went away
    if image.sha256 and source_sum != image.sha256:
        raise _SourceChanged(found)
    relative, ours = image.relative_path, True
    if not store.place_copy(found, relative):
        if _checksum(store.path_of(relative)) == source_sum:
            ours = False  # another request or PC put it back at the same moment
        else:
            relative = image.folder_path + store.copy_in(found, image.folder_path, image.file_name)
    placed = store.path_of(relative)
    if _checksum(placed) != source_sum:
        if ours:
            store.remove(relative)
        raise ImageMissing(
            gettext(
                "A copy of {file_name} was found but did not verify.", file_name=image.file_name
            ),
            expected_path=image.relative_path,
        )
    image.file_name, image.sha256 = placed.name, source_sum
    image.size_bytes = placed.stat().st_size
    session.commit()
    outcome = _retire(session, store, found)
    log.warning(
        "image %s found by %s at %s; put back at %s (verified; %s)",
        image.id,
        how,
        found,
        image.relative_path,
        outcome,
    )
    return placed


def _retire(session: Session, store: ImageStore, found: Path) -> str:
    """Remove `found`, already copied and verified, when it is a stray of our own tree that no
    row names. Another row's file is never moved or removed; legacy files are the migration's."""
    relative = store.relative_of(found)
    if relative is None or not store.is_in_new_layout(found):
        return "the original is left for the migration"
    folder, _, name = relative.rpartition("/")
    named = session.scalar(
        select(Image.id).where(Image.folder_path == folder + "/", Image.file_name == name).limit(1)
    )
    if named is not None:
        return f"the original is image {named}'s file and stays"
    if store.remove(relative):
        return "the stray original was removed"
    return "the stray original was already gone"


def thumbnail_file(session: Session, store: ImageStore, image: Image) -> Path:
    """The thumbnail of `image`, rebuilt from the original if it is missing. Raises
    ImageMissing, as the full image does, when the original cannot be found (a cached thumbnail
    of a lost file would show it as fine); only when the original is not at its place is the
    full search of `locate_image` run."""
    path = store.thumbnail_path(image.id)
    if _present(store.path_of(image.relative_path)) and path.is_file():
        return path
    original = locate_image(session, store, image)
    if path.is_file():
        return path  # the original was found elsewhere and put back: the thumbnail still fits
    try:
        if dicom.file_looks_like_dicom(original):
            data = dicom.thumbnail_from_file(original)
        else:
            data = imaging.thumbnail_from_file(original)
    except imaging.InvalidImage as exc:
        raise ImageMissing(
            gettext("The file of this image cannot be read: {exc}", exc=exc),
            expected_path=image.relative_path,
        ) from exc
    log.info("thumbnail rebuilt for image %s", image.id)
    return store.write_thumbnail(image.id, data)
