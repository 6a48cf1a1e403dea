"""How much room the images take, and whether the disk holding them is running out."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import fileio
from backend.fileio import human_size as human_size  # also the report's users'
from backend.models import Image
from backend.storage import ImageStore

GIB = 1024**3
LOW_SPACE_FLOOR = 2 * GIB
LOW_SPACE_SHARE = 0.10


def low_space_threshold(total: int) -> int:
    """Free space below this many bytes counts as low: 2 GiB or 10% of the disk, the larger."""
    return max(LOW_SPACE_FLOOR, int(total * LOW_SPACE_SHARE))


def _existing(folder: Path) -> Path:
    """`folder`, or its nearest existing parent (disk_usage needs a path that exists)."""
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def storage_report(session: Session, store: ImageStore) -> dict[str, Any]:
    """Sizes of the image tree (the trash apart) and thumbnails, the number of image rows
    (those in the trash not counted), and the free and total
    space of the disk holding the images, with a warning for the reader when space is low."""
    image_files, image_bytes = store.tree_usage()
    thumbnail_files, thumbnail_bytes = fileio.folder_usage(store.thumbnails_dir)
    image_rows = (
        session.scalar(select(func.count()).select_from(Image).where(Image.deleted_at.is_(None)))
        or 0
    )
    trash_files, trash_bytes = store.tree_usage(trash=True)
    disk = shutil.disk_usage(_existing(store.images_dir))
    low = disk.free < low_space_threshold(disk.total)
    warning = (
        f"Only {human_size(disk.free)} free on the disk holding the images; "
        "free up space or move the data folder."
        if low
        else None
    )
    return {
        "images_dir": str(store.images_dir),
        "image_files": image_files,
        "image_bytes": image_bytes,
        "image_rows": image_rows,
        "trash_files": trash_files,
        "trash_bytes": trash_bytes,
        "thumbnail_files": thumbnail_files,
        "thumbnail_bytes": thumbnail_bytes,
        "free_bytes": disk.free,
        "total_bytes": disk.total,
        "low_space": low,
        "low_space_threshold_bytes": low_space_threshold(disk.total),
        "warning": warning,
    }
