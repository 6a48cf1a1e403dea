"""Finding patients as receptionists type them: phone numbers by their digits, Arabic without
hamza or diacritics, Latin names without accents, any digit script; and search keys that stay
right through edits, imports, bulk writes, restores and the schema upgrade that added them.
Runs on SQLite and PostgreSQL (tests/backend/conftest.py)."""

from __future__ import annotations

import contextlib
import sqlite3
import uuid

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, insert, select, text, update

from backend.backup.restore import restore_backup
from backend.config import sqlite_url
from backend.db import create_db_engine, upgrade_schema
from backend.demo import create_demo_data
from backend.migration.importer import import_legacy, open_source
from backend.models import Image, Patient, utcnow
from backend.paths import migrations_dir
from backend.search_keys import refresh_search_keys
from backend.usecases import patients
from tests.backup_data import write_archive
from tests.legacy_data import build_legacy


def found(session, query: str) -> list[str]:
    return [p.full_name for p in patients.search_patients(session, query)]


@pytest.fixture
def clinic(session):
    for name, phone in (
        ("Sarah Mitchell", "555-0142"),
        ("أحمد خليل", "+971 50 123 4567"),
        ("María González", "+34 699 888 777"),
        ("فاطمة الزهراء", "٠٥٥ ٩٨٧ ٦٥٤٣"),
        ("مُحَمَّد عبد الله", "04 555 1234"),
        ("Daniel Okafor", "(202) 555-0199"),
    ):
        patients.create_patient(session, {"full_name": name, "phone": phone})
    return session


def test_phone_digits_match_whatever_the_punctuation(clinic):
    assert found(clinic, "5550142") == ["Sarah Mitchell"]
    assert found(clinic, "555 0142") == ["Sarah Mitchell"]
    assert found(clinic, "2025550199") == ["Daniel Okafor"]


@pytest.mark.parametrize(
    "query",
    [
        "971501234567",
        "0501234567",
        "+971 50 123 4567",
        "00971501234567",
        "050-123-4567",
        "1234567",  # the last seven digits
        "٠٥٠١٢٣٤٥٦٧",  # Arabic-Indic digits
        "۰۵۰۱۲۳۴۵۶۷",  # Eastern Arabic-Indic digits
    ],
)
def test_an_international_number_is_found_by_every_way_of_writing_it(clinic, query):
    assert found(clinic, query) == ["أحمد خليل"]


def test_a_national_number_is_found_from_its_international_form(clinic):
    assert found(clinic, "+971 55 987 6543") == ["فاطمة الزهراء"]  # stored "٠٥٥ ٩٨٧ ٦٥٤٣"
    assert found(clinic, "971559876543") == ["فاطمة الزهراء"]
    assert found(clinic, "0559876543") == ["فاطمة الزهراء"]


def test_a_country_code_is_not_guessed_in_front_of_a_short_number(clinic):
    # "55" is a country code, but "50142" is no whole number: only the digits as typed count.
    assert found(clinic, "5550142") == ["Sarah Mitchell"]
    assert found(clinic, "+34 699 888 777") == ["María González"]
    assert found(clinic, "699888777") == ["María González"]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("احمد", "أحمد خليل"),
        ("أحمد", "أحمد خليل"),
        ("أَحْمَد", "أحمد خليل"),
        ("احمـــد خليل", "أحمد خليل"),
        ("خليل احمد", "أحمد خليل"),  # words in any order
        ("فاطمه", "فاطمة الزهراء"),
        ("محمد", "مُحَمَّد عبد الله"),
        ("عبدالله", "مُحَمَّد عبد الله"),
        ("gonzalez", "María González"),
        ("GONZÁLEZ", "María González"),
        ("maria", "María González"),
        ("sarah", "Sarah Mitchell"),
    ],
)
def test_names_are_found_without_accents_hamza_diacritics_or_tatweel(clinic, query, name):
    assert found(clinic, query) == [name]


def test_serial_numbers_are_found_in_any_digit_script(session):
    patient = patients.create_patient(session, {"full_name": "Serial Test", "serial_number": "47"})
    assert [p.id for p in patients.search_patients(session, "٤٧")] == [patient.id]
    assert [p.id for p in patients.search_patients(session, "47")] == [patient.id]


def test_stored_arabic_indic_digits_are_found_by_ascii_queries(clinic):
    assert found(clinic, "0559876543") == ["فاطمة الزهراء"]
    assert found(clinic, "9876543") == ["فاطمة الزهراء"]


def test_a_name_and_a_phone_in_one_query_must_both_match(clinic):
    assert found(clinic, "ahmad 050") == []  # Latin spelling is another name
    assert found(clinic, "احمد 050 123") == ["أحمد خليل"]
    assert found(clinic, "sarah 050") == []


def test_nothing_searchable_finds_no_one_and_an_empty_query_everyone(clinic):
    assert found(clinic, "%") == []
    assert len(found(clinic, "")) == 6


