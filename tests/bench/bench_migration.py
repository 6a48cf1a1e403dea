"""Migration benchmarks: `python -m tests.bench.bench_migration [--files N] [--rows N]`.

1. Migrating N legacy files (realistic JPEG and PNG sizes) from the earlier app's layout into
   ours, against `cp -r` of the same tree in the same run: files/s, MB/s and the ratio (hard
   links on one file system), then the same import with hard links refused (the copy path).
2. The start-up "nothing to migrate" check on a store of N image rows and files.
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from pathlib import Path
from unittest import mock

from PIL import Image
from sqlalchemy import insert

from backend.config import load_settings
from backend.migration.importer import import_legacy, open_source
from backend.migration.runner import run_migration
from backend.migration.state import startup_check
from backend.models import IMAGE_TYPES, Patient, utcnow
from backend.models import Image as ImageRow
from backend.moving import mover
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from tests.bench.common import describe_latencies, timed
from tests.legacy_data import FDI_CHECK

FDI_TEETH = [11, 12, 13, 14, 15, 16, 17, 18, 21, 26, 31, 36, 41, 46, 55, 85]


def _bases(seed: int = 3) -> list[tuple[str, bytes]]:
    """A few photo-like JPEGs (about 0.3-0.5 MB) and x-ray-like grey PNGs (about 0.2-0.6 MB)."""
    rng = random.Random(seed)
    bases = []
    for n in range(6):
        noise = Image.effect_noise((1280, 960), 30 + n * 5).convert("RGB")
        tint = Image.new("RGB", noise.size, (rng.randrange(80, 200), 120, rng.randrange(60, 180)))
        buffer = io.BytesIO()
        Image.blend(noise, tint, 0.7).save(buffer, format="JPEG", quality=88)
        bases.append(("jpg", buffer.getvalue()))
    for n in range(3):
        grey = Image.effect_noise((900, 700), 12 + n * 6).convert("L")
        buffer = io.BytesIO()
        grey.save(buffer, format="PNG")
        bases.append(("png", buffer.getvalue()))
    return bases


def _unique(kind: str, data: bytes, n: int) -> bytes:
    """The base image with a comment naming `n`, so that every file has its own bytes."""
    text = f"legacy file {n}".encode()
    if kind == "jpg":  # a COM segment right after SOI
        return data[:2] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + data[2:]
    import zlib

    chunk = b"tEXt" + b"Comment\x00" + text
    crc = zlib.crc32(chunk).to_bytes(4, "big")
    return data[:33] + len(chunk[4:]).to_bytes(4, "big") + chunk + crc + data[33:]


def make_legacy_store(folder: Path, count: int) -> int:
    """The earlier app's data folder with `count` image rows in full-path form (FDI teeth),
    over count/20 patients. Returns the bytes written."""
    bases = _bases()
    db = sqlite3.connect(folder / "dental_clinic.db")
    db.executescript(
        f"""CREATE TABLE patients (id TEXT PRIMARY KEY, serial_number TEXT, full_name TEXT,
            created_at TEXT);
        CREATE TABLE tooth_treatments (id TEXT PRIMARY KEY, patient_id TEXT,
            tooth_number INTEGER {FDI_CHECK}, treatment_type TEXT, priority INTEGER);
        CREATE TABLE tooth_treatment_images (id TEXT PRIMARY KEY, tooth_treatment_id TEXT,
            patient_id TEXT, tooth_number INTEGER, image_path TEXT, image_type TEXT,
            description TEXT, taken_date TEXT, created_at TEXT, updated_at TEXT);"""
    )
    patients = [str(uuid.uuid4()) for _ in range(max(1, count // 20))]
    db.executemany(
        "INSERT INTO patients VALUES (?, ?, ?, '2024-01-01 10:00:00')",
        [(p, str(n + 1), f"Patient {n}") for n, p in enumerate(patients)],
    )
    total = 0
    rows = []
    for n in range(count):
        patient, tooth = patients[n % len(patients)], FDI_TEETH[n % len(FDI_TEETH)]
        kind, base = bases[n % len(bases)]
        image_type = IMAGE_TYPES[n % len(IMAGE_TYPES)]
        ms = 1_751_793_462_764 + n
        relative = f"dental_images/{patient}/{tooth}/{image_type}/img_{ms}-{ms + 1}.{kind}"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _unique(kind, base, n)
        path.write_bytes(data)
        total += len(data)
        rows.append((str(uuid.uuid4()), patient, tooth, relative, image_type))
    db.executemany(
        "INSERT INTO tooth_treatment_images (id, patient_id, tooth_number, image_path,"
        " image_type, created_at) VALUES (?, ?, ?, ?, ?, '2024-05-01 09:00:00')",
        rows,
    )
    db.commit()
    db.close()
    return total


def _report(label: str, count: int, megabytes: float, seconds: float) -> None:
    print(
        f"  {label}: {seconds:.2f} s, {count / seconds:.0f} files/s, {megabytes / seconds:.0f} MB/s"
    )


def bench_migration(count: int) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
        home = Path(folder) / "home"
        home.mkdir()
        megabytes = make_legacy_store(home, count) / 1e6
        print(f"migration: {count} legacy files, {megabytes:.0f} MB (JPEG and PNG)")
        copy_target = Path(folder) / "cp-copy"
        os.sync()  # both runs start with the freshly made store on disk, not in dirty pages
        cp = timed(
            lambda: subprocess.run(
                ["cp", "-r", str(home / "dental_images"), str(copy_target)], check=True
            )
        )
        shutil.rmtree(copy_target)
        _report("cp -r of the same tree", count, megabytes, cp)
        holder: dict = {}

        def migrate() -> None:
            runtime = open_runtime(load_settings(home))
            holder["report"] = run_migration(runtime)
            runtime.close()

        os.sync()
        ours = timed(migrate)
        report = holder["report"]
        assert report.imported == count, report.summary()
        _report(
            "migration (check, backup, journal, hard links, rows, cleanup)", count, megabytes, ours
        )
        print(f"  ratio ours/cp speed: {cp / ours:.2f}x (target >= 1x with hard links)")

        legacy = Path(folder) / "legacy"
        legacy.mkdir()
        make_legacy_store(legacy, count)
        target = open_runtime(load_settings(Path(folder) / "copy-home"))

        def no_hard_links(*_args, **_kwargs):
            raise OSError(errno.EPERM, "hard links are not supported here")

        # As on a file system without hard links (FAT, many shares): every file is copied and
        # flushed, then given its name by an atomic rename.
        with mock.patch.object(mover.os, "link", no_hard_links):
            copied = timed(lambda: import_legacy(target, open_source(legacy), notation="fdi"))
        target.close()
        _report("import with hard links refused (copy + fsync path)", count, megabytes, copied)
        print(f"  ratio ours/cp speed on the copy path: {cp / copied:.2f}x")


def bench_startup_check(rows: int, samples: int = 200) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
        settings = load_settings(Path(folder))
        runtime = open_runtime(settings)
        now = utcnow()
        patients = [str(uuid.uuid4()) for _ in range(max(1, rows // 50))]
        images = []
        for n in range(rows):
            pid, tooth, kind = patients[n % len(patients)], PERMANENT[n % 32], IMAGE_TYPES[n % 5]
            folder_path = f"dental_images/{pid}/{tooth}/{kind}/"
            images.append(
                {
                    "id": str(uuid.uuid4()),
                    "patient_id": pid,
                    "tooth": tooth,
                    "image_type": kind,
                    "folder_path": folder_path,
                    "file_name": f"img-{n}.jpg",
                    "created_at": now,
                    "updated_at": now,
                    "size_bytes": 1,
                    "sha256": "0" * 64,
                    "width": 1,
                    "height": 1,
                    "format": "JPEG",
                }
            )
            path = settings.image_store_root / folder_path
            path.mkdir(parents=True, exist_ok=True)
            (path / f"img-{n}.jpg").touch()
        with runtime.engine.begin() as connection:
            connection.execute(
                insert(Patient),
                [
                    {
                        "id": p,
                        "serial_number": str(n),
                        "full_name": f"P {n}",
                        "date_added": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, p in enumerate(patients)
                ],
            )
            connection.execute(insert(ImageRow), images)
        first = timed(lambda: startup_check(settings, runtime.sessions))
        latencies = [
            timed(lambda: startup_check(settings, runtime.sessions)) for _ in range(samples)
        ]
        runtime.close()
    print(f"start-up check: store of {rows} image rows and files")
    print(
        f"  first check after the data arrived (one directory read, state recorded): "
        f"{first * 1000:.1f} ms"
    )
    print("  " + describe_latencies("recorded-complete check", latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    bench_migration(args.files)
    bench_startup_check(args.rows)


if __name__ == "__main__":
    main()
