"""A fixed-seed fuzz run: hostile archives made from a real backup of the program (cut short,
bits flipped, entries renamed, manifests broken, sizes overstated, names that leave the folder,
hostile database rows and schema) and hostile uploads made from real PNG and JPEG files
(mutated, cut short, polyglots). Each is refused with a sentence, or is harmless (an archive
whose every entry still reads as the original's; an upload that is a real image); the live
rows and files never change but for accepted uploads, nothing is written outside the data
folder, and memory stays bounded. The figures are printed: tried, refused, written, leaked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import resource
import sqlite3
import struct
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image as PILImage

from backend.backup.create import create_backup
from backend.backup.errors import BackupInvalid
from backend.backup.restore import restore_backup
from backend.backup.verify import verify_archive
from tests.backup_data import populate, rows
from tests.helpers import image_bytes
from tests.security.altered import altered_backup, recreate_with

SEED = 20261202
ARCHIVES = 500
UPLOADS = 500
MAX_RSS_GROWTH_MB = 400
HOSTILE_NAMES = [
    "../evil.jpg",
    "dental_images/../../evil.jpg",
    "/etc/evil",
    "C:/Windows/evil.dll",
    "dental_images/CON.jpg",
    "dental_images/a<b>c|d?e.jpg",
    "dental_images/COM¹.jpg",
    "dental_images/x/./y.jpg",
    "dental_images/\x01.jpg",
    "dental_images/" + "a" * 300 + ".jpg",
    "database.sqlite/../manifest.json",
    "thumbnails/x.jpg",
]


def tree_fingerprint(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    found = {}
    for dirpath, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if Path(dirpath, d).relative_to(folder).as_posix() not in skip]
        for name in names:
            path = Path(dirpath) / name
            relative = path.relative_to(folder).as_posix()
            if relative not in skip:
                found[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def entries_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _same_but_database(found: dict[str, bytes], original: dict[str, bytes]) -> bool:
    def without(entries):
        return {k: v for k, v in entries.items() if k not in ("database.sqlite", "manifest.json")}

    return without(found) == without(original)


# ----- hostile archives


def _rezip(good: Path, target: Path, change) -> Path:
    """`good` rewritten entry by entry; `change(name, data)` returns [(name, data)...]."""
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            for name, data in change(info.filename, source.read(info)):
                out.writestr(zipfile.ZipInfo(name, info.date_time), data)
    return target


def truncated(rng, good, target, _work):
    data = good.read_bytes()
    target.write_bytes(data[: rng.randrange(0, len(data))])
    return target


def bit_flips(rng, good, target, _work):
    data = bytearray(good.read_bytes())
    for _ in range(rng.randint(1, 8)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    target.write_bytes(bytes(data))
    return target


def renamed_entry(rng, good, target, _work):
    names = list(entries_of(good))
    victim = rng.choice(names)
    new = rng.choice([*HOSTILE_NAMES, victim.upper(), victim + " ", victim.replace("/", "\\")])
    return _rezip(good, target, lambda n, d: [(new if n == victim else n, d)])


def bad_manifest(rng, good, target, _work):
    manifest = json.loads(entries_of(good)["manifest.json"])
    choice = rng.randrange(9)
    if choice == 0:
        raw = b"[" * 100_000 + b"]" * 100_000  # deeper than any parser's stack
    elif choice == 1:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    else:
        key = rng.choice(list(manifest))
        manifest[key] = rng.choice([None, -1, 2**70, "x" * 5000, [], {}, True, 99])
        if choice == 2:
            manifest["format_version"] = rng.choice([0, 2, 10**9, "1", None])
        elif choice == 3:
            entry = rng.choice(list(manifest.get("entries") or {"x": 0}))
            if isinstance(manifest.get("entries"), dict):
                manifest["entries"][entry] = {"size": rng.choice([-5, 2**64, "3"]), "sha256": "0"}
        raw = json.dumps(manifest).encode()
    return _rezip(good, target, lambda n, d: [(n, raw if n == "manifest.json" else d)])


def oversized(rng, good, target, _work):
    """An entry's declared size (central directory and local header) overstated or not."""
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = rng.choice(archive.infolist())
    declared = rng.choice([2**32 - 2, 2**31, info.file_size * 1000 + 1, 0, info.file_size - 1])
    struct.pack_into("<I", data, info.header_offset + 22, max(declared, 0) & 0xFFFFFFFF)
    central = data.rindex(info.filename.encode()) - 46
    struct.pack_into("<I", data, central + 24, max(declared, 0) & 0xFFFFFFFF)
    target.write_bytes(bytes(data))
    return target


