"""Encrypted against plain backups: `python -m tests.bench.bench_backup_encryption
[--size-gb 0.3] [--rounds 3]`.

1. The same store (photo-sized, incompressible files with their rows, as in bench_backup) is
   backed up plain and encrypted (WinZip AES-256, with the passphrase), each in a fresh process,
   alternately for ROUNDS rounds so that both meet the same load of a shared machine: time,
   throughput and archive size; the throughput ratio encrypted / plain (target >= 0.7x). Both
   include writing, hashing and the full verification read that every backup does.
2. A restore (with verification) of each archive into an empty installation: the same ratio.
3. Peak memory (max RSS of the process) of an encrypted backup and restore at SIZE/4 and SIZE:
   it must stay flat as the store grows (target <= 200 MB).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.bench.bench_backup import MB, MEMORY_TARGET_MB, ROOT, build_store, verdict

THROUGHPUT_TARGET = 0.7  # encrypted / plain
PASSPHRASE = "bench passphrase, long enough"

MEASURE = """
import resource, sys, time
from pathlib import Path
from backend.config import load_settings
from backend.startup import open_runtime
mode, data_dir, target, passphrase = sys.argv[1:5]
runtime = open_runtime(load_settings(data_dir))
start, cpu_start = time.perf_counter(), time.process_time()
if mode == "backup":
    from backend.backup.create import create_backup
    create_backup(runtime, Path(target), passphrase=passphrase or None)
else:
    from backend.backup.restore import restore_backup
    restore_backup(runtime, Path(target), passphrase=passphrase or None)
elapsed = time.perf_counter() - start
cpu = time.process_time() - cpu_start
runtime.close()
print(elapsed, cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


CPU: dict[str, list[float]] = {}  # mode/kind -> CPU seconds of each run


def measured(mode: str, data_dir: Path, target: Path, passphrase: str) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of a backup or a restore in a fresh process; its CPU time is
    kept in CPU (steadier than the time on a shared machine)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, mode, str(data_dir), str(target), passphrase],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    seconds, cpu, rss_kb = done.stdout.split()[-3:]
    kind = "encrypted" if passphrase else "plain"
    CPU.setdefault(f"{mode} {kind}", []).append(float(cpu))
    return float(seconds), int(rss_kb) / 1024


def backup_once(data_dir: Path, out: Path, passphrase: str) -> tuple[float, float, Path]:
    out.mkdir()
    seconds, rss = measured("backup", data_dir, out, passphrase)
    (archive,) = out.glob("*.zip")
    return seconds, rss, archive


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-gb", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = int(args.size_gb * 1024 * MB)
    print(
        f"Encrypted backup benchmarks, store of {args.size_gb:.2f} GB, {args.rounds} rounds "
        f"(CPU count {os.cpu_count()})"
    )
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        data_dir = base / "data"
        files, total = build_store(data_dir, size)
        print(f"store: {files} files, {total / MB:.0f} MB")
        times: dict[str, list[float]] = {"plain": [], "encrypted": []}
        archives: dict[str, Path] = {}
        rss: dict[str, float] = {}
        for round_ in range(args.rounds):
            order = ("plain", "encrypted") if round_ % 2 == 0 else ("encrypted", "plain")
            for kind in order:
                secret = PASSPHRASE if kind == "encrypted" else ""
                seconds, peak, archive = backup_once(data_dir, base / f"{kind}-{round_}", secret)
                times[kind].append(seconds)
                rss[kind] = max(rss.get(kind, 0.0), peak)
                if kind in archives:
                    archive.unlink()
                else:
                    archives[kind] = archive
        medians = {kind: statistics.median(values) for kind, values in times.items()}
        for kind, seconds in medians.items():
            print(
                f"backup, {kind}: median {seconds:.2f} s ({total / MB / seconds:.0f} MB/s) of "
                f"{', '.join(f'{s:.2f}' for s in times[kind])} s; archive "
                f"{archives[kind].stat().st_size / MB:.1f} MB; peak RSS {rss[kind]:.0f} MB"
            )
        ratio = medians["plain"] / medians["encrypted"]
        print(
            f"backup throughput encrypted / plain = {ratio:.2f}x "
            f"(target >= {THROUGHPUT_TARGET}x: {verdict(ratio >= THROUGHPUT_TARGET)})"
        )
        cpu_plain = statistics.median(CPU["backup plain"])
        cpu_encrypted = statistics.median(CPU["backup encrypted"])
        print(
            f"backup CPU time, median: plain {cpu_plain:.2f} s, encrypted {cpu_encrypted:.2f} s "
            f"(plain / encrypted = {cpu_plain / cpu_encrypted:.2f}x)"
        )
        restore: dict[str, tuple[float, float]] = {}
        for kind in ("plain", "encrypted"):
            secret = PASSPHRASE if kind == "encrypted" else ""
            restore[kind] = measured("restore", base / f"restored-{kind}", archives[kind], secret)
            seconds, peak = restore[kind]
            print(
                f"restore, {kind}: {seconds:.2f} s ({total / MB / seconds:.0f} MB/s), peak RSS "
                f"{peak:.0f} MB"
            )
        restore_ratio = restore["plain"][0] / restore["encrypted"][0]
        print(
            f"restore throughput encrypted / plain = {restore_ratio:.2f}x "
            f"(target >= {THROUGHPUT_TARGET}x: {verdict(restore_ratio >= THROUGHPUT_TARGET)})"
        )
        small_dir = base / "small-data"
        _files, small_total = build_store(small_dir, size // 4, seed=11)
        _seconds, small_rss, small_archive = backup_once(small_dir, base / "small-out", PASSPHRASE)
        _s, small_restore_rss = measured(
            "restore", base / "small-restored", small_archive, PASSPHRASE
        )
        for name, small, large in (
            ("backup", small_rss, rss["encrypted"]),
            ("restore", small_restore_rss, restore["encrypted"][1]),
        ):
            flat = max(small, large) <= MEMORY_TARGET_MB
            print(
                f"peak memory, encrypted {name}: {small:.0f} MB at {small_total / MB:.0f} MB, "
                f"{large:.0f} MB at {total / MB:.0f} MB (growth {large - small:+.0f} MB; "
                f"target <= {MEMORY_TARGET_MB} MB: {verdict(flat)})"
            )


if __name__ == "__main__":
    main()
