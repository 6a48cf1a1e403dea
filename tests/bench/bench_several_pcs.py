"""Several PCs: upload throughput with 1, 2 and 4 concurrent clients on SQLite versus PostgreSQL,
and chart latency at 100k image rows on PostgreSQL.

Run: DENTAL_IMAGES_TEST_PG_URL=... python -m tests.bench.bench_several_pcs
(scripts/postgres-test-server.sh starts a local server and prints the URL)."""

from __future__ import annotations

import os
import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from backend.config import load_settings
from backend.runtime import Runtime, open_runtime
from backend.teeth import PERMANENT
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests import postgres
from tests.bench.bench_storage_core import chart_latencies, populate_chart_rows
from tests.bench.common import describe_latencies, timed
from tests.helpers import image_bytes

UPLOADS = 240


def _runtime(folder: Path, db_url: str | None) -> Runtime:
    settings = load_settings(folder)
    return open_runtime(replace(settings, db_url=db_url) if db_url else settings)


def upload_throughput(runtime: Runtime, clients: int, photos: list[bytes]) -> float:
    """Files per second when `clients` threads upload at once, each with its own session."""
    with runtime.sessions() as session:
        patient_id = patients.create_patient(session, {"full_name": f"Bench {clients}"}).id

    def client(index: int) -> None:
        with runtime.sessions() as session:
            for n in range(index, len(photos), clients):
                add_images(
                    session,
                    runtime.store,
                    patient_id,
                    PERMANENT[n % 32],
                    "clinical",
                    [Upload(f"photo {n}.jpg", photos[n])],
                )

    elapsed = timed(lambda: list(ThreadPoolExecutor(clients).map(client, range(clients))))
    return len(photos) / elapsed


def main() -> None:
    admin = postgres.admin_url()
    postgres.create_template(admin)
    photos = [image_bytes("JPEG", (1024, 768), (i % 250, 90, 160)) for i in range(UPLOADS)]
    print(f"upload throughput, {UPLOADS} JPEG 1024x768 per run (files/s)")
    for engine in ("sqlite", "postgresql"):
        figures = []
        for clients in (1, 2, 4):
            name, url = postgres.fresh_database(admin) if engine == "postgresql" else (None, None)
            with tempfile.TemporaryDirectory() as folder:
                runtime = _runtime(Path(folder), url)
                figures.append(upload_throughput(runtime, clients, photos))
                runtime.close()
            if name:
                postgres.drop_database(admin, name)
        print(
            f"  {engine:10}: "
            + "  ".join(
                f"{c} client{'s' if c > 1 else ''}: {f:6.1f}"
                for c, f in zip((1, 2, 4), figures, strict=True)
            )
        )
    name, url = postgres.fresh_database(admin)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as folder:
        runtime = _runtime(Path(folder), url)
        ids = populate_chart_rows(runtime, 2000, 100_000, rng)
        latencies = chart_latencies(runtime, ids, 500, rng)
        runtime.close()
    postgres.drop_database(admin, name)
    print("chart: 100000 image rows over 2000 patients (PostgreSQL)")
    print("  " + describe_latencies("patient_chart", latencies) + " (target p95 <= 20 ms)")
    print(f"  (cores on this machine: {os.cpu_count()})")


if __name__ == "__main__":
    main()
