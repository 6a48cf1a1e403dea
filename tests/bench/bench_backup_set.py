"""Incremental backup benchmark: `python -m tests.bench.bench_backup_set [--size-gb 0.3]
[--new-percent 1]` (the issue's figure is for --size-gb 2).

A store of SIZE (photo-sized incompressible files with their rows, as in bench_backup) gets a
first backup into a backup set (a full copy); then NEW-PERCENT more files are added, and in the
same run are measured:

1. the incremental backup into the set (snapshot, freeze, copy the new files, write and check
   the backup): time, bytes written to the set, peak memory of its process;
2. the full zip backup of the same store (bench_backup's measure): time, bytes;
3. `cp` of just the new files into an empty folder (and `cp` followed by `sync`, since ours
   flushes what it writes).

Targets: incremental <= 2x the time of `cp` of the new files, <= 5% of the full zip's time,
peak memory <= 200 MB.
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

from sqlalchemy import insert, select

from backend.config import load_settings
from backend.models import Image as ImageRow
from backend.models import Patient, utcnow
from backend.startup import open_runtime
from backend.storage import image_folder
from backend.teeth import PERMANENT
from tests.bench.bench_backup import MB, MEMORY_TARGET_MB, build_store, measured, verdict
from tests.bench.common import timed

ROOT = Path(__file__).resolve().parents[2]
CP_TARGET = 2.0  # ours / `cp` of the new files, time
ZIP_SHARE_TARGET = 0.05  # ours / the full zip, time

MEASURE_SET = """
import resource, sys, time
from pathlib import Path
from backend.config import load_settings
from backend.startup import open_runtime
from backend.backup.set_create import create_set_backup
data_dir, target = sys.argv[1:3]
runtime = open_runtime(load_settings(data_dir))
start = time.perf_counter()
result = create_set_backup(runtime, Path(target))
elapsed = time.perf_counter() - start
runtime.close()
print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, result.size_bytes,
      result.added_files)
"""


def set_backup(data_dir: Path, target: Path) -> tuple[float, float, int, int]:
    """(seconds, peak RSS in MB, bytes added, files added) of a backup into the set."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE_SET, str(data_dir), str(target)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    seconds, rss_kb, added, files = done.stdout.split()[-4:]
    return float(seconds), int(rss_kb) / 1024, int(added), int(files)


def add_files(data_dir: Path, count: int, seed: int = 11) -> list[Path]:
    """`count` more photo-sized files with their rows; returns their paths."""
    rng = random.Random(seed)
    runtime = open_runtime(load_settings(data_dir))
    now = utcnow()
    paths, rows = [], []
    with runtime.sessions() as session:
        patients = list(session.scalars(select(Patient.id)))
        for n in range(count):
            patient = patients[n % len(patients)]
            tooth = PERMANENT[n % 32]
            folder = image_folder(patient, tooth, "clinical")
            name = f"new-photo-{n}.jpg"
            data = rng.randbytes(rng.randrange(400 * 1024, 2 * MB))
            path = data_dir / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths.append(path)
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
        session.execute(insert(ImageRow), rows)
        session.commit()
    runtime.close()
    return paths


def tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gb", type=float, default=0.3)
    parser.add_argument("--new-percent", type=float, default=1.0)
    args = parser.parse_args()
    size = int(args.size_gb * 1024 * MB)
    print(f"Incremental backup benchmark, store of {args.size_gb:.2f} GB (CPUs {os.cpu_count()})")
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        data_dir = base / "data"
        files, total = build_store(data_dir, size)
        dest = base / "dest"
        dest.mkdir()
        first_s, first_rss, first_added, first_files = set_backup(data_dir, dest)
        print(
            f"store: {files} files, {total / MB:.0f} MB; first backup into the set (a full "
            f"copy): {first_s:.2f} s, {first_added / MB:.0f} MB written, {first_files} files, "
            f"peak RSS {first_rss:.0f} MB"
        )
        new = add_files(data_dir, max(1, round(files * args.new_percent / 100)))
        new_bytes = sum(p.stat().st_size for p in new)
        set_dir = next(dest.iterdir())
        before = tree_bytes(set_dir)
        inc_s, inc_rss, inc_added, inc_files = set_backup(data_dir, dest)
        written = tree_bytes(set_dir) - before
        print(
            f"added {len(new)} files ({new_bytes / MB:.1f} MB, {args.new_percent:g}% of the "
            f"files); incremental backup: {inc_s:.2f} s, {inc_files} files added, "
            f"{inc_added / MB:.2f} MB added by its own count, set grew by {written / MB:.2f} MB, "
            f"peak RSS {inc_rss:.0f} MB"
        )
        zip_out = base / "zip"
        zip_out.mkdir()
        zip_s, zip_rss = measured("backup", data_dir, zip_out)
        (archive,) = zip_out.glob("*.zip")
        print(
            f"full zip backup of the same store: {zip_s:.2f} s, {archive.stat().st_size / MB:.0f}"
            f" MB written, peak RSS {zip_rss:.0f} MB"
        )
        cp_target = base / "cp"
        cp_target.mkdir()
        cp_s = timed(lambda: subprocess.run(["cp", *map(str, new), str(cp_target)], check=True))
        cp_target2 = base / "cp-sync"
        cp_target2.mkdir()
        cp_sync_s = timed(
            lambda: (
                subprocess.run(["cp", *map(str, new), str(cp_target2)], check=True),
                subprocess.run(["sync"], check=True),
            )
        )
        print(f"cp of just the new files: {cp_s:.3f} s; cp then sync: {cp_sync_s:.3f} s")
        print(
            f"incremental / cp = {inc_s / cp_s:.1f}x, / (cp + sync) = {inc_s / cp_sync_s:.1f}x "
            f"(target <= {CP_TARGET}x: {verdict(inc_s <= CP_TARGET * cp_sync_s)} against cp + "
            f"sync); incremental / full zip = {inc_s / zip_s:.1%} of its time and "
            f"{written / archive.stat().st_size:.1%} of its bytes (target <= "
            f"{ZIP_SHARE_TARGET:.0%}: {verdict(inc_s <= ZIP_SHARE_TARGET * zip_s)}); peak memory "
            f"{max(first_rss, inc_rss):.0f} MB (target <= {MEMORY_TARGET_MB} MB: "
            f"{verdict(max(first_rss, inc_rss) <= MEMORY_TARGET_MB)})"
        )


if __name__ == "__main__":
    main()
