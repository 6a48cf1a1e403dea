"""Patient-level images ("Whole mouth / general"): no tooth, stored under
`dental_images/<patient>/general/<type>/`, uploaded, listed, counted, moved like a tooth's."""

from __future__ import annotations

from sqlalchemy import select

from backend.models import Image
from tests.backend.test_api import new_patient, upload
from tests.helpers import image_bytes


def test_general_images_are_uploaded_listed_counted_and_moved_like_a_tooths(client, runtime):
    patient = new_patient(client)
    png = image_bytes("PNG")
    response = upload(client, patient["id"], "general", ("face.png", png), image_type="clinical")
    assert response.status_code == 201, response.get_json()
    stored = response.get_json()["results"][0]["image"]
    assert stored["tooth"] is None
    assert stored["folder_path"] == f"dental_images/{patient['id']}/general/clinical/"
    listed = client.get(f"/api/patients/{patient['id']}/teeth/general/images").get_json()
    assert [i["id"] for i in listed["images"]] == [stored["id"]]
    assert client.get(f"/api/patients/{patient['id']}/teeth/3/images").get_json()["images"] == []
    chart = client.get(f"/api/patients/{patient['id']}/chart").get_json()
    assert chart["teeth"] == {}
    assert chart["general"]["total"] == 1 and chart["general"]["counts"]["clinical"] == 1
    assert client.get(stored["url"]).data == png

    moved = client.patch(f"/api/images/{stored['id']}", json={"tooth": "3"}).get_json()
    assert moved["tooth"] == "3" and moved["folder_path"].endswith("/3/clinical/")
    back = client.patch(f"/api/images/{stored['id']}", json={"tooth": "general"}).get_json()
    assert back["tooth"] is None and "/general/" in back["folder_path"]
    with runtime.sessions() as session:
        row = session.scalars(select(Image)).one()
        assert row.tooth is None
        assert runtime.store.path_of(row.relative_path).read_bytes() == png


def test_a_general_image_cannot_be_linked_to_a_tooths_treatment(client):
    patient = new_patient(client)
    treatment = client.post(
        f"/api/patients/{patient['id']}/treatments",
        json={"tooth": "3", "treatment_type": "Filling"},
    ).get_json()
    response = upload(
        client,
        patient["id"],
        "general",
        ("a.png", image_bytes("PNG")),
        treatment_id=treatment["id"],
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "treatment_id"
