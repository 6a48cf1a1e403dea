"""Search benchmark: patient search at 20k patients (target p95 <= 20 ms) with the queries
receptionists type (names without accents or hamza, phones in every form, Arabic-Indic digits),
against the search as it was before the stored keys (ILIKE on the raw name, serial and phone
columns), on the same data in the same run; and the search across images at 50k image rows.

Each patient search is what GET /api/patients does: the search and the image counts of the page.
SQLite always; PostgreSQL too when DENTAL_IMAGES_TEST_PG_URL is set
(scripts/postgres-test-server.sh prints it).

Run: .venv/bin/python -m tests.bench.bench_search [--patients 20000] [--samples 100]
     [--engine sqlite|postgresql|both]"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from backend.config import load_settings
from backend.models import IMAGE_TYPES, Patient, utcnow
from backend.models import Image as ImageRow
from backend.runtime import Runtime
from backend.search_keys import refresh_search_keys
from backend.startup import open_runtime
from backend.teeth import PERMANENT
from backend.usecases import patients
from backend.usecases.image_search import ImageSearch, search_images
from tests.bench.common import describe_latencies, percentile, timed

PG_ENV = "DENTAL_IMAGES_TEST_PG_URL"
LATIN_FIRST = ("José", "María", "Zoë", "Łukasz", "François", "Sarah", "Daniel", "Renée", "Jürgen")
LATIN_LAST = ("González", "Müller", "O'Brien", "Núñez", "Okafor", "Mitchell", "Çelik", "Dubois")
ARABIC_FIRST = ("أحمد", "إبراهيم", "آمنة", "فاطمة", "مصطفى", "علي", "يوسف", "مُحَمَّد", "هدى")
ARABIC_LAST = ("الخليل", "عبد الله", "الزهراء", "حداد", "المصري", "الأنصاري", "إسماعيل")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
DESCRIPTIONS = ("Périapical", "Bitewing", "Couronne posée", "Occlusal caries", "أشعة قبل الحشوة")


def _phone(rng: random.Random) -> tuple[str, str]:
    """(the phone as stored, in one of the forms people write, its 9-digit national number)."""
    national = f"5{rng.randrange(10)}{rng.randrange(10**7):07d}"
    form = rng.randrange(4)
    if form == 0:
        written = f"+971 {national[:2]} {national[2:5]} {national[5:]}"
    elif form == 1:
        written = f"0{national[:2]}-{national[2:5]}-{national[5:]}"
    elif form == 2:
        written = f"00971{national}"
    else:
        written = f"0{national}".translate(ARABIC_INDIC)
    return written, national


def populate(runtime: Runtime, count: int, rng: random.Random) -> list[dict]:
    """Insert `count` patients (half Latin, half Arabic names) without giving their keys: the
    model computes them, as for the import's and a restore's bulk inserts."""
    now = utcnow()
    rows = []
    for n in range(count):
        if n % 2:
            name = f"{rng.choice(ARABIC_FIRST)} {rng.choice(ARABIC_LAST)}"
        else:
            name = f"{rng.choice(LATIN_FIRST)} {rng.choice(LATIN_LAST)} {n}"
        phone, national = _phone(rng)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "serial_number": str(n + 1),
                "full_name": name,
                "phone": phone,
                "date_added": now,
                "created_at": now,
                "updated_at": now,
                "_national": national,
            }
        )
    columns = [{k: v for k, v in r.items() if k != "_national"} for r in rows]
    with runtime.engine.begin() as connection:
        for start in range(0, count, 5000):
            connection.execute(insert(Patient), columns[start : start + 5000])
    return rows


def populate_images(runtime: Runtime, rows: list[dict], count: int, rng: random.Random) -> None:
    now, start_day = utcnow(), date(2024, 1, 1)
    with runtime.engine.begin() as connection:
        for start in range(0, count, 10_000):
            batch = []
            for n in range(start, min(count, start + 10_000)):
                pid, tooth, kind = (
                    rng.choice(rows)["id"],
                    rng.choice(PERMANENT),
                    rng.choice(IMAGE_TYPES),
                )
                batch.append(
                    {
                        "id": str(uuid.uuid4()),
                        "patient_id": pid,
                        "tooth": tooth,
                        "image_type": kind,
                        "folder_path": f"dental_images/{pid}/{tooth}/{kind}/",
                        "file_name": f"img-{n}.jpg",
                        "description": f"{rng.choice(DESCRIPTIONS)} {n}",
                        "taken_date": start_day + timedelta(days=rng.randrange(900)),
                        "size_bytes": 1,
                        "sha256": "0" * 64,
                        "width": 1,
                        "height": 1,
                        "format": "JPEG",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            connection.execute(insert(ImageRow), batch)


def queries(rows: list[dict], samples: int, rng: random.Random) -> dict[str, list[str]]:
    """What receptionists type, by kind, each for a patient of the data (or nobody)."""
    picked = [rng.choice(rows) for _ in range(samples)]
    latin = [r for r in rows if r["full_name"][0] < "\u0600"]
    arabic = [r for r in rows if r["full_name"][0] >= "\u0600"]
    return {
        "latin name, no accents": [
            "gonzalez",
            "muller",
            "nunez",
            "zoe",
            "francois",
            "obrien",
            "celik",
            "renee",
        ],
        "latin, surname first": [
            " ".join(reversed(r["full_name"].split()[:2])) for r in rng.sample(latin, 8)
        ],
        "arabic, no hamza": ["احمد", "ابراهيم", "امنه", "فاطمه", "مصطفي", "اسماعيل", "محمد"],
        "arabic full name": [
            r["full_name"].replace("أ", "ا").replace("إ", "ا") for r in rng.sample(arabic, 8)
        ],
        "phone, international": [f"+971 {r['_national']}" for r in picked],
        "phone, national": [f"0{r['_national']}" for r in picked],
        "phone, no plus": [f"971{r['_national']}" for r in picked],
        "phone, last 7 digits": [r["_national"][-7:] for r in picked],
        "phone, arabic-indic": [f"0{r['_national']}".translate(ARABIC_INDIC) for r in picked],
        "nobody": ["zzqxv", "9999999999999", "ظظظظ"],
    }


def ours(session: Session, query: str) -> int:
    found = patients.search_patients(session, query)
    patients.image_counts_by_patient(session, [p.id for p in found])
    return len(found)


def reference(session: Session, query: str) -> int:
    """The search as it was before the stored keys: ILIKE on the raw columns."""
    pattern = "%" + query.strip().replace("%", "\\%").replace("_", "\\_") + "%"
    statement = (
        select(Patient)
        .order_by(Patient.full_name, Patient.serial_number)
        .where(
            or_(
                Patient.full_name.ilike(pattern, escape="\\"),
                Patient.serial_number.ilike(pattern, escape="\\"),
                Patient.phone.ilike(pattern, escape="\\"),
            )
        )
        .limit(50)
    )
    found = list(session.scalars(statement))
    patients.image_counts_by_patient(session, [p.id for p in found])
    return len(found)


def run_engine(label: str, runtime: Runtime, count: int, samples: int) -> None:
    rng = random.Random(14)
    started = time.perf_counter()
    rows = populate(runtime, count, rng)
    inserted = time.perf_counter() - started
    with runtime.sessions() as session:
        session.execute(update(Patient).values(search_text="", search_phone=""))
        session.commit()
        refreshed = timed(lambda: (refresh_search_keys(session), session.commit()))
    print(f"{label}: {count} patients")
    print(f"  bulk insert with keys computed by the model: {inserted:.2f} s")
    print(f"  refresh_search_keys over all of them (the migration's backfill): {refreshed:.2f} s")
    kinds = queries(rows, samples, rng)
    all_ours, all_before, all_cpu = [], [], []
    with runtime.sessions() as session:
        for kind, typed in kinds.items():
            for query in typed[:3]:
                ours(session, query), reference(session, query)  # warm the caches
            mine, cpu, before, hits = [], [], [], 0
            for n in range(samples):
                query = typed[n % len(typed)]
                wall, thread = time.perf_counter(), time.thread_time()
                hits += ours(session, query) > 0
                cpu.append(time.thread_time() - thread)
                mine.append(time.perf_counter() - wall)
                before.append(timed(lambda query=query: reference(session, query)))
            all_ours, all_before, all_cpu = all_ours + mine, all_before + before, all_cpu + cpu
            ratio = percentile(mine, 0.95) / percentile(before, 0.95)
            print(
                "  "
                + describe_latencies(f"{kind:24}", mine)
                + f" found for {hits}/{samples}; p95 vs before: {ratio:.2f}x"
            )
    print("  " + describe_latencies("all kinds, ours", all_ours) + " (target p95 <= 20 ms)")
    print("  " + describe_latencies("all kinds, before", all_before))
    print(
        "  "
        + describe_latencies("all kinds, ours, CPU time of the thread", all_cpu)
        + " (SQLite runs in the thread: the wall time on a machine with a free core)"
        if runtime.engine.dialect.name == "sqlite"
        else "  (CPU time not shown: the PostgreSQL server does the work)"
    )
    print(f"  p95 ours / before: {percentile(all_ours, 0.95) / percentile(all_before, 0.95):.2f}x")
    populate_images(runtime, rows, count * 5 // 2, rng)
    image_queries = [
        ImageSearch(query="periapical"),
        ImageSearch(query="اشعه"),
        ImageSearch(image_type="xray", tooth="3"),
        ImageSearch(taken_from=date(2024, 6, 1), taken_to=date(2024, 6, 30)),
        ImageSearch(query="couronne", taken_from=date(2025, 1, 1)),
    ]
    latencies = []
    with runtime.sessions() as session:
        for n in range(samples):
            search = image_queries[n % len(image_queries)]
            latencies.append(timed(lambda search=search: search_images(session, search)))
    print(
        "  "
        + describe_latencies(f"image search, {count * 5 // 2} images", latencies)
        + " (a page of 50 and the total)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    if args.engine != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            runtime = open_runtime(load_settings(Path(folder)))
            run_engine("SQLite", runtime, args.patients, args.samples)
            runtime.close()
    if args.engine == "sqlite":
        print(_machine())
        return
    if not os.environ.get(PG_ENV):
        print(_machine())
        print(f"PostgreSQL skipped: set {PG_ENV} (scripts/postgres-test-server.sh prints a URL)")
        return
    from tests import postgres

    admin = postgres.admin_url()
    postgres.create_template(admin)
    name, url = postgres.fresh_database(admin)
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = replace(load_settings(Path(folder)), db_url=url)
            runtime = open_runtime(settings)
            run_engine("PostgreSQL", runtime, args.patients, args.samples)
            runtime.close()
    finally:
        postgres.drop_database(admin, name)
    print(_machine())


def _machine() -> str:
    load = getattr(os, "getloadavg", lambda: (float("nan"),))()[0]  # not on Windows
    return f"(cores on this machine: {os.cpu_count()}, load average now {load:.1f})"


if __name__ == "__main__":
    main()
