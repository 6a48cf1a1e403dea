"""The backup taken before a migration moves anything: the database and every legacy file
involved, verified, under backups/pre-migration-<timestamp>/ (never reusing a name). Files are
hard-linked where the file system allows, so a large store needs no double space; copied
otherwise, after checking that the space is there."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url

from backend import fileio
from backend.config import Settings
from backend.errors import Conflict
from backend.fileio import file_sha256, human_size, remove_stale
from backend.i18n import gettext
from backend.models import Image

log = logging.getLogger(__name__)

PREFIX = "pre-migration-"
MARGIN_BYTES = 50 * 1024 * 1024
STALE_AFTER_S = 6 * 3600  # a partial backup untouched this long was left by a killed run


class NotEnoughSpace(Conflict):
    code = "not_enough_space"


@dataclass(frozen=True)
class SafetyItem:
    """A legacy file to keep: where it is, the root it lies under, what it holds."""

    path: Path
    root: Path
    sha256: str
    size: int


def _device(path: Path) -> int | None:
    while not path.exists() and path.parent != path:
        path = path.parent
    try:
        return path.stat().st_dev
    except OSError:
        return None


def bytes_to_copy(sources: Sequence[tuple[Path, int]], target: Path) -> int:
    """Bytes that cannot be hard-linked into `target` (another file system)."""
    device = _device(target)
    return sum(size for path, size in sources if _device(path) != device)


def check_free_space(target: Path, needed: int, what: str) -> None:
    """Raise NotEnoughSpace, with a message for the person, when `target`'s disk lacks
    `needed` bytes (plus a margin)."""
    short, free = fileio.space_shortfall(target, needed, MARGIN_BYTES)
    if needed and short:
        raise NotEnoughSpace(
            gettext(
                "Not enough free space for {what}: it needs {value} on the disk of {target}, "
                "which has {free} free. Free up space and try again; nothing was changed.",
                what=what,
                value=human_size(needed + MARGIN_BYTES),
                target=target,
                free=human_size(free),
            ),
            field="space",
        )


def make_safety_backup(
    settings: Settings,
    engine: Engine,
    items: Sequence[SafetyItem],
    legacy_databases: Sequence[Path] = (),
) -> Path:
    """Keep the database, `legacy_databases` and every file of `items` under a new
    backups/pre-migration-<timestamp>/ and return it. Visible under that name only once
    complete and verified; raises NotEnoughSpace before writing when space is short."""
    backups_dir = settings.backups_dir
    backups_dir.mkdir(parents=True, exist_ok=True)
    remove_stale(backups_dir, f".{PREFIX}*.partial", STALE_AFTER_S)
    db_path = _sqlite_path(settings.db_url)
    fixed = sum(p.stat().st_size for p in [*legacy_databases, *filter(None, [db_path])])
    needed = fixed + bytes_to_copy([(i.path, i.size) for i in items], backups_dir)
    check_free_space(backups_dir, needed, gettext("the backup taken before the migration"))
    temp = backups_dir / f".{PREFIX}{secrets.token_hex(6)}.partial"
    temp.mkdir()
    try:
        manifest = _write_contents(temp, engine, db_path, items, legacy_databases)
        fileio.write_text_atomic(
            temp / "manifest.json", json.dumps(manifest, indent=1, ensure_ascii=False)
        )
        fileio.sync_folders(_folders_of(temp))
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        final = fileio.publish_dir(temp, backups_dir, f"{PREFIX}{stamp}")
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    linked = sum(1 for f in manifest["files"] if f["linked"])
    log.info(
        "pre-migration backup %s: database and %d files (%d hard-linked, %d copied), verified",
        final,
        len(items),
        linked,
        len(items) - linked,
    )
    return final


def _write_contents(
    folder: Path,
    engine: Engine,
    db_path: Path | None,
    items: Sequence[SafetyItem],
    legacy_databases: Sequence[Path],
) -> dict[str, Any]:
    database = folder / "database"
    database.mkdir()
    if db_path is not None:
        _sqlite_copy(db_path, database / db_path.name)
    else:  # another engine: keep what the migration changes, the image rows' paths
        with engine.connect() as connection:
            rows = connection.execute(select(Image.id, Image.folder_path, Image.file_name))
            paths = [dict(row._mapping) for row in rows]
        fileio.write_text_atomic(database / "image_paths.json", json.dumps(paths))
    for n, legacy in enumerate(legacy_databases, start=1):
        _copy_flushed(legacy, database / f"legacy-{n}-{legacy.name}")
    roots = sorted({str(item.root) for item in items})
    entries = []
    for item in items:
        relative = item.path.relative_to(item.root).as_posix()
        kept = folder / "files" / f"{roots.index(str(item.root)):02d}" / relative
        kept.parent.mkdir(parents=True, exist_ok=True)
        linked = _link_or_copy(item.path, kept)
        same_file = linked and os.path.samestat(item.path.stat(), kept.stat())
        if not same_file and (kept.stat().st_size != item.size or file_sha256(kept) != item.sha256):
            raise OSError(f"the backup copy of {item.path} did not verify")
        entries.append(
            {
                "original": str(item.path),
                "kept_as": kept.relative_to(folder).as_posix(),
                "sha256": item.sha256,
                "size": item.size,
                "linked": linked,
            }
        )
    return {
        "created_at": datetime.now().isoformat(timespec="seconds"),
        "roots": roots,
        "files": entries,
    }


def _link_or_copy(source: Path, target: Path) -> bool:
    try:
        os.link(fileio.long_path(source), fileio.long_path(target))
        return True
    except OSError:
        _copy_flushed(source, target)
        return False


def _copy_flushed(source: Path, target: Path) -> None:
    """A copy on the disk before any original is retired, with the original's times."""
    fileio.copy_flushed(source, target)
    shutil.copystat(fileio.long_path(source), fileio.long_path(target))


def _folders_of(root: Path) -> set[Path]:
    return {root, *(p for p in root.rglob("*") if p.is_dir())}


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (its own backup API, WAL included)."""
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
        if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise OSError("the database copy did not verify")
    finally:
        live.close()
        copy.close()
