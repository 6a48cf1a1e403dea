"""The evidence rules that decide how a legacy database's tooth numbers are read: per table
generation, the CHECK constraints, and the early chart's mirrored lower arch."""

from __future__ import annotations

import pytest

from backend.errors import ValidationError
from backend.legacy.database import LegacyDatabase
from backend.legacy.notation import (
    decide,
    detect_generation,
    detect_layout,
    named_side,
    table_choices,
)
from tests.legacy_data import FDI_CHECK

UNIVERSAL_CHECK = (
    "CREATE TABLE dental_treatments (id TEXT, tooth_number INTEGER NOT NULL "
    "CHECK (tooth_number >= 1 AND tooth_number <= 32), tooth_name TEXT)"
)


def _db(**tables) -> LegacyDatabase:
    sql = {name: "" for name in tables}
    sql["patients"] = ""
    return LegacyDatabase(path=None, tables={"patients": [], **tables}, create_sql=sql)  # type: ignore[arg-type]


def test_a_check_allowing_1_to_32_decides_universal_even_with_numbers_valid_in_fdi():
    database = _db(dental_treatments=[{"tooth_number": 21}, {"tooth_number": 11}])
    assert detect_generation(database, "dental_treatments").certain is False
    database.create_sql["dental_treatments"] = UNIVERSAL_CHECK
    found = detect_generation(database, "dental_treatments")
    assert (found.detected, found.certain) == ("universal", True)
    assert "1-32" in found.evidence[0]


def test_each_generation_is_decided_on_its_own_evidence():
    database = _db(
        dental_treatments=[{"tooth_number": 30}],
        tooth_treatments=[{"tooth_number": 21}],
        tooth_treatment_images=[{"tooth_number": 85}],
    )
    database.create_sql["tooth_treatments"] = f"CREATE TABLE tooth_treatments (x {FDI_CHECK})"
    decision = decide(database, require_certain=True)
    assert decision.notations == {"dental_treatments": "universal", "tooth_treatments": "fdi"}
    assert decision.tooth("tooth_treatment_images", 21) == "9"
    assert decision.tooth("dental_treatments", 30) == "30"  # no names: standard kept


def test_a_per_table_choice_overrides_the_evidence_of_that_generation_only():
    database = _db(
        dental_treatments=[{"tooth_number": 21}], tooth_treatments=[{"tooth_number": 21}]
    )
    with pytest.raises(ValidationError, match="dental_treatments"):
        decide(database, tables={"tooth_treatments": "fdi"}, require_certain=True)
    chosen = table_choices(["dental_treatment_images=fdi", "tooth_treatments=universal"])
    decision = decide(database, tables=chosen, require_certain=True)
    assert decision.notations == {"dental_treatments": "fdi", "tooth_treatments": "universal"}
    with pytest.raises(ValidationError):
        table_choices(["patients=fdi"])


def test_the_early_names_say_the_lower_arch_was_mirrored():
    rows = [
        {"tooth_number": 17, "tooth_name": "ضرس العقل الأيمن السفلي"},
        {"tooth_number": 24, "tooth_name": "القاطع المركزي الأيمن السفلي"},
        {"tooth_number": 25, "tooth_name": "القاطع المركزي الأيسر السفلي"},
        {"tooth_number": 3, "tooth_name": "الضرس الأول الأيمن العلوي"},
    ]
    database = _db(dental_treatments=rows, dental_treatment_images=[{"tooth_number": 30}])
    database.create_sql["dental_treatments"] = UNIVERSAL_CHECK
    layout = detect_layout(database, "dental_treatments")
    assert (layout.detected, layout.certain, layout.affected) == ("mirrored", True, 4)
    decision = decide(database)
    assert [decision.tooth("dental_treatments", n) for n in (17, 24, 25, 32, 3, 16)] == [
        "32",
        "25",
        "24",
        "17",
        "3",
        "16",
    ]
    assert decision.tooth("dental_treatment_images", 30) == "19"
    assert decide(database, early_layout="standard").tooth("dental_treatments", 17) == "17"
    assert named_side("ثنية") is None  # FDI-era names say no side


def test_names_that_agree_with_standard_universal_keep_the_numbers():
    rows = [{"tooth_number": 17, "tooth_name": "ضرس العقل الأيسر السفلي"}]
    layout = detect_layout(_db(dental_treatments=rows), "dental_treatments")
    assert (layout.detected, layout.certain) == ("standard", True)


def test_a_name_that_disagrees_with_the_number_is_reported_not_followed(runtime, tmp_path):
    import sqlite3

    from sqlalchemy import select

    from backend.migration.importer import import_legacy, open_source, preview
    from backend.models import Treatment

    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "dental_clinic.db")
    db.execute("CREATE TABLE patients (id TEXT PRIMARY KEY, full_name TEXT)")
    db.execute(UNIVERSAL_CHECK.replace("tooth_name TEXT", "tooth_name TEXT, patient_id TEXT"))
    pid = "3d78ce9b-fa8c-419a-b8c9-5fc6f6a9f1a0"
    db.execute("INSERT INTO patients VALUES (?, 'A')", (pid,))
    rows = [
        ("a1b2c3d4-0000-4000-8000-000000000001", 17, "ضرس العقل الأيمن السفلي"),
        ("a1b2c3d4-0000-4000-8000-000000000002", 24, "القاطع المركزي الأيمن السفلي"),
        # an upper name on a lower number: neither layout explains it
        ("a1b2c3d4-0000-4000-8000-000000000003", 20, "الضرس الأول الأيمن العلوي"),
    ]
    db.executemany(
        "INSERT INTO dental_treatments (id, tooth_number, tooth_name, patient_id) VALUES (?,?,?,?)",
        [(*r, pid) for r in rows],
    )
    db.commit()
    db.close()
    source = open_source(folder)
    shown = preview(source)
    assert len(shown.name_conflicts) == 1 and "000000000003" in shown.name_conflicts[0]
    report = import_legacy(runtime, source)
    assert [e.what for e in report.name_conflicts] == [f"dental_treatments {rows[2][0]}"]
    with runtime.sessions() as session:
        teeth = sorted(t.tooth for t in session.scalars(select(Treatment)))
    assert teeth == ["25", "29", "32"]  # 20 by the layout (49 - 20), not by the name
