"""The manifest of a backup archive: what the archive holds, and the size and SHA-256 of every
entry, so that an archive can be verified on its own, anywhere, without the program's data."""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend import __version__
from backend.backup.snapshot import read_facts
from backend.i18n import gettext
from backend.models import utcnow

FORMAT = "dental-images-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_ENTRY = "database.sqlite"
IMAGES_PREFIX = "dental_images/"
COUNT_KEYS = ("patients", "treatments", "images", "files", "image_bytes")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ManifestError(ValueError):
    """A manifest that cannot be read; the message says why, for the person at the desk."""


@dataclass(frozen=True)
class Entry:
    size: int
    sha256: str


@dataclass
class Manifest:
    """`entries` maps every entry name in the archive (except the manifest) to its size and
    checksum. `missing_files` lists image rows whose file was already missing from the store
    when the backup was made (so a restore can tell them from damage)."""

    app_version: str
    created_at: str
    source_machine: str
    schema_version: str | None
    includes_images: bool
    counts: dict[str, int]
    entries: dict[str, Entry] = field(default_factory=dict)
    missing_files: list[str] = field(default_factory=list)
    format_version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        data = {
            "format": FORMAT,
            "format_version": self.format_version,
            "app_version": self.app_version,
            "created_at": self.created_at,
            "source_machine": self.source_machine,
            "schema_version": self.schema_version,
            "includes_images": self.includes_images,
            "counts": self.counts,
            "database": DATABASE_ENTRY,
            "missing_files": self.missing_files,
            "entries": {
                name: {"size": entry.size, "sha256": entry.sha256}
                for name, entry in self.entries.items()
            },
        }
        return json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")

    def summary(self) -> dict[str, Any]:
        """What a person wants to see before restoring: when, from where, how much."""
        return {
            "created_at": self.created_at,
            "app_version": self.app_version,
            "source_machine": self.source_machine,
            "schema_version": self.schema_version,
            "includes_images": self.includes_images,
            "counts": dict(self.counts),
            "missing_files": len(self.missing_files),
        }

    @property
    def total_bytes(self) -> int:
        return sum(entry.size for entry in self.entries.values())


def parse_manifest(raw: bytes) -> Manifest:
    """Read and check a manifest; raises ManifestError with a sentence saying what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than any manifest
        raise ManifestError(gettext("manifest.json is not readable JSON.")) from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ManifestError(gettext("manifest.json does not describe a Dental Images backup."))
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ManifestError(gettext("manifest.json has no valid format version."))
    if version > FORMAT_VERSION:
        raise ManifestError(
            gettext(
                "This backup uses format {version}, made by a newer version of the program "
                "({app_version}); update the program, then restore it.",
                version=version,
                app_version=data.get("app_version", "unknown"),
            )
        )
    if data.get("database") != DATABASE_ENTRY:
        raise ManifestError(gettext("manifest.json does not name the database entry."))
    return Manifest(
        app_version=_text(data, "app_version"),
        created_at=_text(data, "created_at"),
        source_machine=_text(data, "source_machine"),
        schema_version=data.get("schema_version")
        if isinstance(data.get("schema_version"), str)
        else None,
        includes_images=bool(data.get("includes_images")),
        counts=_counts(data.get("counts")),
        entries=_entries(data.get("entries")),
        missing_files=_missing_files(data.get("missing_files")),
        format_version=version,
    )


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise ManifestError(gettext("manifest.json has no {key}.", key=key))
    return value


def _counts(value: Any) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ManifestError(gettext("manifest.json has no counts."))
    counts = {}
    for key in COUNT_KEYS:
        number = value.get(key)
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise ManifestError(gettext("manifest.json has no valid count of {key}.", key=key))
        counts[key] = number
    return counts


def _entries(value: Any) -> dict[str, Entry]:
    if not isinstance(value, dict) or DATABASE_ENTRY not in value:
        raise ManifestError(gettext("manifest.json lists no database entry."))
    entries = {}
    for name, facts in value.items():
        if not isinstance(facts, dict):
            raise ManifestError(
                gettext("manifest.json has no size and checksum for {name}.", name=name)
            )
        size, digest = facts.get("size"), facts.get("sha256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ManifestError(gettext("manifest.json has no valid size for {name}.", name=name))
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ManifestError(
                gettext("manifest.json has no valid SHA-256 for {name}.", name=name)
            )
        entries[str(name)] = Entry(size=size, sha256=digest)
    return entries


def _missing_files(value: Any) -> list[str]:
    if value in (None, []):
        return []
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise ManifestError(gettext("manifest.json has no valid list of missing files."))
    return list(value)


def manifest_made_here(
    snapshot: Path,
    *,
    images: dict[str, Entry],
    database: Entry,
    includes_images: bool,
    missing_files: list[str],
) -> Manifest:
    """The manifest of a backup made now by this program on this PC from the database
    `snapshot`: its schema and counts, which gain the number and bytes of `images`, whose
    entries come before the database's."""
    facts = read_facts(snapshot)
    return Manifest(
        app_version=__version__,
        created_at=utcnow().isoformat(timespec="seconds") + "Z",
        source_machine=socket.gethostname(),
        schema_version=facts.schema_version,
        includes_images=includes_images,
        counts={
            **facts.counts,
            "files": len(images),
            "image_bytes": sum(e.size for e in images.values()),
        },
        entries={**images, DATABASE_ENTRY: database},
        missing_files=sorted(missing_files),
    )
