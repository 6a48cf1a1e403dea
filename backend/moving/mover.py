"""The per-file journaled mover, shared by the import and the migration.

For each file: a journal row first (source, destination, checksum); then the file is linked or
copied into `dental_images/<patient>/<tooth>/<type>/` under a name never used before; its size
and checksum are verified; its image row is created or updated in the same transaction that
marks the journal row placed; only then is the legacy original retired, and the journal row
removed. Work goes in batches (one commit and one folder sync per step and batch) and a kill
at any instant leaves the journal saying what to finish or undo (`recover`).
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from backend import fileio
from backend.db import durable_commits
from backend.fileio import copy_flushed, file_sha256
from backend.models import Image, LegacyLink, MigrationJournal, new_id, utcnow
from backend.storage import ImageStore, clean_stem

log = logging.getLogger(__name__)

PLANNED, PLACED = "planned", "placed"
LEGACY_FILE = "_legacy_file"  # in a row payload: the source file's path under its root
_DATE_FIELDS = {"taken_date": date, "created_at": datetime, "updated_at": datetime}


@dataclass
class Placement:
    """One file to bring into the layout. `row` holds the new image row's columns (an
    import); None means the image row `image_id` exists and only its file moves."""

    source: Path
    folder: str
    name: str
    extension: str
    sha256: str
    size: int
    image_id: str
    ref: str
    row: dict[str, Any] | None = None
    legacy_key: str | None = None
    retire_source: bool = False


@dataclass
class Placed:
    """What became of one placement: the file's new place, or why it was not moved."""

    placement: Placement
    relative_path: str | None = None
    error: str | None = None
    retired: Path | None = None


@dataclass
class RecoveryResult:
    finished: int = 0
    undone: int = 0
    folders: set[Path] = field(default_factory=set)


def _publish(source: Path, dest: Path, temp: Path) -> None:
    """Give `dest` the bytes of `source`, complete or not at all, never replacing a file: a hard
    link where the file system allows (one atomic step, no copy); else a copy flushed to disk
    under `temp`, then given its name by a link or, without hard links, an atomic rename."""
    try:
        os.link(fileio.long_path(source), fileio.long_path(dest))
        return
    except FileExistsError:
        raise
    except OSError:
        pass  # another disk, or no hard links here
    try:
        copy_flushed(source, temp)
        # Under the store lease: no other job names files here, so no placeholder is needed.
        if not fileio.publish(temp, dest, others_may_publish=False):
            raise FileExistsError(errno.EEXIST, "name taken meanwhile", str(dest))
    finally:
        fileio.discard(temp)


def _sync_folders(folders: set[Path]) -> None:
    """Make new and removed names in `folders` durable (see `fileio.sync_folders`)."""
    fileio.sync_folders(folders)


def _same_path(a: Path, b: Path) -> bool:
    """The same name (not merely the same inode: a hard link is another name)."""
    return fileio.real_path(a) == fileio.real_path(b)


def _temp_path(folder: Path, journal_id: str) -> Path:
    return folder / f".mig-{journal_id}.part"


