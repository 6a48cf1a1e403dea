"""The DICOM receiver with real peers: dcmtk's storescu and echoscu send to it over loopback
as an x-ray unit would; what arrives waits in the Inbox until it is assigned through the API.
Runs on SQLite and PostgreSQL (tests/backend/conftest.py)."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import time
import zipfile
from datetime import date
from pathlib import Path

import pydicom
import pytest

from backend.backup.create import create_backup
from backend.config import read_machine_config
from backend.models import Image, InboxItem
from backend.startup import open_runtime
from backend.usecases import inbox, patients
from backend.usecases.check import check_store
from tests.dicom_data import dicom_bytes, dicom_dataset

pytestmark = pytest.mark.skipif(
    shutil.which("storescu") is None or shutil.which("echoscu") is None,
    reason="dcmtk's storescu/echoscu are not installed (Debian package dcmtk)",
)

UNIT_AE = "XRAYUNIT"
OUR_AE = "DENTALTEST"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def turn_on(client, port: int, **changes):
    body = {
        "enabled": True,
        "ae_title": OUR_AE,
        "port": port,
        "allowed_ae_titles": [UNIT_AE],
        "allowed_addresses": [],
        **changes,
    }
    return client.put("/api/dicom-receiver", json=body)


@pytest.fixture
def receiver(runtime, client):
    """The runtime's receiver listening on a free loopback port, for UNIT_AE."""
    runtime.receiver.host = "127.0.0.1"  # tests talk over loopback only
    port = free_port()
    answer = turn_on(client, port)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["listening"] is True, answer.get_json()
    yield port
    runtime.receiver.stop()


