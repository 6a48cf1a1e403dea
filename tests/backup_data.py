"""Stores to back up and ways to compare them: patients with treatments and linked images made
through the use cases, and fingerprints of every row and every file."""

from __future__ import annotations

import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.backup.manifest import DATABASE_ENTRY, MANIFEST_NAME, Entry, Manifest
from backend.models import Base
from backend.runtime import Runtime
from backend.usecases import patients, treatments
from backend.usecases.images import Upload, add_images
from tests.helpers import image_bytes

SKIPPED_STATE = ("backup.",)


def populate(runtime: Runtime, *, patients_count: int = 3, images_each: int = 3) -> list[str]:
    """Patients with a treatment each and images linked to it (Arabic names included).
    Returns the patient ids."""
    ids = []
    with runtime.sessions() as session:
        for n in range(patients_count):
            name = "ليلى حداد" if n == 1 else f"Patient {n}"
            patient = patients.create_patient(session, {"full_name": name, "phone": f"079{n}"})
            treatment = treatments.create_treatment(
                session,
                patient.id,
                {"tooth": "14", "treatment_type": "Crown", "cost": "120.50", "status": "completed"},
            )
            uploads = [
                Upload(
                    f"صورة {k}.png" if k % 2 else f"photo {k}.jpg",
                    image_bytes("PNG" if k % 2 else "JPEG", (64 + k, 48 + n), (n * 40, k * 30, 90)),
                )
                for k in range(images_each)
            ]
            add_images(
                session,
                runtime.store,
                patient.id,
                "14",
                "before",
                uploads[:2],
                treatment_id=treatment.id,
                description="linked",
            )
            if uploads[2:]:
                add_images(session, runtime.store, patient.id, "3", "xray", uploads[2:])
            ids.append(patient.id)
    return ids


def rows(runtime: Runtime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (leases and this installation's backup history left out)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name == "store_locks":
                continue
            result = [tuple(row) for row in connection.execute(select(table))]
            if table.name == "app_state":
                result = [r for r in result if not str(r[0]).startswith(SKIPPED_STATE)]
                result = [r[:2] for r in result]
            found[table.name] = sorted(result, key=repr)
    return found


def files(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder`."""
    found = {}
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            path = Path(dirpath) / name
            found[path.relative_to(folder).as_posix()] = hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
    return found


def state_of(runtime: Runtime) -> tuple[dict, dict]:
    return rows(runtime), files(runtime.settings.images_dir)


def write_archive(
    path: Path,
    database: Path,
    images: dict[str, bytes],
    *,
    schema_version: str | None,
    counts: dict[str, int],
    extra: dict[str, bytes] | None = None,
) -> Manifest:
    """An archive in the program's format, written by hand (for archives the program itself
    would never write: older schemas, odd paths)."""
    entries = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in images.items():
            archive.writestr(name, data)
            entries[name] = Entry(len(data), hashlib.sha256(data).hexdigest())
        data = database.read_bytes()
        archive.writestr(DATABASE_ENTRY, data)
        entries[DATABASE_ENTRY] = Entry(len(data), hashlib.sha256(data).hexdigest())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        manifest = Manifest(
            app_version="0.0.9",
            created_at="2025-01-02T03:04:05Z",
            source_machine="OLD-PC",
            schema_version=schema_version,
            includes_images=True,
            counts={
                **counts,
                "files": len(images),
                "image_bytes": sum(len(d) for d in images.values()),
            },
            entries=entries,
        )
        archive.writestr(MANIFEST_NAME, manifest.to_bytes())
    return manifest


def understate_entry(path: Path, name: str, declared: int, *, crc_of_declared: bool = True) -> None:
    """Patch the zip at `path` so that its entry `name` declares `declared` bytes (in its local
    and its central header) while its compressed stream still holds all its data. With
    `crc_of_declared`, the CRC-32 becomes that of the first `declared` bytes, so that zipfile
    alone, which cuts an entry at its declared size, would hand them over without a word."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        with archive.open(info) as source:
            crc = zlib.crc32(source.read(declared)) if crc_of_declared else info.CRC
    data = bytearray(path.read_bytes())
    local = info.header_offset
    assert data[local : local + 4] == b"PK\x03\x04"
    struct.pack_into("<II", data, local + 14, crc, info.compress_size)
    struct.pack_into("<I", data, local + 22, declared)
    central = data.rindex(name.encode()) - 46
    assert data[central : central + 4] == b"PK\x01\x02"
    struct.pack_into("<II", data, central + 16, crc, info.compress_size)
    struct.pack_into("<I", data, central + 24, declared)
    path.write_bytes(bytes(data))