def traversal_extra(rng, good, target, _work):
    name = rng.choice(HOSTILE_NAMES)
    manifest = json.loads(entries_of(good)["manifest.json"])
    manifest["entries"][name] = {"size": 1, "sha256": hashlib.sha256(b"x").hexdigest()}
    raw = json.dumps(manifest).encode()

    def change(n, d):
        if n == "manifest.json":
            return [(n, raw), (name, b"x")]
        return [(n, d)]

    return _rezip(good, target, change)


DB_ALTERATIONS = [
    lambda c, r: c.execute(
        "CREATE TRIGGER t AFTER INSERT ON images BEGIN DELETE FROM patients; END"
    ),
    lambda c, r: c.execute("CREATE VIEW v AS SELECT * FROM patients"),
    lambda c, r: c.execute("CREATE TABLE extra (x)"),
    lambda c, r: c.execute("CREATE INDEX ix_bomb ON patients (length(hex(zeroblob(100000))))"),
    lambda c, r: c.execute(
        "ALTER TABLE patients ADD COLUMN g TEXT GENERATED ALWAYS AS (1) VIRTUAL"
    ),
    lambda c, r: recreate_with(c, "treatments", "CHECK (length(hex(zeroblob(5000))) > 0)"),
    lambda c, r: c.execute("UPDATE alembic_version SET version_num = ?", (r.choice(["9999", ""]),)),
    lambda c, r: c.execute("DROP TABLE alembic_version"),
    lambda c, r: c.execute("UPDATE patients SET serial_number = 'same'"),
    lambda c, r: c.execute("PRAGMA foreign_keys=OFF") and c.execute("DELETE FROM patients"),
]


def hostile_rows(rng, good, target, work):
    """A value of the wrong kind, out of range or absurdly long in a random column, or a
    schema object we never make."""

    def alter(connection):
        if rng.random() < 0.4:
            rng.choice(DB_ALTERATIONS)(connection, rng)
            return
        table = rng.choice(["patients", "treatments", "images"])
        columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")]
        column = rng.choice(columns[1:])
        value = rng.choice(
            [None, "99", -1, 2**62, 1.5, b"\x00\xff", "x" * 100_000, "2020-13-45", "../../x", ""]
        )
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute(f'UPDATE {table} SET "{column}" = ?', (value,))

    return altered_backup(good, target, work, alter)


def database_bytes(rng, good, target, work):
    """Random bytes of the database file itself changed (its checksum in the manifest fixed)."""

    def alter(connection):
        path = Path(connection.execute("PRAGMA database_list").fetchone()[2])
        connection.commit()
        data = bytearray(path.read_bytes())
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(100, len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))

    return altered_backup(good, target, work, alter, recount=False)


ARCHIVE_MUTATIONS = [
    (truncated, 3),
    (bit_flips, 3),
    (renamed_entry, 2),
    (bad_manifest, 2),
    (oversized, 2),
    (traversal_extra, 2),
    (hostile_rows, 4),
    (database_bytes, 2),
]


# ----- hostile uploads


def _real_images(rng) -> list[bytes]:
    images = []
    for n in range(6):
        size = (rng.randint(8, 96), rng.randint(8, 96))
        images.append(image_bytes("PNG" if n % 2 else "JPEG", size, (n * 40, 90, 200 - n * 30)))
    return images


def hostile_upload(rng, real: list[bytes]) -> bytes:
    data = bytearray(rng.choice(real))
    kind = rng.randrange(6)
    if kind == 0:
        return bytes(data[: rng.randrange(0, len(data))])
    if kind == 1:
        for _ in range(rng.randint(1, 16)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:  # a payload appended or put inside
        payload = rng.choice(
            [
                b"<script>alert(1)</script>",
                b"<?php system($_GET[1]); ?>",
                b"%PDF-1.7\n1 0 obj",
                b"PK\x03\x04" + bytes(40),
            ]
        )
        return (
            bytes(data) + payload
            if rng.random() < 0.5
            else bytes(data[:2]) + payload + bytes(data[2:])
        )
    if kind == 3:  # a header claiming an enormous image
        out = io.BytesIO()
        PILImage.new("L", (1, 1)).save(out, "PNG")
        png = bytearray(out.getvalue())
        struct.pack_into(">II", png, 16, rng.choice([10**5, 2**31 - 1]), rng.choice([10**5, 7]))
        return bytes(png)
    if kind == 4:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 2000)))
    return b"GIF89a/*" + bytes(data[6:]) + b"*/=alert(1)//"


@pytest.fixture
def fuzz_runtime(runtime):
    populate(runtime, patients_count=2, images_each=2)
    return runtime


