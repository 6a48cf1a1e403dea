"""Backup and restore benchmarks: `python -m tests.bench.bench_backup [--size-gb 0.3]`
(the issue's figure is for --size-gb 2; the default is smaller so that it runs in a minute).

1. A backup of a store of SIZE (photo-sized, incompressible files like JPEGs, with their rows)
   against `zip -r` (and `zip -r -0`, which stores without compressing, as ours does for
   photos) of the same tree and database in the same run: time, throughput, archive size and
   the ratios. Ours also hashes every file, snapshots the database and reads the whole archive
   back to verify it.
2. A restore (with verification) of the SIZE backup into an empty installation against
   `unzip -q` of the same archive into an empty folder, in the same run.
3. Peak memory (max RSS of a fresh process) of a backup and of a restore at two store sizes,
   SIZE/4 and SIZE: it must stay flat as the store grows.

Ratios are throughput ratios, ours / reference (above 1 means ours is faster), against the
issue's targets: backup >= 0.8x of `zip -r -0`, restore >= 0.7x of `unzip`, peak memory
<= 200 MB whatever the store size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import insert

from backend.config import load_settings
from backend.models import Image as ImageRow
from backend.models import Patient, utcnow
from backend.startup import open_runtime
from backend.storage import image_folder
from backend.teeth import PERMANENT
from tests.bench.common import timed

ROOT = Path(__file__).resolve().parents[2]
MB = 1024 * 1024
BACKUP_TARGET = 0.8  # ours / `zip -r -0`, throughput
RESTORE_TARGET = 0.7  # ours / `unzip`, throughput
MEMORY_TARGET_MB = 200

MEASURE = """
import resource, sys, time
from pathlib import Path
from backend.config import load_settings
from backend.startup import open_runtime
mode, data_dir, target = sys.argv[1:4]
runtime = open_runtime(load_settings(data_dir))
start = time.perf_counter()
if mode == "backup":
    from backend.backup.create import create_backup
    create_backup(runtime, Path(target))
else:
    from backend.backup.restore import restore_backup
    restore_backup(runtime, Path(target))
