"""DICOM receiver throughput benchmark.

dcmtk's storescu sends N small intraoral x-rays (256 × 192, 12 bits stored in 16, as pydicom
writes them) over one association to the program's receiver on a loopback port, as an x-ray
unit would; every file is checked, written and flushed into the Inbox and its row committed
before the C-STORE is answered. The figure is files per second of the whole send, measured
from storescu's start to its end, and the Inbox is counted afterwards. Also shown: the same
files sent to dcmtk's own storescp (writing them to a folder, no checks, no database), as the
floor of the network and of storescu itself.

    python -m tests.bench.bench_dicom_receiver [--count N]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from backend.config import load_settings
from backend.startup import open_runtime
from backend.usecases import inbox
from tests.bench.common import timed
from tests.dicom_data import dicom_bytes, dicom_dataset

TARGET_FILES_PER_S = 20.0


def small_xray(seed: int, rows: int = 192, columns: int = 256) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 4096, (rows, columns), dtype=np.uint16)
    return dicom_bytes(dicom_dataset(pixels, patient_id=f"B-{seed}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def storescu(port: int, files: list[Path], called: str) -> None:
    subprocess.run(
        ["storescu", "-aet", "BENCHUNIT", "-aec", called, "127.0.0.1", str(port), *map(str, files)],
        check=True,
        capture_output=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def dcmtk_floor(files: list[Path], folder: Path) -> float:
    """Seconds for storescu to send `files` to dcmtk's storescp (files written, nothing else)."""
    if shutil.which("storescp") is None:
        return float("nan")
    port = free_port()
    out = folder / "storescp"
    out.mkdir()
    server = subprocess.Popen(
        ["storescp", "-od", str(out), "-aet", "FLOOR", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)  # let it bind
        return timed(lambda: storescu(port, files, "FLOOR"))
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        sent = folder / "send"
        sent.mkdir()
        files = []
        for n in range(count):
            path = sent / f"IO{n:04}.dcm"
            path.write_bytes(small_xray(n))
            files.append(path)
        megabytes = sum(p.stat().st_size for p in files) / 1e6
        floor = dcmtk_floor(files, folder)

        runtime = open_runtime(load_settings(folder / "data"))
        assert runtime.receiver is not None
        runtime.receiver.host = "127.0.0.1"  # loopback only
        port = free_port()
        status = runtime.receiver.change(
            {"enabled": True, "ae_title": "DENTAL", "port": port, "allowed_ae_titles": "BENCHUNIT"}
        )
        assert status["listening"], status
        try:
            seconds = timed(lambda: storescu(port, files, "DENTAL"))
            with runtime.sessions() as session:
                received = inbox.inbox_count(session)
        finally:
            runtime.close()
    assert received == count, f"{received} of {count} files reached the Inbox"
    rate = count / seconds
    print(f"DICOM receiver: {count} files 256x192 12-bit, {megabytes:.1f} MB, one association")
    print(f"  dcmtk storescp floor (files written, no checks): {floor:.2f} s")
    print(f"  the program's receiver into the Inbox: {seconds:.2f} s ({rate:.1f} files/s)")
    verdict = "met" if rate >= TARGET_FILES_PER_S else "NOT met"
    print(f"  target >= {TARGET_FILES_PER_S:.0f} files/s: {verdict}")


if __name__ == "__main__":
    main()
