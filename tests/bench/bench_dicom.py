"""DICOM ingest benchmark.

100 intraoral x-rays (1500 × 1000, 12 bits stored in 16) through the use-case layer (read and
check, thumbnail with window/level, duplicate and patient checks, file written and flushed,
rows committed) versus pydicom's own decode of the same files (dcmread + pixel_array), in the
same run. Also shown: the image work alone (read + thumbnail) and the durability floor (the same
bytes written and fsynced, as the store does), so the ratio can be read. With dcmtk installed,
the same x-rays compressed as JPEG-LS lossless (as many sensors export them) are measured too.

    python -m tests.bench.bench_dicom [--count N]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pydicom

from backend.config import load_settings
from backend.dicom import reading, rendering
from backend.fileio import write_flushed
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests.bench.common import interleaved, timed
from tests.dicom_data import dicom_bytes, dicom_dataset


def intraoral_xray(seed: int, rows: int = 1000, columns: int = 1500) -> bytes:
    """A 12-bit sensor image: smooth anatomy-like shading, a bright crown, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:columns].astype(np.float32)
    shading = 1800 + 900 * np.sin(x / (180 + seed % 40)) * np.cos(y / 140)
    crown = 1400 * np.exp(-(((x - columns / 2) / 260) ** 2 + ((y - rows / 3) / 180) ** 2))
    pixels = shading + crown + rng.normal(0, 40, (rows, columns))
    ds = dicom_dataset(
        np.clip(pixels, 0, 4095).astype(np.uint16),
        PixelSpacing=[0.0187, 0.0187],
        WindowCenter=2048,
        WindowWidth=4096,
    )
    return dicom_bytes(ds)


def pydicom_decode(data: bytes) -> None:
    pydicom.dcmread(io.BytesIO(data)).pixel_array  # noqa: B018 - decoding is the point


def image_work(data: bytes) -> None:
    rendering.thumbnail(reading.read_dicom(data))


def jpeg_ls(files: list[bytes], folder: Path) -> list[bytes] | None:
    if shutil.which("dcmcjpls") is None:
        return None
    out = []
    for n, data in enumerate(files):
        given, made = folder / f"in{n}.dcm", folder / f"ls{n}.dcm"
        given.write_bytes(data)
        subprocess.run(["dcmcjpls", str(given), str(made)], check=True, capture_output=True)
        out.append(made.read_bytes())
    return out


def measure(label: str, files: list[bytes]) -> None:
    count, megabytes = len(files), sum(len(f) for f in files) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        work_reference, work = interleaved(files, pydicom_decode, lambda _n, f: image_work(f))
        floor_dir = Path(folder) / "floor"
        floor_dir.mkdir()
        floor = timed(
            lambda: [write_flushed(floor_dir / f"{n}.dcm", f) for n, f in enumerate(files)]
        )
        runtime = open_runtime(load_settings(Path(folder) / "data"))
        with runtime.sessions() as session:
            patient = patients.create_patient(session, {"full_name": "Layla Haddad"})

            def ingest_one(n: int, data: bytes) -> None:
                [result] = add_images(
                    session,
                    runtime.store,
                    patient.id,
                    PERMANENT[n % 32],
                    "xray",
                    [Upload(f"IO{n:04}.dcm", data)],
                    confirm_patient=True,
                )
                assert result.image is not None, result.error

            # alternating chunks of 10: both meet the same load of a shared machine
            reference, ours = interleaved(files, pydicom_decode, ingest_one)
        runtime.close()
    print(f"{label}: {count} files 1500x1000 12-bit, {megabytes:.1f} MB")
    print(f"  pydicom decode alone (dcmread + pixel_array): {reference:.2f} s")
    print(
        f"  image work alone (read, check, thumbnail): {work:.2f} s "
        f"({work / work_reference:.2f}x pydicom's decode timed beside it)"
    )
    print(f"  durability floor (same bytes written + fsync): {floor:.2f} s")
    print(
        f"  use-case ingest: {ours:.2f} s ({count / ours:.1f} files/s, {megabytes / ours:.0f} MB/s)"
    )
    print(f"  ratio ours/pydicom decode: {ours / reference:.2f}x (target <= 1.5x)")
    print(
        f"  ratio ours/(pydicom decode + durability floor): {ours / (reference + floor):.2f}x "
        "(what storing can cost at least: the bytes must reach the disk)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100)
    count = parser.parse_args().count
    files = [intraoral_xray(seed) for seed in range(count)]
    measure("uncompressed (Explicit VR Little Endian)", files)
    with tempfile.TemporaryDirectory() as folder:
        compressed = jpeg_ls(files, Path(folder))
    if compressed is None:
        print("JPEG-LS: skipped (dcmtk's dcmcjpls is not installed)")
    else:
        measure("JPEG-LS lossless", compressed)
    print(f"(cpus: {os.cpu_count()}, load: {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
