"""The earlier app's own data (shared/legacy-samples, written by its code) comes across whole:
every patient, treatment and image on the right patient, standard tooth and type, with the
same bytes, whichever way the folders are handed over. The rows of each sample database are
the answer key; the samples are copied first and never changed."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend import teeth
from backend.migration.importer import import_legacy, open_source, preview
from backend.models import IMAGE_TYPES, Image, LegacyLink, Patient, Treatment

SAMPLES = Path(__file__).resolve().parents[2] / ".." / "shared" / "legacy-samples"
CASES = ("early", "late", "newest", "upgrade")
EARLY_TABLES = ("dental_treatments", "dental_treatment_images")

pytestmark = pytest.mark.skipif(
    not SAMPLES.is_dir(),
    reason=f"the earlier app's sample data is not at {SAMPLES} (shared/ beside the repository)",
)

# The early app's Arabic names (as its chart showed them) and the standard Universal tooth
# each names: written out here, not derived by the code under test.
EARLY_NAMES = {
    "ضرس العقل الأيمن العلوي": "1",
    "الضرس الأول الأيمن العلوي": "3",
    "الضاحك الأول الأيمن العلوي": "5",
    "القاطع المركزي الأيمن العلوي": "8",
    "القاطع المركزي الأيسر العلوي": "9",
    "الضرس الأول الأيسر العلوي": "14",
    "ضرس العقل الأيسر العلوي": "16",
    "ضرس العقل الأيسر السفلي": "17",
    "الضرس الأول الأيسر السفلي": "19",
    "القاطع المركزي الأيسر السفلي": "24",
    "القاطع المركزي الأيمن السفلي": "25",
    "الضاحك الأول الأيمن السفلي": "28",
    "ضرس العقل الأيمن السفلي": "32",
}


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def samples_hash() -> str:
    return _tree_hash(SAMPLES)


def _rows(database: Path) -> dict[str, list[dict[str, Any]]]:
    """The answer key: every row of the tables that matter, read from a private copy."""
    folder = database.parent / ".answer-key"
    folder.mkdir(exist_ok=True)
    copy = folder / "key.db"
    shutil.copyfile(database, copy)
    for suffix in ("-wal", "-shm"):
        if database.with_name(database.name + suffix).is_file():
            shutil.copyfile(database.with_name(database.name + suffix), f"{copy}{suffix}")
    connection = sqlite3.connect(copy)
    connection.row_factory = sqlite3.Row
    tables = {
        name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    }
    found = {
        table: [dict(r) for r in connection.execute(f'SELECT * FROM "{table}"')]
        for table in (
            "patients",
            "dental_treatments",
            "tooth_treatments",
            "dental_treatment_images",
            "tooth_treatment_images",
            "patient_images",
        )
        if table in tables
    }
    connection.close()
    shutil.rmtree(folder)
    return found


def _standard(table: str, number: int) -> str:
    if table in EARLY_TABLES:
        return teeth.normalize(49 - number if 17 <= number <= 32 else number)
    return teeth.from_fdi(number)


def _hashes_at(roots: list[Path], image_path: str) -> set[str]:
    """Checksums of the file(s) a row names, in any of the case's folders."""
    relative = image_path.replace("\\", "/")
    relative = relative.removeprefix("public/upload/")
    found = set()
    for root in roots:
        for base in (root, root / "public" / "upload"):
            target = base / relative
            paths = sorted(target.iterdir()) if relative.endswith("/") and target.is_dir() else []
            if not relative.endswith("/") and target.is_file():
                paths = [target]
            found |= {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}
    return found


def _copy_case(tmp_path: Path, case: str) -> Path:
    target = tmp_path / case
    shutil.copytree(SAMPLES / case, target, symlinks=True)
    return target


