"""The `app_state` table: small key/value facts every PC of the installation shares. Every read
and write of it goes through here, and every key the program uses is named here.

Functions take a Session or a Connection and run Core statements, so the same calls serve the
ORM code and the few places that work on a bare connection (the restore marker, written inside
the restore's own transaction). None of them commits: the caller's transaction decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from backend.models import AppState, Base, utcnow

# Settings every PC shares (backend.usecases.settings): "setting.<name>".
SETTING_PREFIX = "setting."
# This installation's backup settings and history (backend.backup.state); a restore keeps them.
BACKUP_PREFIX = "backup."
BACKUP_SCHEDULE = "backup.schedule"
BACKUP_TIME = "backup.time"
BACKUP_WEEKDAY = "backup.weekday"
BACKUP_KEEP = "backup.keep"
BACKUP_FOLDER = "backup.folder"
BACKUP_CLINIC = "backup.clinic"
# The scrypt verifier of the backup passphrase (backend.backup.passphrase), never the passphrase.
BACKUP_PASSPHRASE_VERIFIER = "backup.passphrase_verifier"
BACKUP_MODE = "backup.mode"  # scheduled backups: an incremental set or a full zip each time
BACKUP_LAST_SUCCESS = "backup.last_success"
BACKUP_LAST_ERROR = "backup.last_error"
BACKUP_LAST_ATTEMPT = "backup.last_attempt"
# The id of the restore whose rows the database holds (backend.backup.recovery).
RESTORE_MARKER = "backup.restore_marker"
# An import of the earlier app's backup that started and has not ended
# (backend.backup.legacy.import_marker). Not under BACKUP_PREFIX: restoring the safety backup, made
# before this record, takes the record away with the import it describes.
LEGACY_IMPORT_IN_PROGRESS = "legacy_import.in_progress"
# The once-only migration of the earlier app's data (backend.migration.state).
MIGRATION_STATE = "migration.state"
MIGRATION_REPORT = "migration.last_report"
# The PC that receives DICOM x-rays for the clinic (backend.usecases.dicom_receiver).
DICOM_RECEIVER_PC = "dicom_receiver.pc"
# The clinic's DICOM node that exports are sent to (backend.usecases.dicom_export), as JSON.
DICOM_NODE = "dicom_node"
# When a PC last swept for leftovers of interrupted publishes (backend.usecases.upkeep).
LAST_SWEEP = "upkeep.last_sweep"

Executor = Session | Connection
_TABLE = Base.metadata.tables[AppState.__tablename__]


def get(executor: Executor, key: str, *, for_update: bool = False) -> str | None:
    """The value at `key`, or None. `for_update` locks the row until the transaction ends
    (PostgreSQL; SQLite serialises writers anyway)."""
    query = select(_TABLE.c.value).where(_TABLE.c.key == key)
    if for_update:
        query = query.with_for_update()
    value = executor.execute(query).scalar()
    return None if value is None else str(value)


def get_json(executor: Executor, key: str) -> dict[str, Any] | None:
    """The JSON object at `key`; None when there is none or it is not a readable object."""
    raw = get(executor, key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def get_many(executor: Executor, keys: Iterable[str]) -> dict[str, str]:
    """{key: value} of those of `keys` that are stored."""
    rows = executor.execute(select(_TABLE.c.key, _TABLE.c.value).where(_TABLE.c.key.in_(keys)))
    return {str(key): str(value) for key, value in rows}


def with_prefix(executor: Executor, prefix: str) -> dict[str, str]:
    """{key: value} of every key that starts with `prefix`."""
    rows = executor.execute(
        select(_TABLE.c.key, _TABLE.c.value).where(_TABLE.c.key.startswith(prefix))
    )
    return {str(key): str(value) for key, value in rows}


def put(executor: Executor, key: str, value: str | None) -> None:
    """Store `value` at `key`; None removes the key."""
    if value is None:
        remove(executor, key)
        return
    changed = executor.execute(
        update(_TABLE).where(_TABLE.c.key == key).values(value=value, updated_at=utcnow())
    )
    if not getattr(changed, "rowcount", 0):
        executor.execute(insert(_TABLE).values(key=key, value=value, updated_at=utcnow()))


def put_json(executor: Executor, key: str, value: Mapping[str, Any]) -> None:
    """Store `value` as JSON at `key` (text kept as written, dates as ISO strings)."""
    put(executor, key, json.dumps(value, ensure_ascii=False, default=str))


def remove(executor: Executor, key: str) -> None:
    executor.execute(delete(_TABLE).where(_TABLE.c.key == key))


def replace_prefix(executor: Executor, prefix: str, values: Mapping[str, str]) -> None:
    """Make the keys under `prefix` exactly `values` (every one of which starts with it)."""
    executor.execute(delete(_TABLE).where(_TABLE.c.key.startswith(prefix)))
    for key, value in values.items():
        if not key.startswith(prefix):
            raise ValueError(f"{key!r} is not under {prefix!r}")
        executor.execute(insert(_TABLE).values(key=key, value=value, updated_at=utcnow()))
