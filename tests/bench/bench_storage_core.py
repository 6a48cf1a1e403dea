"""Storage-core benchmarks.

1. Ingest of realistic photos (1600x1200 JPEG) through the use-case layer versus the bare image
   work on the same files in the same run (Pillow full decode + EXIF transpose + thumbnail +
   encode). The ingest decodes each JPEG once, straight at thumbnail scale (DCT scaling).
2. Chart listing latency with 100k image rows over 2k patients.
"""

from __future__ import annotations

import io
import random
import tempfile
import uuid
from pathlib import Path

from PIL import Image, ImageOps
from sqlalchemy import insert

from backend.config import load_settings
from backend.models import IMAGE_TYPES, Patient, Treatment, utcnow
from backend.models import Image as ImageRow
from backend.runtime import Runtime
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from backend.usecases import chart, patients
from backend.usecases.images import Upload, add_images
from tests.bench.common import describe_latencies, interleaved, timed


def realistic_photo(seed: int) -> bytes:
    """A 1600x1200 JPEG with photo-like detail (noise over a tint), about 0.6 MB."""
    rng = random.Random(seed)
    noise = Image.effect_noise((1600, 1200), 40 + seed % 20).convert("RGB")
    tint = Image.new("RGB", (1600, 1200), (rng.randrange(80, 200), 120, rng.randrange(60, 180)))
    picture = Image.blend(noise, tint, 0.7)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def bare_image_work(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as picture:
        picture.load()
        upright = ImageOps.exif_transpose(picture)
        upright.thumbnail((320, 320))
        upright.convert("RGB").save(io.BytesIO(), format="JPEG", quality=82)


def bench_ingest(count: int = 200) -> None:
    photos = [realistic_photo(i) for i in range(count)]
    megabytes = sum(len(p) for p in photos) / 1e6
    with tempfile.TemporaryDirectory() as folder:
        runtime = open_runtime(load_settings(Path(folder)))
        with runtime.sessions() as session:
            patient = patients.create_patient(session, {"full_name": "Benchmark"})

            def ingest_one(i: int, data: bytes) -> None:
                [result] = add_images(
                    session,
                    runtime.store,
                    patient.id,
                    PERMANENT[i % 32],
                    "clinical",
                    [Upload(f"photo {i}.jpg", data)],
                )
                assert result.image is not None

            # alternating chunks of 10: both meet the same load of a shared machine
            bare, ours = interleaved(photos, bare_image_work, ingest_one)
        runtime.close()
    print(f"ingest: {count} photos 1600x1200 JPEG, {megabytes:.1f} MB")
    print(f"  bare Pillow decode+thumbnail: {bare:.2f} s ({count / bare:.1f} files/s)")
    print(
        f"  use-case ingest (validate, store, fsync, row, thumbnail): {ours:.2f} s "
        f"({count / ours:.1f} files/s, {megabytes / ours:.1f} MB/s)"
    )
    print(f"  ratio ours/bare: {ours / bare:.2f}x (target <= 0.6x: one decode at thumbnail scale)")


def populate_chart_rows(
    runtime: Runtime, patient_count: int, image_count: int, rng: random.Random
) -> list[str]:
    """Insert patients, treatments and image rows (no files) and return the patient ids."""
    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in range(patient_count)]
    stamps = {"created_at": now, "updated_at": now}
    with runtime.engine.begin() as connection:
        connection.execute(
            insert(Patient),
            [
                {
                    "id": pid,
                    "serial_number": str(n + 1),
                    "full_name": f"Patient {n}",
                    "date_added": now,
                    **stamps,
                }
                for n, pid in enumerate(ids)
            ],
        )
        connection.execute(
            insert(Treatment),
            [
                {
                    "id": str(uuid.uuid4()),
                    "patient_id": rng.choice(ids),
                    "tooth": rng.choice(PERMANENT),
                    "treatment_type": "Filling",
                    "status": "planned",
                    "priority": 1,
                    **stamps,
                }
                for _ in range(patient_count * 3)
            ],
        )
        for start in range(0, image_count, 10_000):
            rows = []
            for n in range(start, min(image_count, start + 10_000)):
                pid, tooth = ids[n % patient_count], rng.choice(PERMANENT)
                kind = rng.choice(IMAGE_TYPES)
                rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "patient_id": pid,
                        "tooth": tooth,
                        "image_type": kind,
                        "folder_path": f"dental_images/{pid}/{tooth}/{kind}/",
                        "file_name": f"img-{n}.jpg",
                        "size_bytes": 1,
                        "sha256": "0" * 64,
                        "width": 1,
                        "height": 1,
                        "format": "JPEG",
                        **stamps,
                    }
                )
            connection.execute(insert(ImageRow), rows)
    return ids


def chart_latencies(
    runtime: Runtime, ids: list[str], samples: int, rng: random.Random
) -> list[float]:
    latencies = []
    for pid in rng.sample(ids, samples):
        with runtime.sessions() as session:
            latencies.append(timed(lambda pid=pid: chart.patient_chart(session, pid)))
    return latencies


def bench_chart(patient_count: int = 2000, image_count: int = 100_000, samples: int = 500) -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        runtime = open_runtime(load_settings(Path(folder)))
        ids = populate_chart_rows(runtime, patient_count, image_count, rng)
        latencies = chart_latencies(runtime, ids, samples, rng)
        runtime.close()
    print(f"chart: {image_count} image rows over {patient_count} patients (SQLite)")
    print("  " + describe_latencies("patient_chart", latencies) + " (target p95 <= 20 ms)")


def main() -> None:
    bench_ingest()
    bench_chart()


if __name__ == "__main__":
    main()
