"""Legacy data sets made on the spot: a `dental_clinic.db` in the earlier app's schemas and image
trees in each of its path forms, over several roots, with what an import must make of them."""

from __future__ import annotations

import io
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from backend import teeth
from backend.storage import legacy_patient_folder

FDI_CHECK = (
    "CHECK ((tooth_number BETWEEN 11 AND 18) OR (tooth_number BETWEEN 21 AND 28) OR "
    "(tooth_number BETWEEN 31 AND 38) OR (tooth_number BETWEEN 41 AND 48) OR "
    "(tooth_number BETWEEN 51 AND 55) OR (tooth_number BETWEEN 61 AND 65) OR "
    "(tooth_number BETWEEN 71 AND 75) OR (tooth_number BETWEEN 81 AND 85))"
)
BASE_MS = 1_751_793_462_764


def picture(seed: int, fmt: str = "PNG", size: tuple[int, int] = (40, 30)) -> bytes:
    """A small real image whose bytes differ for every seed."""
    colour = (seed * 37 % 256, seed * 91 % 256, seed * 53 % 256)
    image = Image.new("RGB", size, colour)
    image.putpixel((seed % size[0], (seed // size[0]) % size[1]), (255 - colour[0], 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@dataclass
class Expected:
    """An image the import must bring across: legacy record, where it must land, its bytes."""

    ref: str
    patient_id: str
    tooth: str | None  # None: a patient-level image
    image_type: str
    data: bytes


@dataclass
class LegacyData:
    folder: Path
    notation: str
    patients: dict[str, str] = field(default_factory=dict)  # id -> full name
    treatments: int = 0
    expected: list[Expected] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # refs of rows whose file is absent
    failing: list[str] = field(default_factory=list)  # refs of rows that cannot be imported
    unreferenced: list[Path] = field(default_factory=list)
    legacy_files: list[Path] = field(default_factory=list)

    @property
    def database(self) -> Path:
        return self.folder / "dental_clinic.db"


def _ms_created(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


class _Builder:
    def __init__(self, folder: Path, notation: str, tables: str) -> None:
        self.data = LegacyData(folder=folder, notation=notation)
        self.tables = tables
        self.seed = 0
        folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(folder / "dental_clinic.db")
        self._schema()

    def _schema(self) -> None:
        check = FDI_CHECK if self.data.notation == "fdi" else ""
        statements = [
            "CREATE TABLE schema_version (version INTEGER)",
            "INSERT INTO schema_version VALUES (1), (2), (3)",
            """CREATE TABLE patients (id TEXT PRIMARY KEY, serial_number TEXT UNIQUE,
               full_name TEXT, gender TEXT, age INTEGER, phone TEXT, email TEXT, address TEXT,
               allergies TEXT, medical_conditions TEXT, patient_condition TEXT, notes TEXT,
               date_added TEXT, created_at TEXT, updated_at TEXT)""",
            """CREATE TABLE patient_images (id TEXT PRIMARY KEY, patient_id TEXT,
               appointment_id TEXT, image_path TEXT, image_type TEXT, description TEXT)""",
        ]
        if self.tables in ("new", "both"):
            statements += [
                f"""CREATE TABLE tooth_treatments (id TEXT PRIMARY KEY, patient_id TEXT,
                   tooth_number INTEGER {check}, tooth_name TEXT, treatment_type TEXT,
                   treatment_category TEXT, treatment_status TEXT, treatment_color TEXT,
                   start_date TEXT, completion_date TEXT, cost REAL, priority INTEGER,
                   notes TEXT, appointment_id TEXT, created_at TEXT, updated_at TEXT,
                   UNIQUE (patient_id, tooth_number, priority))""",
                """CREATE TABLE tooth_treatment_images (id TEXT PRIMARY KEY,
                   tooth_treatment_id TEXT, patient_id TEXT, tooth_number INTEGER,
                   image_path TEXT, image_type TEXT, description TEXT, taken_date TEXT,
                   created_at TEXT, updated_at TEXT)""",
            ]
        if self.tables in ("old", "both"):
            statements += [
                """CREATE TABLE dental_treatments (id INTEGER PRIMARY KEY AUTOINCREMENT,
                   patient_id TEXT, tooth_number INTEGER, tooth_name TEXT,
                   current_treatment TEXT, next_treatment TEXT, treatment_details TEXT,
                   treatment_status TEXT, treatment_color TEXT, cost REAL, notes TEXT,
                   appointment_id TEXT, created_at TEXT, updated_at TEXT)""",
                """CREATE TABLE dental_treatment_images (id TEXT PRIMARY KEY,
                   dental_treatment_id INTEGER, patient_id TEXT, tooth_number INTEGER,
                   image_path TEXT, image_type TEXT, description TEXT, taken_date TEXT,
                   created_at TEXT, updated_at TEXT)""",
            ]
        for statement in statements:
            self.db.execute(statement)

    # ----- records
    def patient(self, name: str, serial: str) -> str:
        patient_id = str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO patients (id, serial_number, full_name, gender, age, phone, created_at,"
            " updated_at, date_added) VALUES (?, ?, ?, 'female', 41, '0790000000',"
            " '2024-03-01 10:00:00', '2024-03-01 10:00:00', '2024-03-01 10:00:00')",
            (patient_id, serial, name),
        )
        self.data.patients[patient_id] = name
        return patient_id

    def treatment(self, patient_id: str, number: int, priority: int = 1) -> str | int:
        self.data.treatments += 1
        if self.tables in ("new", "both"):
            treatment_id = str(uuid.uuid4())
            self.db.execute(
                "INSERT INTO tooth_treatments (id, patient_id, tooth_number, treatment_type,"
                " treatment_category, treatment_status, treatment_color, cost, priority,"
                " created_at, updated_at) VALUES (?, ?, ?, 'Filling', 'restorative',"
                " 'completed', '#22c55e', 45.5, ?, '2024-05-01 09:00:00', '2024-05-02')",
                (treatment_id, patient_id, number, priority),
            )
            return treatment_id
        cursor = self.db.execute(
            "INSERT INTO dental_treatments (patient_id, tooth_number, current_treatment,"
            " next_treatment, treatment_status, created_at) VALUES (?, ?, 'Root canal',"
            " 'Crown', 'in progress', '2023-01-05 11:00:00')",
            (patient_id, number),
        )
        return int(cursor.lastrowid or 0)

    def image_row(
        self,
        patient_id: str,
        number: int,
        path: str,
        image_type: str,
        *,
        treatment: str | int | None = None,
        created_ms: int | None = None,
        table: str | None = None,
    ) -> str:
        table = table or (
            "tooth_treatment_images" if self.tables != "old" else "dental_treatment_images"
        )
        link = "tooth_treatment_id" if table == "tooth_treatment_images" else "dental_treatment_id"
        image_id = str(uuid.uuid4())
        created = _ms_created(created_ms) if created_ms else "2024-05-01 09:30:00"
        self.db.execute(
            f"INSERT INTO {table} (id, {link}, patient_id, tooth_number, image_path, image_type,"
            " description, taken_date, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?,"
            " 'from the earlier app', '2024-05-01', ?, ?)",
            (image_id, treatment, patient_id, number, path, image_type, created, created),
        )
        return f"{table} {image_id}"

    # ----- files
    def file(self, root: Path, relative: str, data: bytes | None = None) -> bytes:
        self.seed += 1
        content = data if data is not None else picture(self.seed, "PNG")
        path = root.joinpath(*relative.split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.data.legacy_files.append(path)
        return content

    def expect(self, ref: str, patient_id: str, number: int, kind: str, data: bytes) -> None:
        code = teeth.from_fdi(number) if self.data.notation == "fdi" else teeth.normalize(number)
        self.data.expected.append(Expected(ref, patient_id, code, kind, data))

    def close(self) -> LegacyData:
        self.db.commit()
        self.db.close()
        return self.data


def build_legacy(
    folder: Path, *, notation: str = "fdi", tables: str = "both", extra: int = 0
) -> LegacyData:
    """An earlier app's data folder at `folder`: four patients (one Arabic name, one empty
    name), treatments in the chosen table generations, image rows in every path form over two
    roots (`folder` and `folder/public/upload`), duplicate file names across patients, an
    Arabic file name, missing files, a file that is no image, a stray file, a patient image.
    `extra` adds that many more full-path images (for bigger runs)."""
    b = _Builder(folder, notation, tables)
    upload = folder / "public" / "upload"
    fdi = notation == "fdi"
    n_front, n_molar, n_lower, n_primary = (11, 16, 36, 55) if fdi else (8, 3, 19, 14)
    layla = b.patient("Layla Haddad", "1")
    arabic = b.patient("ليلى حداد", "2")
    omar = b.patient("Omar O'Brien-Smith", "3")
    nameless = b.patient("", "4")
    t_front = b.treatment(layla, n_front)
    b.treatment(arabic, n_molar)
    b.treatment(omar, n_lower, priority=2)

    # 1. full paths, one per root, with the same file name for two patients
    same_name = f"scan_{BASE_MS}-{BASE_MS + 1}.png"
    for patient, root in ((layla, folder), (arabic, upload)):
        prefix = "" if root == folder else "public/upload/"
        relative = f"dental_images/{patient}/{n_front}/xray/{same_name}"
        data = b.file(root, relative)
        ref = b.image_row(
            patient,
            n_front,
            prefix + relative,
            "xray",
            treatment=t_front if patient == layla else None,
        )
        b.expect(ref, patient, n_front, "xray", data)
    # a full path written with backslashes, file only in the other root
    relative = f"dental_images/{omar}/{n_lower}/after/after_{BASE_MS + 5}-{BASE_MS + 6}.jpg"
    data = b.file(upload, relative, picture(900, "JPEG"))
    ref = b.image_row(omar, n_lower, relative.replace("/", "\\"), "after")
    b.expect(ref, omar, n_lower, "after", data)

    # 2. name-based paths (the tooth is only in the row), Arabic folder and file names
    for patient, kind, name in (
        (arabic, "clinical", f"صورة_{BASE_MS + 10}-{BASE_MS + 11}.png"),
        (omar, "before", f"smile_{BASE_MS + 12}-{BASE_MS + 13}.png"),
        (nameless, "other", f"img_{BASE_MS + 14}-{BASE_MS + 15}.png"),
    ):
        clean = legacy_patient_folder(b.data.patients[patient], patient)
        relative = f"dental_images/{clean}/{kind}/{name}"
        data = b.file(folder, relative)
        ref = b.image_row(patient, n_molar, relative, kind)
        b.expect(ref, patient, n_molar, kind, data)

    # 3. folder-only rows: one row one file, then three rows sharing a folder
    relative = f"dental_images/{layla}/{n_primary}/before/"
    data = b.file(folder, relative + f"kid_{BASE_MS + 20}-{BASE_MS + 21}.png")
    ref = b.image_row(layla, n_primary, relative, "before")
    b.expect(ref, layla, n_primary, "before", data)
    relative = f"dental_images/{arabic}/{n_lower}/xray/"
    for k in range(3):
        ms = BASE_MS + 100_000 * (k + 1)
        data = b.file(upload, relative + f"pano_{ms}-{ms + 1}.png")
        ref = b.image_row(arabic, n_lower, "public/upload/" + relative, "xray", created_ms=ms + 40)
        b.expect(ref, arabic, n_lower, "xray", data)

    # 4. rows whose file is absent, a folder-only row with no folder, a file that is no image
    b.data.missing.append(
        b.image_row(omar, n_front, f"dental_images/{omar}/{n_front}/xray/gone_1.png", "xray")
    )
    b.data.missing.append(
        b.image_row(nameless, n_front, f"dental_images/{nameless}/{n_front}/after/", "after")
    )
    relative = f"dental_images/{omar}/{n_front}/other/notes_{BASE_MS}.png"
    b.file(folder, relative, b"these are notes, not a picture")
    b.data.failing.append(b.image_row(omar, n_front, relative, "other"))

    # 5. the older table generation, a free-text type, a stray file, a patient image
    if tables == "both":
        relative = f"dental_images/{layla}/{n_lower}/after/old_{BASE_MS + 30}-{BASE_MS + 31}.png"
        data = b.file(folder, relative)
        old = b.image_row(
            layla, n_lower, relative, "Post-op photo", table="dental_treatment_images"
        )
        b.expect(old, layla, n_lower, "after", data)  # free-text type: the folder's type wins
    # a file no row names in Layla's folder (the app stopped between file and row): kept as
    # her patient-level image; one in a folder of no patient: listed
    forgotten = b.file(
        folder,
        f"dental_images/{legacy_patient_folder('Layla Haddad', layla)}"
        f"/xray/forgotten_{BASE_MS}.png",
    )
    b.data.expected.append(Expected("forgotten", layla, None, "xray", forgotten))
    b.file(folder, f"dental_images/Nobody_Known/xray/stray_{BASE_MS}.png")
    b.data.unreferenced.append(b.data.legacy_files[-1])
    relative = f"dental_images/{legacy_patient_folder('Layla Haddad', layla)}/other/face.png"
    data = b.file(folder, relative)
    portrait = str(uuid.uuid4())
    b.db.execute(
        "INSERT INTO patient_images VALUES (?, ?, NULL, ?, 'other', 'portrait')",
        (portrait, layla, relative),
    )
    # a patient-level image: no tooth
    b.data.expected.append(Expected(f"patient_images {portrait}", layla, None, "other", data))
    for k in range(extra):
        patient = (layla, arabic, omar)[k % 3]
        number = (n_front, n_molar, n_lower)[k % 3]
        relative = f"dental_images/{patient}/{number}/clinical/extra_{k}_{BASE_MS + k}.png"
        data = b.file(folder, relative)
        b.expect(
            b.image_row(patient, number, relative, "clinical"), patient, number, "clinical", data
        )
    return b.close()


def check_imported(session, store_root: Path, data: LegacyData) -> None:
    """Every expected image is one row on its patient, tooth and type whose file holds the
    same bytes; no other row exists; no row points at a missing or different file; no two
    rows share a file."""
    import hashlib

    from sqlalchemy import select

    from backend.models import Image

    rows = list(session.scalars(select(Image)))
    files = set()
    for row in rows:
        path = store_root / row.folder_path / row.file_name
        assert path.is_file(), f"row {row.id} points at a missing file {path}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256
        assert path not in files, f"two rows point at {path}"
        files.add(path)
    unclaimed = list(rows)
    for item in data.expected:
        digest = hashlib.sha256(item.data).hexdigest()
        match = [
            r
            for r in unclaimed
            if (r.patient_id, r.tooth, r.image_type, r.sha256)
            == (item.patient_id, item.tooth, item.image_type, digest)
        ]
        assert len(match) == 1, f"{item.ref}: {len(match)} rows on {item.tooth}/{item.image_type}"
        unclaimed.remove(match[0])
    assert unclaimed == [], f"rows nobody expected: {[r.relative_path for r in unclaimed]}"
