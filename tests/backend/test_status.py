from tests.helpers import hold_store_lock_elsewhere


def test_status_reports_no_lock_when_idle(client):
    assert client.get("/api/status").get_json() == {
        "lock": None,
        "restoring": False,
        "notices": [],
        "inbox_count": 0,
    }


def test_a_restore_on_another_pc_pauses_changes_here(client, runtime):
    patient = client.post("/api/patients", json={"full_name": "Before"}).get_json()
    hold_store_lock_elsewhere(runtime, "restore", "RECEPTION-2 (process 77, abc123)")
    status = client.get("/api/status").get_json()
    assert status["restoring"] is True and status["lock"]["holder"].startswith("RECEPTION-2")
    assert status["lock"]["here"] is False
    refused = client.post("/api/patients", json={"full_name": "During"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "restoring"
    assert "RECEPTION-2" in refused.get_json()["error"]["message"]
    assert client.patch(f"/api/patients/{patient['id']}", json={"age": 3}).status_code == 409
    runtime.notices.append("An interrupted restore of x.zip was undone.")
    assert client.delete("/api/status/notices").status_code == 204  # only this PC's memory
    assert runtime.notices == []
    assert [p["full_name"] for p in client.get("/api/patients").get_json()["patients"]] == [
        "Before"
    ]