elapsed = time.perf_counter() - start
runtime.close()
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build_store(data_dir: Path, size_bytes: int, seed: int = 7) -> tuple[int, int]:
    """Patients with image rows and files of 0.4-2 MB of random bytes (as incompressible as
    JPEG photos) until `size_bytes`. Returns (files, bytes)."""
    rng = random.Random(seed)
    runtime = open_runtime(load_settings(data_dir))
    files = total = 0
    rows = []
    patients = [str(uuid.uuid4()) for _ in range(max(1, size_bytes // (40 * MB)))]
    now = utcnow()
    with runtime.sessions() as session:
        session.execute(
            insert(Patient),
            [
                {
                    "id": pid,
                    "serial_number": str(n + 1),
                    "full_name": f"Bench {n}",
                    "date_added": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, pid in enumerate(patients)
            ],
        )
        while total < size_bytes:
            patient = patients[files % len(patients)]
            tooth = PERMANENT[files % 32]
            folder = image_folder(patient, tooth, "clinical")
            name = f"photo-{files}.jpg"
            data = rng.randbytes(rng.randrange(400 * 1024, 2 * MB))
            path = data_dir / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "patient_id": patient,
                    "tooth": tooth,
                    "image_type": "clinical",
                    "folder_path": folder,
                    "file_name": name,
                    "size_bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "width": 1600,
                    "height": 1200,
                    "format": "JPEG",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            files += 1
            total += len(data)
        session.execute(insert(ImageRow), rows)
        session.commit()
    runtime.close()
    return files, total


def measured(mode: str, data_dir: Path, target: Path) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a backup or a restore in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, str(data_dir), str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    seconds, rss_kb = done.stdout.split()[-2:]
    return float(seconds), int(rss_kb) / 1024


def zip_r(data_dir: Path, target: Path, *options: str) -> float:
    return timed(
        lambda: subprocess.run(
            ["zip", "-r", "-q", *options, str(target), "dental_images", "dental.db"],
            cwd=data_dir,
            check=True,
        )
    )


def unzip(archive: Path, target: Path) -> float:
    target.mkdir()
    return timed(
        lambda: subprocess.run(["unzip", "-q", str(archive), "-d", str(target)], check=True)
    )


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gb", type=float, default=0.3)
    args = parser.parse_args()
    size = int(args.size_gb * 1024 * MB)
    print(f"Backup benchmarks, store of {args.size_gb:.2f} GB (CPU count {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        results = {}
        for label, nbytes in (("small", size // 4), ("large", size)):
            data_dir = base / f"{label}-data"
            files, total = build_store(data_dir, nbytes)
            out = base / f"{label}-out"
            out.mkdir()
            seconds, rss = measured("backup", data_dir, out)
            (archive,) = out.glob("*.zip")
            fresh = base / f"{label}-restored"
            restore_s, restore_rss = measured("restore", fresh, archive)
            results[label] = (files, total, seconds, rss, archive, restore_s, restore_rss)
            print(
                f"{label}: {files} files, {total / MB:.0f} MB: backup {seconds:.2f} s "
                f"({total / MB / seconds:.0f} MB/s), peak RSS {rss:.0f} MB; restore "
                f"{restore_s:.2f} s ({total / MB / restore_s:.0f} MB/s), peak RSS "
                f"{restore_rss:.0f} MB"
            )
        files, total, seconds, _rss, archive, restore_s, _ = results["large"]
        data_dir = base / "large-data"
        reference = base / "reference.zip"
        zip_s = zip_r(data_dir, reference)
        print(
            f"zip -r of the same tree and database: {zip_s:.2f} s ({total / MB / zip_s:.0f} "
            f"MB/s), {reference.stat().st_size / MB:.0f} MB"
        )
        stored = base / "reference-stored.zip"
        stored_s = zip_r(data_dir, stored, "-0")
        print(
            f"zip -r -0 (store only, as ours does for photos): {stored_s:.2f} s "
            f"({total / MB / stored_s:.0f} MB/s), {stored.stat().st_size / MB:.0f} MB"
        )
        # Throughput ratios ours / reference: the same bytes, so a ratio of times inverted.
        backup_ratio = stored_s / seconds
        print(
            f"backup, ours: {seconds:.2f} s ({total / MB / seconds:.0f} MB/s), "
            f"{archive.stat().st_size / MB:.0f} MB; throughput ours / zip -r = "
            f"{zip_s / seconds:.2f}x, ours / zip -r -0 = {backup_ratio:.2f}x "
            f"(target >= {BACKUP_TARGET}x: {verdict(backup_ratio >= BACKUP_TARGET)})"
        )
        # The restore reference is `unzip` of our own archive into an empty folder: the same
        # archive bytes and entries (stored photos, deflated database and manifest) that our
        # restore reads, and unzip checks every entry's CRC-32, the nearest thing it has to our
        # verification. Unzipping the `zip -r -0` archive instead would read a slightly
        # different archive (no manifest, database stored rather than deflated).
        unzip_s = unzip(archive, base / "unzipped")
        restore_ratio = unzip_s / restore_s
        print(
            f"unzip -q of our archive into an empty folder: {unzip_s:.2f} s "
            f"({total / MB / unzip_s:.0f} MB/s)"
        )
        print(
            f"restore, ours (with verification): {restore_s:.2f} s "
            f"({total / MB / restore_s:.0f} MB/s); throughput ours / unzip = "
            f"{restore_ratio:.2f}x (target >= {RESTORE_TARGET}x: "
            f"{verdict(restore_ratio >= RESTORE_TARGET)})"
        )
        for name, column in (("backup", 3), ("restore", 6)):
            small_rss, large_rss = results["small"][column], results["large"][column]
            print(
                f"peak memory, {name}: {small_rss:.0f} MB at {results['small'][1] / MB:.0f} MB, "
                f"{large_rss:.0f} MB at {total / MB:.0f} MB (growth "
                f"{large_rss - small_rss:+.0f} MB; target <= {MEMORY_TARGET_MB} MB: "
                f"{verdict(max(small_rss, large_rss) <= MEMORY_TARGET_MB)})"
            )


if __name__ == "__main__":
    main()