def _check(
    session,
    store_root: Path,
    key: dict[str, list[dict]],
    roots: list[Path],
    missing: frozenset[str] = frozenset(),
) -> int:
    """Every row of the answer key came across to the right place (but the rows named in
    `missing`, reported missing); returns the early lower-arch rows that the mirror rule put
    on the other side."""
    links = dict(session.execute(select(LegacyLink.key, LegacyLink.target_id)).all())
    patients = {p.id: p for p in session.scalars(select(Patient))}
    assert len(patients) == len(key["patients"])
    for row in key["patients"]:
        patient = patients[row["id"]]
        assert patient.full_name == (row["full_name"] or "")  # empty stays empty
    treatments = {t.id: t for t in session.scalars(select(Treatment))}
    corrected = 0
    for table in ("dental_treatments", "tooth_treatments"):
        for row in key.get(table, []):
            treatment = treatments[links[f"treatment:{row['id']}"]]
            assert treatment.patient_id == row["patient_id"]
            assert treatment.tooth == _standard(table, row["tooth_number"]), row
            for label, column in (
                ("Current treatment", "current_treatment"),
                ("Next treatment", "next_treatment"),
                ("Treatment details", "treatment_details"),
                ("Tooth name in the earlier app", "tooth_name"),
                ("Appointment in the earlier app", "appointment_id"),
            ):
                if row.get(column):
                    assert f"{label}: {row[column]}" in (treatment.notes or ""), column
            if table == "dental_treatments" and row["tooth_name"]:
                assert treatment.tooth == EARLY_NAMES[row["tooth_name"]]
                corrected += 17 <= row["tooth_number"] <= 32
    assert len(treatments) == sum(
        len(key.get(t, [])) for t in ("dental_treatments", "tooth_treatments")
    )
    images = {i.id: i for i in session.scalars(select(Image))}
    shown = 0
    for table in ("dental_treatment_images", "tooth_treatment_images"):
        for row in key.get(table, []):
            if f"{table} {row['id']}" in missing:
                assert f"image:{row['id']}" not in links
                continue
            image = images[links[f"image:{row['id']}"]]
            shown += 1
            assert image.patient_id == row["patient_id"]
            assert image.tooth == _standard(table, row["tooth_number"])
            kind = row["image_type"] if row["image_type"] in IMAGE_TYPES else "other"
            assert image.image_type == kind
            if row["taken_date"] and "T" in row["taken_date"]:  # its time of day is kept
                assert row["taken_date"] in (image.description or "")
            stored = store_root / image.folder_path / image.file_name
            digest = hashlib.sha256(stored.read_bytes()).hexdigest()
            assert digest == image.sha256
            assert digest in _hashes_at(roots, row["image_path"]), row["image_path"]
    for row in key.get("patient_images", []):
        if f"patient_images {row['id']}" in missing:
            continue
        image = images[links[f"patient_image:{row['id']}"]]
        shown += 1
        assert (image.patient_id, image.tooth, image.treatment_id) == (
            row["patient_id"],
            None,
            None,
        )
        assert image.folder_path == f"dental_images/{row['patient_id']}/general/{image.image_type}/"
        kind = {"photo": "clinical"}.get(row["image_type"], row["image_type"])
        assert image.image_type == (kind if kind in IMAGE_TYPES else "other")
        assert f"Type in the earlier app: {row['image_type']}" in (image.description or "") or (
            row["image_type"] in IMAGE_TYPES
        )
        stored = store_root / image.folder_path / image.file_name
        digest = hashlib.sha256(stored.read_bytes()).hexdigest()
        assert digest == image.sha256
        original = [r / row["image_path"] for r in roots if (r / row["image_path"]).is_file()]
        assert digest == hashlib.sha256(original[0].read_bytes()).hexdigest()
    # files no row names, in a patient's folder: patient-level images of that patient
    orphans = [i for i in images.values() if "with no record naming it" in (i.description or "")]
    for image in orphans:
        assert image.tooth is None
        folder = image.description.split("folder ", 1)[1].split("/")[1]
        named = patients[image.patient_id]
        assert folder in (image.patient_id, named.full_name.replace(" ", "_")) or (
            folder.replace("_", "") in named.full_name.replace(" ", "").replace("'", "")
        )
    assert len({i.sha256 for i in images.values()}) == len(images) == shown + len(orphans)
    return corrected


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("handed", ["images-from", "one-folder", "live-copy"])
def test_each_sample_comes_across_whole_and_a_second_import_adds_nothing(
    runtime, session, tmp_path, samples_hash, case, handed
):
    folder = _copy_case(tmp_path, case)
    install, user = folder / "install", folder / "userData"
    if handed == "live-copy":
        if not (folder / "live-copy").is_dir():
            pytest.skip(f"{case} has no live copy")
        user = folder / "live-copy"
    roots = [user, install]
    if handed == "one-folder":
        merged = tmp_path / "handed"
        shutil.copytree(user, merged)
        shutil.copytree(install, merged, dirs_exist_ok=True)
        source, roots = open_source(merged), [merged]
    else:
        source = open_source(user, [install])
    key = _rows(source.database)
    shown = preview(source, runtime)
    assert shown.reading is not None, shown.generations
    assert shown.images_missing == 0 and shown.images_found == shown.image_rows
    assert shown.patient_images_found == shown.patient_images == len(key["patient_images"])
    report = import_legacy(runtime, source)
    assert report.missing == 0 and report.failed == 0, (report.missing_files, report.failures)
    assert report.unreferenced_files == [] and report.exit_code == 0
    corrected = _check(session, runtime.settings.image_store_root, key, roots)
    if case in ("early", "upgrade"):
        assert corrected > 0
        layout = shown.generations["dental_treatments"]["layout"]
        assert layout["detected"] == "mirrored" and layout["certain"]
    again = import_legacy(runtime, source)
    assert again.imported == 0 and again.patients.imported == 0 and again.treatments.imported == 0
    session.expire_all()
    _check(session, runtime.settings.image_store_root, key, roots)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("ext", [".zip", ".db"])
