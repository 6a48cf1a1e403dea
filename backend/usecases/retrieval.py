"""Finding an image's file, with the fallbacks the usage guide promises, and its thumbnail."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy.orm import Session

from backend import imaging
from backend.errors import ImageMissing
from backend.models import Image
from backend.storage import ImageStore, file_sha256, legacy_patient_folder

log = logging.getLogger(__name__)


def _pick(candidates: list[Path], image: Image) -> Path | None:
    """The one candidate with the row's checksum (or the only candidate if the row has none)."""
    if image.sha256:
        matching = [p for p in candidates if file_sha256(p) == image.sha256]
        return matching[0] if matching else None
    return candidates[0] if len(candidates) == 1 else None


def locate_image(session: Session, store: ImageStore, image: Image) -> Path:
    """The file of `image`: at its place in the layout; else in the earlier app's name-based
    layout; else anywhere under the image roots by file name. A file found by a fallback is
    put back at its place (verified before any stray copy is removed) and the row corrected.
    Raises ImageMissing when nothing finds it."""
    expected = store.path_of(image.relative_path)
    if expected.is_file():
        return expected
    legacy_folder = legacy_patient_folder(image.patient.full_name, image.patient_id)
    for how, candidates in (
        (
            "legacy name-based layout",
            lambda: store.legacy_candidates(legacy_folder, image.image_type, image.file_name),
        ),
        ("file-name search", lambda: store.find_by_name(image.file_name)),
    ):
        found = _pick([p for p in candidates() if p != expected], image)
        if found is not None:
            return _restore(session, store, image, found, how)
    log.error("image missing: %s (row %s)", image.relative_path, image.id)
    raise ImageMissing(
        f"The file of this image is missing: {image.file_name} is not at "
        f"{image.relative_path} nor anywhere else the program looked.",
        expected_path=image.relative_path,
    )


def _restore(session: Session, store: ImageStore, image: Image, found: Path, how: str) -> Path:
    new_name = store.copy_in(found, image.folder_path, image.file_name)
    placed = store.path_of(image.folder_path + new_name)
    checksum = file_sha256(placed)
    if image.sha256 and checksum != image.sha256:
        store.remove(image.folder_path + new_name)
        raise ImageMissing(
            f"A copy of {image.file_name} was found but did not verify.",
            expected_path=image.relative_path,
        )
    image.file_name, image.sha256 = new_name, checksum
    image.size_bytes = placed.stat().st_size
    session.commit()
    if store.is_in_new_layout(found):
        found.unlink(missing_ok=True)  # a misplaced copy of ours; legacy files stay for migration
    log.warning(
        "image %s found by %s at %s; put back at %s", image.id, how, found, image.relative_path
    )
    return placed


def thumbnail_file(session: Session, store: ImageStore, image: Image) -> Path:
    """The thumbnail of `image`, rebuilt from the original if it is missing."""
    path = store.thumbnail_path(image.id)
    if path.is_file():
        return path
    original = locate_image(session, store, image)
    try:
        data = imaging.thumbnail_from_file(original)
    except imaging.InvalidImage as exc:
        raise ImageMissing(
            f"The file of this image cannot be read: {exc}", expected_path=image.relative_path
        ) from exc
    log.info("thumbnail rebuilt for image %s", image.id)
    return store.write_thumbnail(image.id, data)