def test_a_fixed_seed_fuzz_of_archives_and_uploads(fuzz_runtime, client, tmp_path, monkeypatch):
    runtime = fuzz_runtime
    system_temp = tmp_path / "system-temp"  # every temporary file of the run shows up here
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    settings = runtime.settings
    rng = random.Random(SEED)
    good = create_backup(runtime, settings.backups_dir).path
    original = entries_of(good)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    # The database files change with every accepted upload: their rows are compared instead.
    skip = ("backups", "logs", "dental.db", "dental.db-wal", "dental.db-shm")
    live_rows, live_tree = rows(runtime), tree_fingerprint(settings.data_dir, skip)
    outside_before = sorted(p.name for p in tmp_path.iterdir())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    started = time.monotonic()

    tried = refused = harmless = 0
    failures: list[str] = []
    mutations = [m for m, weight in ARCHIVE_MUTATIONS for _ in range(weight)]
    n = 0
    while tried < ARCHIVES:
        n += 1
        mutate = rng.choice(mutations)
        target = inbox / f"{n}.zip"
        try:
            mutate(rng, good, target, inbox)
        except (sqlite3.DatabaseError, ValueError, OverflowError):
            for leftover in inbox.iterdir():
                leftover.unlink()
            continue  # the alteration itself is impossible (e.g. a constraint of the file)
        tried += 1
        try:
            problems = verify_archive(target, work_dir=settings.backups_dir).problems
            if problems and n % 25 == 0:  # and a restore of it is refused the same way
                with pytest.raises(BackupInvalid) as caught:
                    restore_backup(runtime, target)
                problems = [caught.value.message]
        except Exception as exc:
            failures.append(f"{mutate.__name__} #{n}: {type(exc).__name__}: {exc}"[:300])
            continue
        if problems:
            refused += 1
            if not all(isinstance(p, str) and len(p) > 20 for p in problems):
                failures.append(f"{mutate.__name__} #{n}: unclear message {problems!r:.200}")
        elif _same_but_database(entries_of(target), original):
            # Accepted: every file is the original's, and the database passed the rules a
            # record of the API passes (a hostile value that is a valid value is just data).
            harmless += 1
        else:
            failures.append(f"{mutate.__name__} #{n}: accepted with other content")
        target.unlink()
    archives_seconds = time.monotonic() - started

    patient = rows(runtime)["patients"][0][0]
    real = _real_images(rng)
    images_before = len(rows(runtime)["images"])
    uploads_refused = uploads_written = 0
    for n in range(UPLOADS):
        data = hostile_upload(rng, real)
        response = client.post(
            f"/api/patients/{patient}/teeth/8/images",
            data={"image_type": "xray", "files": [(io.BytesIO(data), f"u{n}.jpg")]},
            content_type="multipart/form-data",
        )
        body = response.get_json(silent=True) or {}
        if response.status_code in (200, 201):
            uploads_written += 1
        elif response.status_code == 400:
            message = ((body.get("results") or [{}])[0].get("error") or {}).get("message", "")
            if len(message) < 10:
                failures.append(f"upload #{n}: refused without a clear message: {body!r:.200}")
            uploads_refused += 1
        else:
            failures.append(f"upload #{n}: status {response.status_code}: {body!r:.200}")
    seconds = time.monotonic() - started

    after_rows = rows(runtime)
    images_added = len(after_rows["images"]) - images_before
    leaked = sorted(os.listdir(system_temp))
    leaked += sorted({p.name for p in tmp_path.iterdir()} - {*outside_before, system_temp.name})
    leaked += [p.name for p in inbox.iterdir()]
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024 - rss_before
    print(
        f"\nfuzz (seed {SEED}): archives tried {tried}, refused {refused}, harmless {harmless} "
        f"({archives_seconds:.1f} s); uploads tried {UPLOADS}, refused {uploads_refused}, "
        f"written {uploads_written}; leaked {len(leaked)}; peak RSS growth {rss_growth} MB; "
        f"{seconds:.1f} s in all"
    )
    assert failures == [], "\n".join(failures[:10])
    assert tried == ARCHIVES and refused + harmless == tried and refused > 0.8 * tried
    assert uploads_refused + uploads_written == UPLOADS and uploads_refused >= UPLOADS // 2
    assert images_added == uploads_written
    assert {k: v for k, v in after_rows.items() if k != "images"} == {
        k: v for k, v in live_rows.items() if k != "images"
    }
    before_ids = {row[0] for row in live_rows["images"]}
    assert [r for r in after_rows["images"] if r[0] in before_ids] == live_rows["images"]
    tree = tree_fingerprint(settings.data_dir, skip)
    assert {k: v for k, v in tree.items() if k in live_tree} == live_tree
    assert not [
        k
        for k in tree
        if k not in live_tree and not k.startswith(("dental_images/", "thumbnails/", "dental.db"))
    ]
    assert leaked == [], leaked
    assert rss_growth < MAX_RSS_GROWTH_MB