def test_each_samples_own_backup_is_restored_with_what_it_holds(
    runtime, session, tmp_path, samples_hash, case, ext
):
    """The earlier app's backups copied its database without the -wal and (.db) without any
    image: what the backup holds comes across, the rest is reported and the exit code says
    so; a file no record of the backup names is said in the preview."""
    import zipfile

    from backend.backup.restore import preview_restore, restore_backup

    folder = _copy_case(tmp_path, case) / "backups"
    archive = next(folder.glob(f"*{ext}"))
    if ext == ".zip":
        unpacked = tmp_path / "unpacked"
        with zipfile.ZipFile(archive) as opened:
            opened.extractall(unpacked)
        key, roots = _rows(unpacked / "dental_clinic.db"), [unpacked]
    else:
        key, roots = _rows(archive), []
    shown = preview_restore(runtime, archive)
    assert shown["legacy"]["reading"] is not None
    result = restore_backup(runtime, archive)
    report = result["imported"]
    assert report["failed"] == 0, report["failures"]
    missing = frozenset(e["what"] for e in report["missing_files"])
    if ext == ".db":  # a bare database: no image file came with it
        rows = sum(
            len(key.get(t, [])) for t in ("dental_treatment_images", "tooth_treatment_images")
        )
        assert len(missing) == rows + len(key.get("patient_images", []))
    corrected = _check(session, runtime.settings.image_store_root, key, roots, missing)
    assert report["exit_code"] == (3 if missing or report["unreferenced_files"] else 0)
    legacy = shown["legacy"]
    if legacy["files_kept_as_patient_images"] or legacy["unreferenced_files"]:
        # the files whose rows the backup lost are said before anything is done
        assert any("no record names" in w for w in shown["warnings"]), shown["warnings"]
    for name in legacy["unreferenced_names"]:  # named as they lie in the backup, not where staged
        assert not Path(name).is_absolute()
        assert any(name in w for w in shown["warnings"]), (name, shown["warnings"])
    assert len(legacy["unreferenced_names"]) == min(legacy["unreferenced_files"], 10)
    if case in ("early", "upgrade"):
        assert corrected > 0
    assert result["notation"] == shown["legacy"]["reading"]


