"""Search across every patient's images: description (folded as names are), type, tooth and
the day taken, listed with their patient, a page at a time. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from backend.migration.importer import import_legacy, open_source
from backend.models import Image
from backend.search_keys import refresh_search_keys
from backend.usecases import images, patients
from backend.usecases.image_search import ImageSearch, search_images
from backend.usecases.images import Upload
from tests.helpers import image_bytes
from tests.legacy_data import build_legacy


@pytest.fixture
def gallery(session, store):
    """Two patients' images: (patient, tooth or "general", type, description, taken)."""
    ahmad = patients.create_patient(session, {"full_name": "أحمد خليل"})
    maria = patients.create_patient(session, {"full_name": "María González"})
    made = {}
    for key, patient, tooth, kind, description, taken in (
        ("crown", ahmad, "3", "after", "Couronne posée, contrôle", "2026-03-10"),
        ("xray3", ahmad, "3", "xray", "Périapical before the crown", "2026-01-05"),
        ("caries", maria, "14", "clinical", "Occlusal caries", "2025-11-20"),
        ("arabic", maria, "14", "xray", "أشعة قبل الحشوة", "2026-02-01"),
        ("smile", maria, "general", "clinical", "Smile, front view", None),
    ):
        [result] = images.add_images(
            session,
            store,
            patient.id,
            tooth,
            kind,
            [Upload(f"{key}.png", image_bytes("PNG", color=(len(made) * 40, 10, 10)))],
            description=description,
            taken_date=taken,
        )
        assert result.image is not None, result.error
        made[key] = result.image
    return made


def search(client, **args) -> dict:
    response = client.get("/api/search/images", query_string=args)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ids(answer: dict) -> list[str]:
    return [image["id"] for image in answer["images"]]


def test_descriptions_are_found_without_accents_or_hamza(client, gallery):
    assert ids(search(client, q="periapical")) == [gallery["xray3"].id]
    assert ids(search(client, q="COURONNE posee")) == [gallery["crown"].id]
    assert ids(search(client, q="اشعه")) == [gallery["arabic"].id]
    assert ids(search(client, q="crown")) == [gallery["xray3"].id]


def test_each_match_names_its_patient(client, gallery):
    [match] = search(client, q="caries")["images"]
    assert match["patient"]["full_name"] == "María González"
    assert match["patient"]["id"] == gallery["caries"].patient_id
    assert match["tooth"] == "14" and match["image_type"] == "clinical"
    assert match["thumbnail_url"] == f"/images/{gallery['caries'].id}/thumbnail"


def test_type_tooth_and_patient_narrow_the_list(client, gallery):
    assert set(ids(search(client, type="xray"))) == {gallery["xray3"].id, gallery["arabic"].id}
    assert set(ids(search(client, tooth="3"))) == {gallery["crown"].id, gallery["xray3"].id}
    assert ids(search(client, tooth="3", type="xray")) == [gallery["xray3"].id]
    assert ids(search(client, tooth="general")) == [gallery["smile"].id]
    maria = gallery["caries"].patient_id
    assert set(ids(search(client, patient_id=maria, type="clinical"))) == {
        gallery["caries"].id,
        gallery["smile"].id,
    }


def test_the_date_range_includes_both_ends_and_lists_newest_first(client, gallery):
    answer = search(client, **{"from": "2026-01-05", "to": "2026-03-10"})
    assert ids(answer) == [gallery["crown"].id, gallery["arabic"].id, gallery["xray3"].id]
    assert ids(search(client, to="2025-12-31")) == [gallery["caries"].id]


def test_an_image_without_a_day_taken_counts_by_its_upload_day(client, gallery):
    uploaded = gallery["smile"].created_at.date()
    day = uploaded.isoformat()
    assert ids(search(client, **{"from": day, "to": day})) == [gallery["smile"].id]
    before = (uploaded - timedelta(days=1)).isoformat()
    assert gallery["smile"].id not in ids(search(client, to=before))


def test_pages_carry_the_total(client, gallery):
    first = search(client, limit=2)
    second = search(client, limit=2, offset=2)
    third = search(client, limit=2, offset=4)
    assert first["total"] == second["total"] == third["total"] == 5
    listed = ids(first) + ids(second) + ids(third)
    assert sorted(listed) == sorted(image.id for image in gallery.values())
    assert listed[-1] == gallery["smile"].id  # undated images after the dated ones


def test_a_changed_description_is_found_by_its_new_words(client, session, store, gallery):
    images.update_image(session, store, gallery["caries"].id, {"description": "Fissure sealant"})
    assert ids(search(client, q="caries")) == []
    assert ids(search(client, q="fissure")) == [gallery["caries"].id]


@pytest.mark.parametrize(
    ("args", "field", "words"),
    [
        ({"from": "2026-03-01", "to": "2026-02-01"}, "from", "swap the two dates"),
        ({"from": "1 March"}, "from", "YYYY-MM-DD"),
        ({"type": "photo"}, "image_type", "is not one of"),
        ({"tooth": "99"}, "tooth", ""),
    ],
)
def test_wrong_criteria_are_refused_with_what_to_do(client, gallery, args, field, words):
    response = client.get("/api/search/images", query_string=args)
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["field"] == field
    assert words in body["message"]


def test_nothing_searchable_finds_nothing(client, gallery):
    assert search(client, q="%")["total"] == 0


def test_imported_images_are_found_by_their_description(runtime, session, tmp_path):
    """The import writes image rows in bulk, without the ORM: their keys come with them."""
    build_legacy(tmp_path / "old")
    import_legacy(runtime, open_source(tmp_path / "old"), notation="fdi")
    descriptions = session.scalars(select(Image.description)).all()
    described = sum(1 for d in descriptions if d and "earlier" in d and "app" in d.casefold())
    assert described >= 10
    assert search_images(session, ImageSearch(query="Earlier APP")).total == described


def test_refresh_search_keys_repairs_description_keys(session, gallery):
    session.execute(update(Image).values(search_description=""))
    session.commit()
    assert search_images(session, ImageSearch(query="caries")).total == 0
    assert refresh_search_keys(session) == 5
    session.commit()
    [match] = search_images(session, ImageSearch(query="caries")).images
    assert match.id == gallery["caries"].id
