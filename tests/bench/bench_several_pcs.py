"""Several PCs: upload throughput with 1, 2 and 4 concurrent clients on SQLite versus PostgreSQL,
and chart latency at 100k image rows on PostgreSQL.

Run: DENTAL_IMAGES_TEST_PG_URL=... python -m tests.bench.bench_several_pcs
(scripts/postgres-test-server.sh starts a local server and prints the URL)."""

from __future__ import annotations

import multiprocessing
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from backend.config import load_settings
from backend.runtime import Runtime
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from tests import postgres
from tests.bench.bench_storage_core import chart_latencies, populate_chart_rows
from tests.bench.common import describe_latencies
from tests.helpers import image_bytes

UPLOADS = 240


def _runtime(folder: Path, db_url: str | None) -> Runtime:
    settings = load_settings(folder)
    return open_runtime(replace(settings, db_url=db_url) if db_url else settings)


def _photos(indices: range) -> list[tuple[int, bytes]]:
    return [(n, image_bytes("JPEG", (1024, 768), (n % 250, 90, 160))) for n in indices]


def _pc(folder: str, db_url: str | None, patient_id: str, index: int, clients: int, go, out):
    """One reception PC: its own process and program instance on the shared data folder and
    database, uploading its share of the photos once every PC is ready."""
    runtime = _runtime(Path(folder), db_url)
    photos = _photos(range(index, UPLOADS, clients))
    out.put(("ready", index))
    go.wait()
    with runtime.sessions() as session:
        for n, data in photos:
            add_images(
                session,
                runtime.store,
                patient_id,
                PERMANENT[n % 32],
                "clinical",
                [Upload(f"photo {n}.jpg", data)],
            )
    out.put(("done", time.monotonic()))
    runtime.close()


def upload_throughput(folder: Path, db_url: str | None, clients: int) -> float:
    """Files per second when `clients` processes (one per PC) upload at once, from the moment
    all of them are ready to the moment the last one has finished."""
    runtime = _runtime(folder, db_url)
    with runtime.sessions() as session:
        patient_id = patients.create_patient(session, {"full_name": f"Bench {clients}"}).id
    runtime.close()
    context = multiprocessing.get_context("spawn")
    go, out = context.Event(), context.Queue()
    pcs = [
        context.Process(target=_pc, args=(str(folder), db_url, patient_id, index, clients, go, out))
        for index in range(clients)
    ]
    for pc in pcs:
        pc.start()
    for _ in pcs:
        assert out.get(timeout=300)[0] == "ready"
    started = time.monotonic()
    go.set()
    ended = max(out.get(timeout=600)[1] for _ in pcs)
    for pc in pcs:
        pc.join(timeout=60)
        assert pc.exitcode == 0, f"an uploading process failed (exit {pc.exitcode})"
    return UPLOADS / (ended - started)


def main() -> None:
    admin = postgres.admin_url()
    postgres.create_template(admin)
    print(
        f"upload throughput, {UPLOADS} JPEG 1024x768 per run (files/s); each client is its own "
        "process with its own program instance, as a PC is"
    )
    for engine in ("sqlite", "postgresql"):
        figures = []
        for clients in (1, 2, 4):
            name, url = postgres.fresh_database(admin) if engine == "postgresql" else (None, None)
            with tempfile.TemporaryDirectory() as folder:
                figures.append(upload_throughput(Path(folder), url, clients))
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