def test_a_restore_of_the_upgrade_backup_takes_a_reading_per_table(runtime, session, tmp_path):
    """The person's per-table choice reaches a restore of the earlier app's backup: here the
    early chart read as standard Universal, against the evidence's mirrored lower arch, changes
    where the early lower-arch images land, and a bad choice changes nothing."""
    from backend.backup.restore import preview_restore, restore_backup
    from backend.config import load_settings
    from backend.errors import ValidationError
    from backend.legacy.notation import reading_choices
    from backend.startup import open_runtime

    archive = next((_copy_case(tmp_path, "upgrade") / "backups").glob("*.zip"))
    chosen = reading_choices(
        None, ["dental_treatments=universal", "tooth_treatments=fdi"], "standard"
    )
    shown = preview_restore(runtime, archive, reading=chosen)
    assert shown["legacy"]["reading"] == "dental_treatments=universal, tooth_treatments=fdi"
    assert preview_restore(runtime, archive)["legacy"]["reading"] == (
        "dental_treatments=universal (lower arch mirrored), tooth_treatments=fdi"
    )
    with pytest.raises(ValidationError) as bad:
        reading_choices(None, ["tooth_images=fdi"], None)
    assert "tooth_images" in bad.value.message and bad.value.field == "table_notation"
    result = restore_backup(runtime, archive, reading=chosen)
    assert result["notation"] == "dental_treatments=universal, tooth_treatments=fdi"
    as_written = _teeth_by_legacy_key(session)
    other = open_runtime(load_settings(tmp_path / "as-detected"))
    try:
        restore_backup(other, archive)
        with other.sessions() as detected:
            mirrored = _teeth_by_legacy_key(detected)
    finally:
        other.close()
    assert as_written.keys() == mirrored.keys()
    moved = {k: (as_written[k], mirrored[k]) for k in as_written if as_written[k] != mirrored[k]}
    assert moved  # the choice was applied ...
    for standard, mirror in moved.values():  # ... to the early lower arch only: n and 49 - n
        assert 17 <= int(standard) <= 32 and int(standard) + int(mirror) == 49


def _teeth_by_legacy_key(session) -> dict[str, str | None]:
    """{the earlier app's record: the tooth our record of it is on}, treatments and images."""
    teeth_of = {t.id: t.tooth for t in session.scalars(select(Treatment))}
    teeth_of.update({i.id: i.tooth for i in session.scalars(select(Image))})
    return {
        link.key: teeth_of[link.target_id]
        for link in session.scalars(select(LegacyLink))
        if link.target_id in teeth_of
    }


def test_upgrade_is_decided_per_table_generation(tmp_path):
    folder = _copy_case(tmp_path, "upgrade")
    shown = preview(open_source(folder / "userData", [folder / "install"]))
    assert shown.generations["dental_treatments"]["used"] == "universal"
    assert shown.generations["tooth_treatments"]["used"] == "fdi"
    assert shown.reading == (
        "dental_treatments=universal (lower arch mirrored), tooth_treatments=fdi"
    )
    assert shown.name_conflicts == []


def test_the_samples_are_unchanged(samples_hash):
    assert _tree_hash(SAMPLES) == samples_hash


def test_import_legacy_finds_the_app_folders_images_with_images_from(tmp_path):
    """`late` keeps its database in the per-user folder and its images in the program's
    folder: named with --images-from, every file is found and the mirror-free FDI reading
    is shown."""
    import subprocess
    import sys

    folder = _copy_case(tmp_path, "late")
    args = [sys.executable, "-m", "backend", "import-legacy", str(folder / "userData")]
    args += ["--data-dir", str(tmp_path / "home"), "--yes"]
    # The command writes UTF-8 when redirected (the preview quotes Arabic descriptions).
    run = dict(cwd=Path(__file__).resolve().parents[2], capture_output=True, encoding="utf-8")
    without = subprocess.run([*args, "--dry-run"], timeout=120, **run)
    assert "20 missing" in without.stdout
    done = subprocess.run([*args, "--images-from", str(folder / "install")], timeout=120, **run)
    assert "20 files found, 0 missing" in done.stdout, done.stdout + done.stderr
    assert "tooth_treatments (36 treatment and image rows): tooth notation detected: fdi" in (
        done.stdout
    )
    assert "patient images (no tooth): 2 (2 files found)" in done.stdout
    # 20 of teeth, 2 of the patient, 1 file no row names in a patient's folder
    assert "Images: 23 imported" in done.stdout
    assert done.returncode == 0


