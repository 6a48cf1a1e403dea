import io

from tests.helpers import image_bytes


def upload(client, patient_id, tooth, *files, **form):
    data = {"image_type": form.pop("image_type", "before"), **form}
    data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(
        f"/api/patients/{patient_id}/teeth/{tooth}/images",
        data=data,
        content_type="multipart/form-data",
    )


def new_patient(client, name="Layla Haddad"):
    response = client.post("/api/patients", json={"full_name": name, "phone": "555"})
    assert response.status_code == 201
    return response.get_json()


def test_patient_lifecycle(client):
    patient = new_patient(client)
    assert client.get(f"/api/patients/{patient['id']}").get_json()["full_name"] == "Layla Haddad"
    changed = client.patch(f"/api/patients/{patient['id']}", json={"age": 41}).get_json()
    assert changed["age"] == 41
    found = client.get("/api/patients?q=layla").get_json()["patients"]
    assert [p["id"] for p in found] == [patient["id"]] and found[0]["image_count"] == 0
    assert client.delete(f"/api/patients/{patient['id']}").status_code == 200
    assert client.get(f"/api/patients/{patient['id']}").status_code == 404


def test_upload_list_serve_edit_delete(client):
    patient = new_patient(client)
    png, jpg = image_bytes("PNG"), image_bytes("JPEG")
    response = upload(client, patient["id"], "3", ("a.png", png), ("b.jpg", jpg))
    assert response.status_code == 201
    stored = [r["image"] for r in response.get_json()["results"]]
    listed = client.get(f"/api/patients/{patient['id']}/teeth/3/images").get_json()["images"]
    assert {i["id"] for i in listed} == {i["id"] for i in stored}

    original = client.get(stored[0]["url"])
    assert original.status_code == 200 and original.data == png
    assert original.mimetype == "image/png"
    assert original.headers["Cache-Control"] == "private, no-cache"  # revalidated: 304 below
    assert original.headers["X-Content-Type-Options"] == "nosniff"
    cached = client.get(stored[0]["url"], headers={"If-None-Match": original.headers["ETag"]})
    assert cached.status_code == 304
    # A served file stays open until its response is closed, as a browser download would hold
    # it; Windows refuses to move an open file (answered 409 file_in_use).
    original.close()
    cached.close()
    thumb = client.get(stored[1]["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"

    edited = client.patch(
        f"/api/images/{stored[0]['id']}", json={"description": "Before", "tooth": "4"}
    ).get_json()
    assert edited["description"] == "Before" and edited["tooth"] == "4"
    assert client.get(edited["url"]).data == png
    chart = client.get(f"/api/patients/{patient['id']}/chart").get_json()
    assert chart["teeth"]["3"]["total"] == 1 and chart["teeth"]["4"]["total"] == 1

    assert client.delete(f"/api/images/{stored[0]['id']}").status_code == 200
    assert client.get(stored[0]["url"]).status_code == 404


def test_mixed_batch_returns_207_with_per_file_results(client):
    patient = new_patient(client)
    response = upload(
        client, patient["id"], "8", ("good.png", image_bytes("PNG")), ("bad.jpg", b"text")
    )
    assert response.status_code == 207
    results = response.get_json()["results"]
    assert "image" in results[0] and results[1]["error"]["field"] == "file"


def test_all_bad_batch_is_a_400_error(client):
    patient = new_patient(client)
    response = upload(client, patient["id"], "8", ("bad.jpg", b"text"))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"]["field"] == "file"
    assert "bad.jpg" in body["error"]["message"]


def test_missing_file_answers_image_missing_with_expected_path(client, settings):
    patient = new_patient(client)
    response = upload(client, patient["id"], "8", ("a.png", image_bytes("PNG")))
    image = response.get_json()["results"][0]["image"]
    (settings.data_dir / image["path"]).unlink()
    missing = client.get(image["url"])
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "image_missing" and error["expected_path"] == image["path"]


def test_thumbnail_of_a_missing_file_answers_image_missing_like_the_image(client, settings):
    patient = new_patient(client)
    response = upload(client, patient["id"], "8", ("a.png", image_bytes("PNG")))
    image = response.get_json()["results"][0]["image"]
    assert client.get(image["thumbnail_url"]).status_code == 200  # the thumbnail is cached
    (settings.data_dir / image["path"]).unlink()
    missing = client.get(image["thumbnail_url"])
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error == client.get(image["url"]).get_json()["error"]
    assert error["code"] == "image_missing" and error["expected_path"] == image["path"]


def test_treatments_through_the_api(client):
    patient = new_patient(client)
    created = client.post(
        f"/api/patients/{patient['id']}/treatments",
        json={"tooth": "14", "treatment_type": "Filling", "status": "completed"},
    )
    assert created.status_code == 201
    treatment = created.get_json()
    listed = client.get(f"/api/patients/{patient['id']}/treatments?tooth=14").get_json()
    assert [t["id"] for t in listed["treatments"]] == [treatment["id"]]
    changed = client.patch(f"/api/treatments/{treatment['id']}", json={"notes": "ok"})
    assert changed.get_json()["notes"] == "ok"
    assert client.delete(f"/api/treatments/{treatment['id']}").status_code == 200


def test_teeth_facts_follow_the_notation(client):
    fdi = client.get("/api/teeth?notation=fdi").get_json()
    assert fdi["teeth"]["1"]["label"] == "18" and fdi["teeth"]["A"]["label"] == "55"
    assert fdi["rows"]["upper"][0] == "1"
    assert client.get("/api/teeth?notation=klingon").status_code == 400