def test_a_rename_and_a_new_phone_refresh_the_keys(clinic):
    [sarah] = patients.search_patients(clinic, "sarah")
    patients.update_patient(
        clinic, sarah.id, {"full_name": "Sára Jones", "phone": "+44 20 7946 0958"}
    )
    assert found(clinic, "sarah") == []
    assert found(clinic, "sara jones") == ["Sára Jones"]
    assert found(clinic, "5550142") == []
    assert found(clinic, "02079460958") == ["Sára Jones"]
    patients.update_patient(clinic, sarah.id, {"phone": None})
    assert found(clinic, "02079460958") == []
    stored = clinic.execute(select(Patient.search_phone).where(Patient.id == sarah.id)).scalar()
    assert stored == f" {sarah.serial_number} "  # only the serial's digits are left


def test_rows_written_without_the_orm_get_their_keys(runtime, session):
    """A bulk insert (the legacy import's, a restore's copy of an older archive's columns) that
    does not give the keys gets them from the row's own values."""
    now = utcnow()
    row = {
        "id": str(uuid.uuid4()),
        "serial_number": "900",
        "full_name": "Zoë Ångström",
        "phone": "+46 70 123 45 67",
        "date_added": now,
        "created_at": now,
        "updated_at": now,
    }
    with runtime.engine.begin() as connection:
        connection.execute(insert(Patient), [row])
    assert found(session, "zoe angstrom") == ["Zoë Ångström"]
    assert found(session, "0701234567") == ["Zoë Ångström"]


def test_refresh_search_keys_repairs_every_key(clinic):
    clinic.execute(update(Patient).values(search_text="", search_phone=""))
    clinic.commit()
    assert found(clinic, "gonzalez") == []
    assert refresh_search_keys(clinic) == 6
    clinic.commit()
    assert found(clinic, "gonzalez") == ["María González"]
    assert found(clinic, "0501234567") == ["أحمد خليل"]
    assert refresh_search_keys(clinic) == 0  # nothing left to change


def _alembic(engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["engine"] = engine
    return config


def test_the_upgrade_that_adds_the_keys_fills_them_for_existing_rows(runtime):
    engine = runtime.engine
    command.downgrade(_alembic(engine), "0005")
    patient_id, now = str(uuid.uuid4()), utcnow()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (id, serial_number, full_name, phone, date_added, "
                "created_at, updated_at) VALUES (:id, '12', 'أحمد خليل', '+971 50 123 4567', "
                ":now, :now, :now)"
            ),
            {"id": patient_id, "now": now},
        )
        connection.execute(
            text(
                "INSERT INTO images (id, patient_id, tooth, image_type, folder_path, file_name, "
                "description, created_at, updated_at, size_bytes, sha256, width, height, format) "
                "VALUES (:id, :patient, '8', 'xray', 'x/', 'a.png', 'Périapical avant', :now, "
                ":now, 1, :sha, 1, 1, 'PNG')"
            ),
            {"id": str(uuid.uuid4()), "patient": patient_id, "now": now, "sha": "0" * 64},
        )
    assert upgrade_schema(engine)
    with runtime.sessions() as session:
        assert found(session, "احمد") == ["أحمد خليل"]
        assert found(session, "0501234567") == ["أحمد خليل"]
        key = session.scalar(select(Image.search_description))
        assert key == "periapicalavant"


def test_an_imported_patient_is_found_by_folded_name_and_national_phone(runtime, session, tmp_path):
    build_legacy(tmp_path / "old")
    import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    assert found(session, "ليلي حداد") == ["ليلى حداد"]  # typed with yeh for alef maqsura
    # every imported patient has 0790000000: found by its international form
    assert len(found(session, "+962 79 000 0000")) == session.scalar(
        select(func.count()).select_from(Patient)
    )


def test_the_patients_api_uses_the_same_search(client, clinic):
    response = client.get("/api/patients", query_string={"q": "0501234567"})
    assert response.status_code == 200
    assert [p["full_name"] for p in response.get_json()["patients"]] == ["أحمد خليل"]
    response = client.get("/api/patients", query_string={"q": "gonzalez"})
    assert [p["full_name"] for p in response.get_json()["patients"]] == ["María González"]


def test_a_backup_from_before_the_keys_restores_searchable(runtime, tmp_path):
    """An archive made before the search keys existed (schema 0005) is restored with its keys
    made: on SQLite by swapping in the upgraded file, on PostgreSQL by copying its rows."""
    database = tmp_path / "old.sqlite"
    engine = create_db_engine(sqlite_url(database))
    command.upgrade(_alembic(engine), "0005")
    engine.dispose()
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute(
            "INSERT INTO patients (id, serial_number, full_name, phone, date_added, created_at,"
            " updated_at) VALUES (?, '7', 'إسماعيل مصطفى', '+971 50 765 4321', '2025-01-01',"
            " '2025-01-01', '2025-01-01')",
            (str(uuid.uuid4()),),
        )
        connection.commit()
        connection.execute("PRAGMA journal_mode=DELETE")
    archive = tmp_path / "before-keys.zip"
    counts = {"patients": 1, "treatments": 0, "images": 0}
    write_archive(archive, database, {}, schema_version="0005", counts=counts)

    restore_backup(runtime, archive)

    with runtime.sessions() as session:
        assert found(session, "اسماعيل مصطفي") == ["إسماعيل مصطفى"]
        assert found(session, "0507654321") == ["إسماعيل مصطفى"]


def test_the_demo_patients_are_found_as_typed(session, store):
    create_demo_data(session, store)
    assert found(session, "احمد") == ["أحمد خليل"]
    assert found(session, "gonzalez") == ["María González"]
