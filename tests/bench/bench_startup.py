"""Start-to-usable-window time of the bundle versus running from source, in the same run.

Usable = the page has rendered and posted /api/ready, which the server logs as "ui ready" with
its own timestamp; the figure is that timestamp minus the wall-clock time just before the
process was spawned (see tests/bundle/launch.py). Both variants open the same data folder (four
demo patients, made once before timing), on one virtual screen, alternating, so disk cache and
screen are the same for both. Also prints the bundle's size and build time.

Run: .venv/bin/python -m tests.bench.bench_startup   (starts itself under xvfb-run if needed)"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from tests.bundle.build_cache import ROOT, Bundle, bundle_in_use
from tests.bundle.launch import start, stop, wait_until_ready

RUNS = 5


def command(variant: str, executable: Path, data_dir: Path, *extra: str) -> list[str]:
    if variant == "bundle":
        return [str(executable), "--data-dir", str(data_dir), *extra]
    return [sys.executable, str(ROOT / "app.py"), "--data-dir", str(data_dir), *extra]


def time_start(variant: str, executable: Path, data_dir: Path, *extra: str) -> float:
    process, spawned_at = start(
        command(variant, executable, data_dir, *extra), data_dir.with_suffix(".out"), ROOT
    )
    try:
        return wait_until_ready(process, data_dir, spawned_at).seconds
    finally:
        stop(process)
        (data_dir / "logs" / "dental-images.log").unlink(missing_ok=True)


def du(folder: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


def main() -> None:
    if not os.environ.get("DISPLAY"):
        os.execvp(
            "xvfb-run",
            ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", __spec__.name],
        )
    with bundle_in_use() as bundle:
        measure(bundle)


def measure(bundle: Bundle) -> None:
    mb = 1024 * 1024
    how = "reused build of these sources" if bundle.reused else "built now"
    print(f"bundle {bundle.version}: build {bundle.build_seconds:.0f} s ({how})")
    tarball_mb = bundle.tarball.stat().st_size / mb
    print(f"  on disk {du(bundle.folder) / mb:.0f} MB; {bundle.tarball.name} {tarball_mb:.0f} MB")
    if bundle.deb:
        print(f"  {bundle.deb.name} {bundle.deb.stat().st_size / mb:.0f} MB")
    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp) / "data"
        first = {
            variant: time_start(variant, bundle.executable, Path(temp) / f"first-{variant}")
            for variant in ("bundle", "source")
        }
        time_start("bundle", bundle.executable, data_dir, "--demo")  # data for the timed runs
        times: dict[str, list[float]] = {"bundle": [], "source": []}
        for _ in range(RUNS):
            for variant in times:
                times[variant].append(time_start(variant, bundle.executable, data_dir))
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"start to usable window ({RUNS} runs each, alternating; 4 demo patients):")
    for variant, samples in times.items():
        print(
            f"  {variant:6}: median {statistics.median(samples):.2f} s "
            f"(min {min(samples):.2f}, max {max(samples):.2f}); "
            f"first start on an empty folder {first[variant]:.2f} s"
        )
    ratio = statistics.median(times["bundle"]) / statistics.median(times["source"])
    print(f"  bundle / source: {ratio:.2f}x (target for the bundle: <= 2 s)")


if __name__ == "__main__":
    main()
