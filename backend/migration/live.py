"""The report of a running import or migration, reachable from its job's Progress so that the
UI can show live counts while the job works."""

from __future__ import annotations

import threading

from backend.jobs import Progress
from backend.moving.report import ImportReport

_lock = threading.Lock()
_reports: dict[int, tuple[Progress, list[ImportReport]]] = {}


def track(progress: Progress, report: ImportReport) -> None:
    """Make `report` the one shown for `progress` (until untrack; nested runs stack)."""
    with _lock:
        _reports.setdefault(id(progress), (progress, []))[1].append(report)


def untrack(progress: Progress) -> None:
    with _lock:
        entry = _reports.get(id(progress))
        if entry is not None:
            entry[1].pop()
            if not entry[1]:
                del _reports[id(progress)]


def report_of(progress: Progress) -> ImportReport | None:
    """The report being built by the job whose progress this is, while it runs."""
    with _lock:
        entry = _reports.get(id(progress))
        if entry is None or entry[0] is not progress:
            return None
        return entry[1][-1]
