"""What an import or migration did, for the person (counts and lists), for scripts (the exit
code) and as a downloadable file (JSON or CSV)."""

from __future__ import annotations

import csv
import io
import threading
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from typing import Any

from backend import exit_codes as codes

CSV_COLUMNS = ("list", "what", "path", "reason")


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class Entry:
    """One record or file in a list of the report: what it is, where, and why it is listed."""

    what: str
    path: str | None
    reason: str


@dataclass
class RecordCounts:
    imported: int = 0
    skipped: int = 0
    failed: int = 0


@dataclass
class ImportReport:
    """Counts are of images (files) unless named otherwise. `missing` counts rows whose file
    the source lacks or whose file cannot be told apart from others; `failed` counts what could
    not be done (unreadable file, not an image, not a tooth, a write error)."""

    operation: str
    source: str
    notation: str | None = None
    dry_run: bool = False
    started_at: str = field(default_factory=_now)
    finished_at: str | None = None
    imported: int = 0
    skipped: int = 0
    missing: int = 0
    failed: int = 0
    retryable: int = 0  # of the failed: write or verify errors, which a new run may overcome
    patients: RecordCounts = field(default_factory=RecordCounts)
    treatments: RecordCounts = field(default_factory=RecordCounts)
    missing_files: list[Entry] = field(default_factory=list)
    failures: list[Entry] = field(default_factory=list)
    not_imported: list[Entry] = field(default_factory=list)
    # tooth names that say another tooth than the number was imported as (imported, listed)
    name_conflicts: list[Entry] = field(default_factory=list)
    unreferenced_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    backup: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add_missing(self, what: str, path: str | None, reason: str) -> None:
        with self._lock:
            self.missing += 1
            self.missing_files.append(Entry(what, path, reason))

    def add_failure(
        self, what: str, path: str | None, reason: str, *, retryable: bool = False
    ) -> None:
        with self._lock:
            self.failed += 1
            self.retryable += int(retryable)
            self.failures.append(Entry(what, path, reason))

    def finish(self) -> ImportReport:
        self.finished_at = _now()
        return self

    def merge(self, other: ImportReport) -> None:
        """Add `other`'s counts and lists to this one (a migration over several sources)."""
        for name in ("imported", "skipped", "missing", "failed", "retryable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for counts, more in ((self.patients, other.patients), (self.treatments, other.treatments)):
            counts.imported += more.imported
            counts.skipped += more.skipped
            counts.failed += more.failed
        self.missing_files += other.missing_files
        self.failures += other.failures
        self.not_imported += other.not_imported
        self.name_conflicts += other.name_conflicts
        self.unreferenced_files += other.unreferenced_files
        self.notes += other.notes

    @property
    def exit_code(self) -> int:
        if self.failed or self.patients.failed or self.treatments.failed:
            return codes.PARTIAL
        # A file no record names stayed behind: not everything came across.
        if self.missing or self.unreferenced_files:
            return codes.PROBLEMS
        return codes.OK

    def counts(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "skipped": self.skipped,
            "missing": self.missing,
            "failed": self.failed,
        }

    def summary(self) -> str:
        """One paragraph for the console and the log."""
        verb = "would be" if self.dry_run else "were"
        text = (
            f"Images: {self.imported} {'to import' if self.dry_run else 'imported'}, "
            f"{self.skipped} skipped, {self.missing} missing, {self.failed} failed. "
            f"Patients: {self.patients.imported} new, {self.patients.skipped} already there. "
            f"Treatments: {self.treatments.imported} new, {self.treatments.skipped} already "
            f"there, {self.treatments.failed} failed."
        )
        if self.name_conflicts:
            text += (
                f" {len(self.name_conflicts)} records name another tooth than their number "
                "(listed: check them)."
            )
        if self.unreferenced_files:
            text += (
                f" {_files(len(self.unreferenced_files))} no record refers to {verb} left "
                "where they are."
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        data = {
            f.name: _plain(getattr(self, f.name))
            for f in fields(self)
            if not f.name.startswith("_")
        }
        data["exit_code"] = self.exit_code
        data["summary"] = self.summary()
        return data

    def to_csv(self) -> str:
        return csv_of(self.as_dict())


def csv_of(report: dict[str, Any]) -> str:
    """Every listed record or file of a report (as_dict form), one a line: list, what, path,
    reason."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for name, key in (
        ("missing", "missing_files"),
        ("failed", "failures"),
        ("not_imported", "not_imported"),
        ("name_conflict", "name_conflicts"),
    ):
        for entry in report.get(key, ()):
            writer.writerow((name, entry["what"], entry["path"] or "", entry["reason"]))
    for path in report.get("unreferenced_files", ()):
        writer.writerow(("unreferenced", "file", path, "no record of the earlier app names it"))
    for note in report.get("notes", ()):
        writer.writerow(("note", "", "", note))
    return out.getvalue()