def storescu(port: int, *files: Path, calling: str = UNIT_AE, called: str = OUR_AE):
    return subprocess.run(
        ["storescu", "-aet", calling, "-aec", called, "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def echoscu(port: int, calling: str = UNIT_AE):
    return subprocess.run(
        ["echoscu", "-aet", calling, "-aec", OUR_AE, "127.0.0.1", str(port)],
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def write_dicom(folder: Path, name: str = "xray.dcm", **kwargs) -> Path:
    path = folder / name
    path.write_bytes(dicom_bytes(**kwargs))
    return path


def inbox_rows(runtime) -> list[InboxItem]:
    with runtime.sessions() as session:
        return inbox.list_inbox(session)


def patient_tree_files(settings) -> list[Path]:
    """Files in the patients' folders of the image tree (not the Inbox)."""
    images = settings.images_dir
    return [p for p in images.rglob("*") if p.is_file() and p.parent != images / "inbox"]


def test_verification_is_answered(receiver):
    answer = echoscu(receiver)
    assert answer.returncode == 0, answer.stderr


def test_an_unknown_ae_title_is_refused_at_association(receiver, runtime, tmp_path):
    echo = echoscu(receiver, calling="STRANGER")
    assert echo.returncode != 0
    assert "Rejected" in echo.stderr or "rejected" in echo.stderr.lower(), echo.stderr
    sent = storescu(receiver, write_dicom(tmp_path), calling="STRANGER")
    assert sent.returncode != 0
    assert inbox_rows(runtime) == []


def test_an_address_not_allowed_is_refused(runtime, client, tmp_path):
    runtime.receiver.host = "127.0.0.1"
    port = free_port()
    # Only another address may send (configured, never contacted): loopback is not on the list.
    answer = turn_on(client, port, allowed_ae_titles=[], allowed_addresses=["192.0.2.7"])
    assert answer.get_json()["listening"] is True
    try:
        assert echoscu(port).returncode != 0
        assert storescu(port, write_dicom(tmp_path)).returncode != 0
        assert inbox_rows(runtime) == []
        # The same receiver with loopback on the list takes it.
        turn_on(client, port, allowed_ae_titles=[], allowed_addresses=["192.0.2.7", "127.0.0.1"])
        assert storescu(port, write_dicom(tmp_path)).returncode == 0
        assert len(inbox_rows(runtime)) == 1
    finally:
        runtime.receiver.stop()


def test_a_received_xray_waits_in_the_inbox_suggested_for_the_patient_of_its_id(
    receiver, runtime, client, session, settings, tmp_path
):
    patient = patients.create_patient(
        session, {"full_name": "Layla Haddad", "serial_number": "SN-4417"}
    )
    sent = storescu(receiver, write_dicom(tmp_path, patient_name="HADDAD^L", patient_id="sn-4417"))
    assert sent.returncode == 0, sent.stderr

    listed = client.get("/api/inbox").get_json()
    assert listed["count"] == 1
    item = listed["items"][0]
    assert item["suggested_patient"]["id"] == patient.id
    assert item["match"] == "patient_id"
    assert item["sender_ae"] == UNIT_AE
    assert item["sender_address"] == "127.0.0.1"
    assert item["modality"] == "IO" and item["study_date"] == "2024-03-05"
    assert client.get("/api/status").get_json()["inbox_count"] == 1
    # The file is in the Inbox folder and nowhere in the patients' folders.
    waiting = settings.images_dir / "inbox" / f"{item['id']}.dcm"
    assert pydicom.dcmread(waiting).SOPInstanceUID == item["sop_instance_uid"]
    assert patient_tree_files(settings) == []
    thumb = client.get(item["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data[:2] == b"\xff\xd8"


def test_assigning_stores_the_file_byte_for_byte_and_empties_the_inbox(
    receiver, runtime, client, session, settings, tmp_path
):
    patient = patients.create_patient(session, {"full_name": "Omar Said"})
    assert storescu(receiver, write_dicom(tmp_path, patient_id="UNKNOWN-9")).returncode == 0
    item = client.get("/api/inbox").get_json()["items"][0]
    assert item["suggested_patient"] is None  # no patient has that ID, name or birth date
    received = (settings.images_dir / "inbox" / f"{item['id']}.dcm").read_bytes()

    refused = client.post(
        f"/api/inbox/{item['id']}/assign",
        json={"patient_id": patient.id, "tooth": "general", "image_type": "xray"},
    )
    assert refused.status_code == 409  # the file names another patient: the user is asked
    assert refused.get_json()["error"]["code"] == "patient_mismatch"
    assert patient_tree_files(settings) == []

    answer = client.post(
        f"/api/inbox/{item['id']}/assign",
        json={
            "patient_id": patient.id,
            "tooth": "general",
            "image_type": "xray",
            "confirm_patient": True,
        },
    )
    assert answer.status_code == 201, answer.get_json()
    image = answer.get_json()["image"]
    assert image["tooth"] is None and image["image_type"] == "xray"
    assert image["taken_date"] == "2024-03-05"
    assert (settings.image_store_root / image["path"]).read_bytes() == received
    assert client.get("/api/inbox").get_json()["count"] == 0
    assert not (settings.images_dir / "inbox" / f"{item['id']}.dcm").exists()
    assert client.get(f"/api/patients/{patient.id}/teeth/general/images").get_json()["images"]

    # The unit sends the same instance again: it is stored already, nothing is added.
    assert storescu(receiver, tmp_path / "xray.dcm").returncode == 0
    assert inbox_rows(runtime) == []


def test_an_instance_stored_meanwhile_is_refused_by_the_duplicate_rule(
    receiver, runtime, client, session, settings, tmp_path
):
    patient = patients.create_patient(
        session, {"full_name": "Layla Haddad", "serial_number": "P-1"}
    )
    path = write_dicom(tmp_path)
    assert storescu(receiver, path).returncode == 0
    item = client.get("/api/inbox").get_json()["items"][0]
    upload = client.post(
        f"/api/patients/{patient.id}/teeth/8/images",
        data={"image_type": "xray", "files": [(io.BytesIO(path.read_bytes()), "x.dcm")]},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201

    listed = client.get("/api/inbox").get_json()["items"][0]
    assert listed["already_stored_image_id"] == upload.get_json()["results"][0]["image"]["id"]
    answer = client.post(
        f"/api/inbox/{item['id']}/assign",
        json={"patient_id": patient.id, "tooth": "8", "image_type": "xray"},
    )
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "duplicate_image"
    assert client.get("/api/inbox").get_json()["count"] == 1  # still there, to be discarded
    assert client.delete(f"/api/inbox/{item['id']}").status_code == 200
    assert client.get("/api/inbox").get_json()["count"] == 0
    assert not any((settings.images_dir / "inbox").iterdir())
    with runtime.sessions() as fresh:
        assert fresh.query(Image).count() == 1


def test_a_file_without_a_known_id_is_matched_by_name_and_birth_date(
    receiver, client, session, tmp_path
):
    today = date.today()
    patients.create_patient(session, {"full_name": "Sara Nasser", "age": 40})
    other = patients.create_patient(session, {"full_name": "Sara Nasser", "age": 12})
    born = f"{today.year - 12:04d}0101"
    assert (
        storescu(
            receiver,
            write_dicom(
                tmp_path, patient_name="NASSER^SARA", patient_id="X-1", PatientBirthDate=born
            ),
        ).returncode
        == 0
    )
    item = client.get("/api/inbox").get_json()["items"][0]
    assert item["match"] == "name_birth_date"
    assert item["suggested_patient"]["id"] == other.id


def test_a_non_image_is_refused_with_nothing_written(receiver, runtime, settings, tmp_path, caplog):
    ds = dicom_dataset()
    del ds.PixelData
    path = tmp_path / "report.dcm"
    path.write_bytes(dicom_bytes(ds))
    sent = storescu(receiver, path)
    assert sent.returncode != 0  # answered "cannot understand" (0xC000)
    assert "holds no image" in caplog.text
    assert inbox_rows(runtime) == []
    inbox_folder = settings.images_dir / "inbox"
    assert not inbox_folder.exists() or list(inbox_folder.iterdir()) == []


def test_leftovers_of_an_interrupted_receive_are_put_right_and_parts_never_listed(
    receiver, runtime, client, settings, tmp_path
):
    assert storescu(receiver, write_dicom(tmp_path)).returncode == 0
    folder = settings.images_dir / "inbox"
    kept = list(folder.iterdir())
    part = folder / ".0b6c.dcm.1a2b.part"  # a crash while the file was written
    part.write_bytes(b"half a file")
    # A whole file whose row a crash lost (SQLite's last commits before a power cut).
    lost_row = folder / "9d7a2f1e-0000-4000-8000-000000000000.dcm"
    lost_row.write_bytes(dicom_bytes(patient_name="NASSER^SARA"))
    junk = folder / "5e0c8a11-0000-4000-8000-000000000000.dcm"
    junk.write_bytes(b"\0" * 128 + b"DICM" + b"not a data set")
    fresh_part = folder / ".fresh.dcm.3c4d.part"  # another PC's receive under way: kept
    fresh_part.write_bytes(b"being written")
    two_hours_ago = time.time() - 7200
    for path in (part, lost_row, junk, *kept):
        os.utime(path, (two_hours_ago, two_hours_ago))
    assert client.get("/api/inbox").get_json()["count"] == 1  # the .part files are never listed

    assert inbox.recover_leftovers(runtime.sessions, runtime.store) == (1, 2)

    assert sorted(folder.iterdir()) == sorted([*kept, lost_row, fresh_part])
    listed = client.get("/api/inbox").get_json()["items"]
    assert sorted(i["patient_name"] for i in listed) == ["HADDAD^LAYLA", "NASSER^SARA"]
    # check calls none of the Inbox's files an orphan
    with runtime.sessions() as session:
        report = check_store(session, runtime.store)
    assert report.orphans == [] and report.ok


def test_a_row_whose_file_a_crash_took_gets_it_back_when_the_unit_sends_again(
    receiver, client, settings, tmp_path
):
    path = write_dicom(tmp_path)
    assert storescu(receiver, path).returncode == 0
    item = client.get("/api/inbox").get_json()["items"][0]
    waiting = settings.images_dir / "inbox" / f"{item['id']}.dcm"
    received = waiting.read_bytes()
    waiting.unlink()  # the file had no name yet when the power went
    assert client.get(item["thumbnail_url"]).status_code == 404

    assert storescu(receiver, path).returncode == 0

    assert waiting.read_bytes() == received
    assert client.get("/api/inbox").get_json()["count"] == 1


def test_inbox_files_are_in_the_backup(receiver, runtime, client, tmp_path):
    assert storescu(receiver, write_dicom(tmp_path)).returncode == 0
    item = client.get("/api/inbox").get_json()["items"][0]
    backups = tmp_path / "backups"
    backups.mkdir()
    result = create_backup(runtime, backups)
    with zipfile.ZipFile(result.path) as archive:
        assert f"dental_images/inbox/{item['id']}.dcm" in archive.namelist()


def test_the_port_in_use_is_said_and_nothing_listens(runtime, client):
    runtime.receiver.host = "127.0.0.1"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = turn_on(client, port).get_json()
    assert status["listening"] is False
    assert f"Port {port} is in use" in status["error"]


def test_turning_it_on_needs_someone_allowed(client):
    answer = client.put(
        "/api/dicom-receiver",
        json={"enabled": True, "ae_title": "X", "port": 11112, "allowed_ae_titles": []},
    )
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == "allowed_ae_titles"


def test_off_frees_the_port_and_the_setting_starts_it_with_the_program(
    receiver, runtime, client, settings
):
    assert read_machine_config(settings.data_dir)["dicom_receiver"] == "on"
    status = client.put(
        "/api/dicom-receiver",
        json={"enabled": False, "ae_title": OUR_AE, "port": receiver, "allowed_ae_titles": []},
    ).get_json()
    assert status["listening"] is False
    assert echoscu(receiver).returncode != 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", receiver))  # free again

    turn_on(client, receiver)
    runtime.receiver.stop()  # as at the program's end
    assert echoscu(receiver).returncode != 0
    again = open_runtime(settings)
    again.receiver.host = "127.0.0.1"
    try:
        again.receiver.start_if_enabled()
        assert again.receiver.status()["listening_port"] == receiver
        assert echoscu(receiver).returncode == 0
    finally:
        again.close()
    assert echoscu(receiver).returncode != 0  # closing the runtime stopped it


def test_another_pc_listening_is_named_and_taken_over_only_when_asked(runtime, client, session):
    from backend.models import AppState
    from backend.usecases.dicom_receiver import OWNER_KEY

    session.add(AppState(key=OWNER_KEY, value="RECEPTION-PC"))
    session.commit()
    runtime.receiver.host = "127.0.0.1"
    port = free_port()
    refused = turn_on(client, port)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "receiver_elsewhere"
    assert "RECEPTION-PC" in refused.get_json()["error"]["message"]
    assert client.get("/api/dicom-receiver").get_json()["other_pc"] == "RECEPTION-PC"
    try:
        taken = turn_on(client, port, take_over=True).get_json()
        assert taken["listening"] is True and taken["other_pc"] is None
    finally:
        runtime.receiver.stop()


def test_a_pc_whose_receiver_was_taken_over_refuses_what_it_still_gets(
    receiver, runtime, client, session, tmp_path, monkeypatch
):
    from backend.models import AppState
    from backend.usecases import dicom_receiver
    from backend.usecases.dicom_receiver import OWNER_KEY

    monkeypatch.setattr(dicom_receiver, "OWNER_RECHECK_S", 0.0)  # 5 s in the program

    row = session.get(AppState, OWNER_KEY)
    row.value = "SURGERY-PC"  # turned on and taken over there
    session.commit()
    assert storescu(receiver, write_dicom(tmp_path)).returncode != 0
    assert inbox_rows(runtime) == []
    assert "SURGERY-PC" in client.get("/api/dicom-receiver").get_json()["error"]