def _encode(row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    return json.dumps(
        {k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()},
        ensure_ascii=False,
    )


def _decode(payload: str | None) -> dict[str, Any] | None:
    if payload is None:
        return None
    row: dict[str, Any] = json.loads(payload)
    for name, kind in _DATE_FIELDS.items():
        if row.get(name):
            row[name] = kind.fromisoformat(row[name])
    return row


def _verified(source: Path, dest: Path, sha256: str, size: int) -> bool:
    try:
        if dest.stat().st_size != size:
            return False
        if source.exists() and os.path.samestat(source.stat(), dest.stat()):
            return True  # one inode, two names: the bytes are the same by construction
        return file_sha256(dest) == sha256
    except OSError:
        return False


class Mover:
    """Places batches of files for one operation ("import" or "migration")."""

    def __init__(self, sessions: sessionmaker[Session], store: ImageStore, operation: str):
        self._sessions = sessions
        self._store = store
        self._operation = operation
        self.emptied: set[Path] = set()  # folders a retired original was taken from
        # Resolved once per folder: checking every path against its root costs dozens of
        # system calls, and a migration places thousands of files into few folders.
        self._folders: dict[str, Path] = {}
        self._real_folders: dict[str, str] = {}
        self._real_dirs: dict[Path, str] = {}

    def _folder(self, folder: str) -> Path:
        """The checked location of one of our layout's folders."""
        if folder not in self._folders:
            self._folders[folder] = self._store.path_of(folder)
        return self._folders[folder]

    def _real_folder(self, folder: str) -> str:
        if folder not in self._real_folders:
            self._real_folders[folder] = fileio.real_path(self._folder(folder))
        return self._real_folders[folder]

    def _real_dir(self, directory: Path) -> str:
        if directory not in self._real_dirs:
            self._real_dirs[directory] = fileio.real_path(directory)
        return self._real_dirs[directory]

    def _is_source_name(self, item: Placement, name: str) -> bool:
        """Whether `name` in the item's destination folder is the very name of its source."""
        return name == item.source.name and self._real_folder(item.folder) == self._real_dir(
            item.source.parent
        )

    def place(self, batch: Sequence[Placement]) -> list[Placed]:
        """Bring every file of `batch` into the layout; a failed file is reported in its
        outcome and left where it was, never marked done."""
        if not batch:
            return []
        journal = self._reserve(batch)
        outcomes = [self._materialize(p, j) for p, j in zip(batch, journal, strict=True)]
        # An original goes only after the commit naming its new place is durable, and the new
        # files (flushed when copied) and their names are on the disk before that commit.
        _sync_folders({self._folder(o.placement.folder) for o in outcomes})
        self._commit_rows(outcomes, journal)
        self._retire(outcomes)
        with self._sessions() as session:
            session.execute(delete(MigrationJournal).where(MigrationJournal.id.in_(journal)))
            session.commit()
        return outcomes

    # ----- step 1: journal rows, with destination names nobody uses
    def _reserve(self, batch: Sequence[Placement]) -> list[str]:
        with self._sessions() as session:
            taken = self._names_in_use(session, {item.folder for item in batch})
            rows: list[dict[str, Any]] = []
            for item in batch:
                item.name = self._free_name(item, taken[item.folder])
                taken[item.folder].add(item.name)
                rows.append(
                    {
                        "id": new_id(),
                        "operation": self._operation,
                        "source_path": str(item.source),
                        "folder_path": item.folder,
                        "file_name": item.name,
                        "sha256": item.sha256,
                        "size_bytes": item.size,
                        "image_id": item.image_id,
                        "legacy_key": item.legacy_key,
                        "payload": _encode(item.row),
                        "retire_source": item.retire_source,
                        "state": PLANNED,
                        "created_at": utcnow(),
                    }
                )
            session.execute(insert(MigrationJournal), rows)  # one statement for the batch
            session.commit()
            return [row["id"] for row in rows]

    def _names_in_use(self, session: Session, folders: set[str]) -> dict[str, set[str]]:
        """Per folder: the names rows, journal rows and files already use."""
        taken: dict[str, set[str]] = {folder: set() for folder in folders}
        for model in (Image, MigrationJournal):
            rows = session.execute(
                select(model.folder_path, model.file_name).where(model.folder_path.in_(folders))
            )
            for folder, name in rows:
                taken[folder].add(name)
        for folder, names in taken.items():
            directory = self._folder(folder)
            if directory.is_dir():
                names |= {entry.name for entry in os.scandir(directory)}
        return taken

    def _free_name(self, item: Placement, taken: set[str]) -> str:
        if self._in_place(item):
            return item.source.name  # already at its place in our layout: adopt it
        own = f"{item.name}.{item.extension}"
        if item.row is None and not (self._folder(item.folder) / own).exists():
            return own  # a row's own file going back to its place keeps its name
        # Judged without regard to case: NTFS and APFS take `A.png` and `a.png` for one name.
        name = fileio.safe_file_name(f"{clean_stem(item.name)}.{item.extension}")
        return fileio.free_name(name, taken)

    def _in_place(self, item: Placement) -> bool:
        return self._real_dir(item.source.parent) == self._real_folder(item.folder)

    # ----- step 2: link or copy, publish, verify
    def _materialize(self, item: Placement, journal_id: str) -> Placed:
        outcome = Placed(item)
        folder = self._folder(item.folder)
        dest = folder / item.name
        if self._is_source_name(item, item.name):
            if _verified(item.source, dest, item.sha256, item.size):
                outcome.relative_path = item.folder + item.name
            else:
                outcome.error = "the file changed while it was being imported"
            return outcome
        try:
            folder.mkdir(parents=True, exist_ok=True)
            _publish(item.source, dest, _temp_path(folder, journal_id))
        except OSError as exc:
            outcome.error = f"could not be placed: {exc.strerror or exc}"
            return outcome
        if _verified(item.source, dest, item.sha256, item.size):
            outcome.relative_path = item.folder + item.name
        else:
            fileio.unlink(dest)
            outcome.error = "the copy did not verify (size or checksum differ)"
        return outcome

    # ----- step 3: the image rows and the journal's state, in one transaction
    def _commit_rows(self, outcomes: list[Placed], journal: list[str]) -> None:
        with self._sessions() as session:
            durable_commits(session)
            try:
                _record_batch(session, outcomes, journal)
                session.commit()
                return
            except IntegrityError:
                session.rollback()
        # One row broke the batch (e.g. its patient was deleted meanwhile): find it alone.
        for outcome, journal_id in zip(outcomes, journal, strict=True):
            with self._sessions() as session:
                durable_commits(session)
                try:
                    self._record(session, outcome, session.get(MigrationJournal, journal_id))
                    session.commit()
                except IntegrityError as exc:
                    session.rollback()
                    self._undo_file(outcome)
                    outcome.error = f"its record could not be saved: {exc.orig}"

    def _record(self, session: Session, outcome: Placed, entry: MigrationJournal | None) -> None:
        item = outcome.placement
        if outcome.error is not None or entry is None:
            if entry is not None:
                session.delete(entry)
            return
        _apply_row(session, entry, item.row)
        entry.state = PLACED

    def _undo_file(self, outcome: Placed) -> None:
        item = outcome.placement
        if outcome.relative_path and not self._is_source_name(item, item.name):
            fileio.unlink(self._folder(item.folder) / item.name)
        outcome.relative_path = None

    # ----- step 4: retire the originals
    def _retire(self, outcomes: list[Placed]) -> None:
        folders = set()
        for outcome in outcomes:
            item = outcome.placement
            if outcome.error or not item.retire_source or outcome.relative_path is None:
                continue
            if self._is_source_name(item, item.name):
                continue  # adopted where it already was
            fileio.unlink(item.source)
            outcome.retired = item.source
            folders.add(item.source.parent)
        _sync_folders(folders)
        self.emptied |= folders


def _record_batch(session: Session, outcomes: list[Placed], journal: list[str]) -> None:
    """The rows of a whole batch in a few statements: new image rows and their legacy links
    inserted, moved rows pointed at their new file, journal rows marked placed (or dropped for
    files that failed). Raises IntegrityError when one row breaks the batch."""
    placed, failed, images, links = [], [], [], []
    for outcome, journal_id in zip(outcomes, journal, strict=True):
        if outcome.error is not None:
            failed.append(journal_id)
            continue
        placed.append(journal_id)
        item = outcome.placement
        if item.row is None:
            session.execute(
                update(Image)
                .where(Image.id == item.image_id)
                .values(folder_path=item.folder, file_name=item.name)
            )
            continue
        columns = {k: v for k, v in item.row.items() if k != LEGACY_FILE}
        images.append({**columns, "folder_path": item.folder, "file_name": item.name})
        if item.legacy_key:
            links.append(
                {
                    "key": item.legacy_key,
                    "kind": "image",
                    "target_id": item.image_id,
                    "source_file": item.row.get(LEGACY_FILE),
                    "created_at": utcnow(),
                }
            )
    if images:
        session.execute(insert(Image), images)
    if links:
        session.execute(insert(LegacyLink), links)
    if placed:
        session.execute(
            update(MigrationJournal).where(MigrationJournal.id.in_(placed)).values(state=PLACED)
        )
    if failed:
        session.execute(delete(MigrationJournal).where(MigrationJournal.id.in_(failed)))


def _apply_row(session: Session, entry: MigrationJournal, row: dict[str, Any] | None) -> None:
    """Create the image row (and its legacy link) of an import, or point an existing row at
    its new file."""
    if row is None:
        image = session.get(Image, entry.image_id)
        if image is not None:
            image.folder_path, image.file_name = entry.folder_path, entry.file_name
        return
    columns = {k: v for k, v in row.items() if k != LEGACY_FILE}
    session.add(Image(**columns, folder_path=entry.folder_path, file_name=entry.file_name))
    if entry.legacy_key:
        session.add(
            LegacyLink(
                key=entry.legacy_key,
                kind="image",
                target_id=entry.image_id,
                source_file=row.get(LEGACY_FILE),
            )
        )


def pending_count(sessions: sessionmaker[Session]) -> int:
    """Journal rows left by an interrupted run."""
    with sessions() as session:
        return len(session.scalars(select(MigrationJournal.id).limit(1000)).all())


def recover(sessions: sessionmaker[Session], store: ImageStore) -> RecoveryResult:
    """Finish or undo every journal row an interrupted run left: a placed file that verifies
    is finished (its row created or updated, its original retired); anything else is undone
    (partial copies removed, the original left where it is for the next run). Call only while
    holding the store lease."""
    result = RecoveryResult()
    with sessions() as session:
        entries = list(session.scalars(select(MigrationJournal)))
        for entry in entries:
            durable_commits(session)  # what an original is retired after must be durable
            source = Path(entry.source_path)
            folder = store.path_of(entry.folder_path)
            dest = folder / entry.file_name
            fileio.unlink(_temp_path(folder, entry.id))
            if entry.state == PLANNED:
                fileio.fsync_dir(folder)  # the placed file's name, before its row says so
                if _verified(source, dest, entry.sha256, entry.size_bytes):
                    if not _finish_row(session, entry):
                        if not _same_path(source, dest):
                            fileio.unlink(dest)
                        result.undone += 1
                        continue
                else:
                    # Not ours if its checksum differs: a name is reserved only when unused,
                    # and published only complete, so only a kill before publishing lands here.
                    session.delete(entry)
                    session.commit()
                    result.undone += 1
                    continue
            retire = entry.retire_source and not _same_path(source, dest) and source.exists()
            if retire and _verified(source, dest, entry.sha256, entry.size_bytes):
                fileio.unlink(source, missing_ok=False)
                result.folders.add(source.parent)
            session.delete(entry)
            session.commit()
            result.finished += 1
    if result.finished or result.undone:
        log.warning(
            "interrupted file moves recovered: %d finished, %d undone",
            result.finished,
            result.undone,
        )
    return result


def _finish_row(session: Session, entry: MigrationJournal) -> bool:
    try:
        _apply_row(session, entry, _decode(entry.payload))
        entry.state = PLACED
        session.commit()
    except IntegrityError:
        session.rollback()
        fresh = session.get(MigrationJournal, entry.id)
        if fresh is not None:
            session.delete(fresh)
            session.commit()
        return False
    return True
