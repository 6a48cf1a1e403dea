"""Builders shared by the tests: real image bytes and snapshots of what is on disk."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from PIL import Image
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from backend.models import Image as ImageRow
from backend.models import StoreLock, utcnow


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (64, 48), color=(200, 120, 40)) -> bytes:
    """A real, decodable image of `fmt` made with Pillow."""
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    picture = Image.new(mode, size, color)
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    return buffer.getvalue()


def disk_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes), to prove a failure left no trace."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith("dental.db")
    }


def image_row_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ImageRow)) or 0


def hold_store_lock_elsewhere(runtime, operation: str, holder: str) -> None:
    """Record a live store lock as another PC would hold it."""
    now = utcnow()
    with runtime.sessions() as session:
        session.execute(
            insert(StoreLock).values(
                name="store",
                holder=holder,
                operation=operation,
                acquired_at=now,
                expires_at=now + timedelta(minutes=5),
            )
        )
        session.commit()


def dead_pid() -> int:
    """The id of a process of this computer that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
