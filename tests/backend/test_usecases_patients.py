import pytest

from backend.errors import Conflict, NotFound, ValidationError
from backend.usecases import chart, patients, treatments
from backend.usecases.images import Upload, add_images, delete_image, update_image
from tests.helpers import image_bytes


def test_create_patient_gets_uuid_and_next_serial(session):
    first = patients.create_patient(session, {"full_name": "Ahmad Saleh"})
    second = patients.create_patient(session, {"full_name": "Mona Saleh"})
    assert len(first.id) == 36 and first.id != second.id
    assert (first.serial_number, second.serial_number) == ("1", "2")


def test_every_field_of_the_earlier_app_is_kept(session):
    data = {
        "full_name": "سارة أحمد",
        "serial_number": "P-77",
        "gender": "female",
        "age": "34",
        "phone": "+962 79 000 0000",
        "email": "sara@example.org",
        "address": "Amman",
        "allergies": "Penicillin",
        "medical_conditions": "Asthma",
        "patient_condition": "Stable",
        "notes": "Prefers mornings",
    }
    patient = patients.create_patient(session, data)
    assert patient.age == 34
    for key, value in data.items():
        if key != "age":
            assert getattr(patient, key) == value


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "full_name"),
        ({"full_name": "   "}, "full_name"),
        ({"full_name": "x" * 201}, "full_name"),
        ({"full_name": "A", "age": "-1"}, "age"),
        ({"full_name": "A", "age": "old"}, "age"),
        ({"full_name": "A", "gender": "robot"}, "gender"),
        ({"full_name": "A", "email": "not-an-email"}, "email"),
        ({"full_name": "A", "unknown": 1}, "unknown"),
    ],
)
def test_bad_patient_fields_are_refused(session, data, field):
    with pytest.raises(ValidationError) as caught:
        patients.create_patient(session, data)
    assert caught.value.field == field
    assert patients.search_patients(session) == []


def test_duplicate_serial_number_is_a_conflict(session):
    patients.create_patient(session, {"full_name": "A", "serial_number": "100"})
    with pytest.raises(Conflict) as caught:
        patients.create_patient(session, {"full_name": "B", "serial_number": "100"})
    assert caught.value.field == "serial_number"


def test_update_patient_changes_only_given_fields(session, patient):
    updated = patients.update_patient(session, patient.id, {"phone": "555-9999"})
    assert updated.phone == "555-9999"
    assert updated.full_name == "Layla Haddad"


def test_search_matches_name_serial_and_phone(session):
    a = patients.create_patient(session, {"full_name": "Omar Khalil", "phone": "0791234"})
    b = patients.create_patient(session, {"full_name": "محمد علي", "serial_number": "A-55"})
    assert [p.id for p in patients.search_patients(session, "omar")] == [a.id]
    assert [p.id for p in patients.search_patients(session, "محمد")] == [b.id]
    assert [p.id for p in patients.search_patients(session, "a-55")] == [b.id]
    assert [p.id for p in patients.search_patients(session, "1234")] == [a.id]
    assert patients.search_patients(session, "%") == []


def test_unknown_patient_is_not_found(session):
    with pytest.raises(NotFound):
        patients.get_patient(session, "missing")


def test_treatments_are_validated_and_edited(session, patient):
    crown = treatments.create_treatment(
        session,
        patient.id,
        {"tooth": "30", "treatment_type": "Crown", "color": "#22c55e", "cost": "120.5"},
    )
    assert crown.status == "planned" and str(crown.cost) == "120.50"
    done = treatments.update_treatment(
        session,
        crown.id,
        {"status": "completed", "start_date": "2026-01-02", "completion_date": "2026-02-01"},
    )
    assert done.status == "completed"
    for bad, field in (
        ({"status": "maybe"}, "status"),
        ({"color": "green"}, "color"),
        ({"cost": "-3"}, "cost"),
        ({"tooth": "40"}, "tooth"),
        ({"completion_date": "2025-01-01"}, "completion_date"),
    ):
        with pytest.raises(ValidationError) as caught:
            treatments.update_treatment(session, crown.id, bad)
        assert caught.value.field == field
    assert treatments.list_treatments(session, patient.id)[0].status == "completed"


def test_chart_counts_images_per_tooth_and_type_with_treatments(session, store, patient):
    add_images(session, store, patient.id, "8", "before", [Upload("a.png", image_bytes("PNG"))])
    add_images(
        session,
        store,
        patient.id,
        "8",
        "xray",
        [Upload("b.png", image_bytes("PNG")), Upload("c.png", image_bytes("PNG"))],
    )
    treatments.create_treatment(
        session,
        patient.id,
        {"tooth": "19", "treatment_type": "Root canal", "status": "in_progress"},
    )
    result = chart.patient_chart(session, patient.id)
    assert list(result["teeth"]) == ["8", "19"]
    assert result["teeth"]["8"]["counts"] == {
        "before": 1,
        "after": 0,
        "xray": 2,
        "clinical": 0,
        "other": 0,
    }
    assert result["teeth"]["8"]["total"] == 3
    assert result["teeth"]["19"]["treatments"][0]["status"] == "in_progress"


def test_the_chart_revision_changes_with_anything_shown_of_the_patient(session, store, patient):
    def revision() -> str:
        return chart.patient_chart(session, patient.id)["revision"]

    first = add_images(session, store, patient.id, "8", "before", [Upload("a.png", image_bytes())])
    seen = [revision()]
    assert revision() == seen[0]  # nothing changed, nothing to refresh

    update_image(session, store, first[0].image.id, {"description": "after cleaning"})
    seen.append(revision())
    delete_image(session, store, first[0].image.id)
    add_images(session, store, patient.id, "8", "before", [Upload("b.png", image_bytes())])
    seen.append(revision())  # same counts as before, another image
    treatments.create_treatment(session, patient.id, {"tooth": "8", "treatment_type": "Crown"})
    seen.append(revision())

    assert len(set(seen)) == len(seen)
