"""The restore journal: a small JSON file under backups/, written atomically before every
phase of a restore, naming each file and folder that is set aside or swapped in. Undoing or
finishing a restore from it is idempotent, so a crash during recovery is recovered too."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from backend import processes
from backend.config import Settings
from backend.fileio import fsync_dir, remove_path, rename, unlink, write_json_atomic
from backend.models import utcnow

log = logging.getLogger(__name__)

JOURNAL_NAME = "restore-in-progress.json"
STAGING, SWAPPING, SWAPPED, ROLLING_BACK, COMMITTED = (
    "staging",
    "swapping",
    "swapped",
    "rolling_back",
    "committed",
)
FILES, ROWS = "files", "rows"


@dataclass
class Move:
    """One live item (the database file, the image folder...): set aside to `old`, then
    replaced by the staged `new` (None: only set aside, e.g. a database's -wal file)."""

    live: str
    old: str
    new: str | None = None
    had_live: bool = False


@dataclass
class RestoreJournal:
    id: str
    archive: str
    method: str
    phase: str = STAGING
    safety_backup: str | None = None
    moves: list[Move] = field(default_factory=list)
    cleanup: list[str] = field(default_factory=list)
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=processes.this_host)
    process_started: str | None = field(default_factory=processes.process_start_time)
    started_at: str = field(default_factory=lambda: utcnow().isoformat())

    def save(self, settings: Settings) -> None:
        write_json_atomic(journal_path(settings), asdict(self))

    def enter(self, settings: Settings, phase: str) -> None:
        self.phase = phase
        self.save(settings)
        log.info("restore %s: %s", self.id, phase)


def journal_path(settings: Settings) -> Path:
    return settings.backups_dir / JOURNAL_NAME


def load_journal(settings: Settings) -> RestoreJournal | None:
    path = journal_path(settings)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    data["moves"] = [Move(**move) for move in data.get("moves", [])]
    return RestoreJournal(**data)


def clear_journal(settings: Settings) -> None:
    unlink(journal_path(settings))
    fsync_dir(settings.backups_dir)


def _rename(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    rename(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def swap_in(journal: RestoreJournal) -> None:
    """Set every live item aside, then put every staged item in its place. The journal was
    saved (phase swapping) before this runs, with `had_live` recorded for each item."""
    for move in journal.moves:
        if Path(move.live).exists():
            _rename(Path(move.live), Path(move.old))
    for move in journal.moves:
        if move.new is not None:
            _rename(Path(move.new), Path(move.live))


def roll_back_moves(journal: RestoreJournal) -> None:
    """Put every live item back as it was before the swap, whatever part of it happened."""
    for move in reversed(journal.moves):
        live, old = Path(move.live), Path(move.old)
        if old.exists():
            if live.exists():
                remove_path(live)  # the restored item; its source is still in the archive
            _rename(old, live)
        elif not move.had_live and move.new is not None and live.exists():
            remove_path(live)


def record_existing(journal: RestoreJournal) -> None:
    for move in journal.moves:
        move.had_live = Path(move.live).exists()


def remove_leftovers(journal: RestoreJournal, *, keep_old: bool = False) -> None:
    """Delete the staging folders and (once the restore is committed) the set-aside items."""
    for path in journal.cleanup:
        remove_path(Path(path))
    if not keep_old:
        for move in journal.moves:
            remove_path(Path(move.old))
        for move in journal.moves:
            if move.new is not None:
                remove_path(Path(move.new))


def process_alive(pid: int) -> bool:
    """Whether another process with this id is running on this computer (our own id is an
    earlier life of ours, which cannot still be running)."""
    return pid != os.getpid() and processes.process_alive(pid)


def still_running(journal: RestoreJournal) -> bool:
    """Whether the process that wrote `journal` is another one, still running on this
    computer (not a later process that got the same id)."""
    return journal.pid != os.getpid() and processes.running_here(
        journal.host, journal.pid, journal.process_started
    )