def test_a_database_copied_without_its_wal_says_rows_may_be_missing(tmp_path):
    """Copied from a running app (its -shm is there) without the -wal: warned. Copied whole,
    or closed by the app (checkpointed, no sidecars), it is not. Built from a sample opened as
    the app would hold it, so it does not depend on which sidecars a case happens to ship."""
    running = _copy_case(tmp_path, "late") / "userData"
    database = running / "dental_clinic.db"
    holder = sqlite3.connect(database)  # the app, still running: its -wal and -shm exist
    try:
        assert holder.execute("SELECT count(*) FROM patients").fetchone()[0] == 8
        shm = running / "dental_clinic.db-shm"
        assert shm.is_file()
        alone, whole = tmp_path / "copied-alone", tmp_path / "copied-whole"
        for target, sidecars in ((alone, ("-shm",)), (whole, ("-shm", "-wal"))):
            target.mkdir()
            shutil.copyfile(database, target / database.name)
            for suffix in sidecars:
                shutil.copyfile(f"{database}{suffix}", target / f"{database.name}{suffix}")
    finally:
        holder.close()
    shown = preview(open_source(alone / "dental_clinic.db"))
    assert shown.warnings and "rows the earlier app wrote last may be missing" in shown.warnings[0]
    assert not _wal_warned(preview(open_source(whole / "dental_clinic.db")))  # with its -wal
    closed = tmp_path / "closed"  # as the app leaves it: checkpointed, no sidecars
    closed.mkdir()
    shutil.copyfile(database, closed / database.name)
    assert not _wal_warned(preview(open_source(closed / database.name)))


def _wal_warned(shown) -> bool:
    return any("may be missing" in w for w in shown.warnings)


def test_the_preview_says_descriptions_may_name_teeth_in_the_earlier_numbering(tmp_path):
    """The samples' descriptions say "السن رقم 11" (FDI in the later versions): kept as
    written, and the preview says so before anything is imported."""
    for case in CASES:
        folder = _copy_case(tmp_path / case, case)
        source = open_source(folder / "userData", [folder / "install"])
        key = _rows(source.database)
        named = [
            row["description"]
            for table in ("dental_treatment_images", "tooth_treatment_images")
            for row in key.get(table, [])
            if "رقم" in (row.get("description") or "")
        ]
        warned = [w for w in preview(source).warnings if "name a tooth by number" in w]
        if named:
            assert len(warned) == 1 and warned[0].startswith(f"{len(named)} descriptions")
        else:
            assert warned == []


def test_a_database_whose_tables_are_all_in_the_missing_wal_says_so(tmp_path):
    import sqlite3

    from backend.errors import ValidationError

    folder = tmp_path / "running"
    folder.mkdir()
    writer = sqlite3.connect(folder / "dental_clinic.db")
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("CREATE TABLE patients (id TEXT)")
    writer.commit()
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(folder / "dental_clinic.db", alone / "dental_clinic.db")
    writer.close()
    with pytest.raises(ValidationError) as raised:
        open_source(alone / "dental_clinic.db") and preview(open_source(alone / "dental_clinic.db"))
    assert "copied without its dental_clinic.db-wal" in raised.value.message
    assert str(alone) not in raised.value.message


def test_the_earlier_apps_database_is_read_as_data_only(tmp_path):
    """A trigger or view in the legacy schema never runs and nothing is written through the
    connection: the original and its -wal are byte-identical afterwards."""
    from backend.legacy.database import read_database

    folder = _copy_case(tmp_path, "early") / "userData"
    before = _tree_hash(folder)
    database = read_database(folder / "dental_clinic.db")
    assert len(database.rows("patients")) == 8 and database.warnings() == []
    assert _tree_hash(folder) == before
