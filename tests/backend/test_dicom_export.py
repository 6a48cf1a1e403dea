"""DICOM out with a real peer: a private Orthanc on loopback receives what the program sends
(C-STORE), and its REST API shows what it stored; the folder export is read back with pydicom;
the refusals (no node there, association rejected, a store refused) are said, and nothing is
claimed sent. Runs on SQLite and PostgreSQL (tests/backend/conftest.py)."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from backend import imaging
from backend.dicom import export
from backend.dicom.receiver import OUT_OF_RESOURCES, ServerConfig, StorageServer
from backend.models import Image as ImageRow
from backend.usecases import dicom_export, images
from tests.dicom_data import dcmtk_convert, dcmtk_missing, dicom_bytes

ORTHANC_AE = "ORTHANCTEST"
OUR_AE = "DENTALTEST"
TAKEN = "2024-05-17"


def orthanc_binary() -> str | None:
    if sys.platform == "win32":
        return None  # the Linux suite sends to Debian's Orthanc; Wine would run it with C:\ paths
    return shutil.which("Orthanc") or next(
        (p for p in ("/usr/sbin/Orthanc", "/usr/bin/Orthanc") if Path(p).is_file()), None
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Orthanc:
    """A private Orthanc: its own storage, ports and AE title; REST on loopback."""

    def __init__(self, folder: Path) -> None:
        self.dicom_port, self.http_port = free_port(), free_port()
        config = {
            "Name": "dental-images-test",
            "DicomAet": ORTHANC_AE,
            "DicomPort": self.dicom_port,
            "HttpPort": self.http_port,
            "StorageDirectory": str(folder / "storage"),
            "IndexDirectory": str(folder / "storage"),
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "DicomCheckCalledAet": True,  # a wrong called AE title is rejected
            "DicomAlwaysAllowStore": True,  # any calling AE title may store
            "Plugins": [],
            "SaveJobs": False,
            "HttpThreadsCount": 4,
        }
        self.config = folder / "orthanc.json"
        self.config.write_text(json.dumps(config), encoding="utf-8")
        self.log = (folder / "orthanc.log").open("wb")
        binary = orthanc_binary()
        assert binary is not None
        self.process = subprocess.Popen(
            [binary, str(self.config)], stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/system")
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"Orthanc did not start: see {folder / 'orthanc.log'}"
                    ) from None
                time.sleep(0.2)

    def raw(self, path: str) -> bytes:
        url = f"http://127.0.0.1:{self.http_port}{path}"
        with urllib.request.urlopen(url, timeout=30) as answer:
            return bytes(answer.read())

    def get(self, path: str):
        return json.loads(self.raw(path))

    def instances_of(self, patient_id: str) -> list[dict]:
        """The simplified tags of every instance Orthanc holds for `patient_id`."""
        found = []
        for instance in self.get("/instances"):
            tags = self.get(f"/instances/{instance}/tags?simplify")
            if tags.get("PatientID") == patient_id:
                found.append({"id": instance, **tags})
        return found

    def file(self, instance: str) -> pydicom.Dataset:
        return pydicom.dcmread(io.BytesIO(self.raw(f"/instances/{instance}/file")))

    def clear(self) -> None:
        """Forget every instance stored (the tests share one Orthanc)."""
        for patient in self.get("/patients"):
            url = f"http://127.0.0.1:{self.http_port}/patients/{patient}"
            request = urllib.request.Request(url, method="DELETE")
            with urllib.request.urlopen(request, timeout=30):
                pass

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.fixture(scope="module")
def orthanc_server(tmp_path_factory):
    if orthanc_binary() is None:
        pytest.skip("Orthanc is not installed (Debian package orthanc; scripts/system-packages.sh)")
    server = Orthanc(tmp_path_factory.mktemp("orthanc"))
    yield server
    server.stop()


@pytest.fixture
def orthanc(orthanc_server):
    """The module's Orthanc, holding nothing."""
    orthanc_server.clear()
    return orthanc_server


def photo_pixels() -> np.ndarray:
    """An RGB picture whose every pixel tells where it is."""
    rows, columns = 48, 64
    y, x = np.mgrid[0:rows, 0:columns]
    return np.stack([x * 4, y * 5, (x + y) % 256], axis=-1).astype(np.uint8)


def png_of(pixels: np.ndarray, mode: str | None = None) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels, mode).save(out, format="PNG")
    return out.getvalue()


def add(session, store, patient, tooth, image_type, name, data, **form) -> str:
    [result] = images.add_images(
        session, store, patient.id, tooth, image_type, [images.Upload(name, data)], **form
    )
    assert result.image is not None, result.error and result.error.message
    return result.image.id


@pytest.fixture
def two_images(session, store, patient):
    """A DICOM x-ray of tooth 8 and a PNG photo of tooth 3, with their stored bytes."""
    original = dicom_bytes(PatientName="HADDAD^LAYLA", patient_id="UNIT-7")
    xray = add(session, store, patient, "8", "xray", "sensor.dcm", original)
    png = png_of(photo_pixels())
    photo = add(session, store, patient, "3", "clinical", "smile.png", png, taken_date=TAKEN)
    return {"xray": xray, "photo": photo, "original": original}


def set_node(client, port: int, **changes):
    body = {
        "name": "Clinic PACS",
        "ae_title": ORTHANC_AE,
        "host": "127.0.0.1",
        "port": port,
        "calling_ae_title": OUR_AE,
        **changes,
    }
    answer = client.put("/api/dicom-node", json=body)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def run_export(client, runtime, patient, image_ids, **body):
    answer = client.post(
        f"/api/patients/{patient.id}/dicom-export", json={"image_ids": image_ids, **body}
    )
    assert answer.status_code == 202, answer.get_json()
    job = runtime.jobs.wait(answer.get_json()["job"]["id"], timeout=120)
    return job


def test_both_kinds_reach_orthanc_as_the_patient_with_their_pixels(
    client, runtime, patient, two_images, orthanc
):
    set_node(client, orthanc.dicom_port)
    job = run_export(client, runtime, patient, [two_images["xray"], two_images["photo"]], to="node")

    assert job.state == "done", job.error
    assert job.result["done"] == 2 and job.result["failed"] == 0, job.result
    assert all(item["ok"] for item in job.result["items"])
    stored = {tags["SOPClassUID"]: tags for tags in orthanc.instances_of(patient.serial_number)}
    original = pydicom.dcmread(io.BytesIO(two_images["original"]))
    # The photo: a Secondary Capture of this patient, new UIDs, its pixels as they are.
    sc = stored.pop(export.SECONDARY_CAPTURE)
    assert sc["PatientName"] == "Layla Haddad" and sc["PatientID"] == patient.serial_number
    assert sc["Modality"] == "XC" and sc["StudyDate"] == TAKEN.replace("-", "")
    assert "Tooth 16 (FDI), 3 (Universal)" in sc["SeriesDescription"]
    assert "Clinical" in sc["ImageComments"]
    assert {sc["StudyInstanceUID"], sc["SeriesInstanceUID"], sc["SOPInstanceUID"]}.isdisjoint(
        {original.StudyInstanceUID, original.SeriesInstanceUID, original.SOPInstanceUID}
    )
    photo = orthanc.file(sc["id"])
    assert photo.PhotometricInterpretation == "RGB"
    assert np.array_equal(photo.pixel_array, photo_pixels())
    # The x-ray: the original data set as the unit wrote it, pixel data byte for byte. Orthanc
    # files it by the Patient ID in the file ("UNIT-7"), not ours.
    assert stored == {}
    [xray] = orthanc.instances_of("UNIT-7")
    received = orthanc.file(xray["id"])
    assert received.SOPInstanceUID == original.SOPInstanceUID
    assert received.PixelData == original.PixelData
    assert [e.tag for e in received] == [e.tag for e in original]
    assert all(received[e.tag].value == e.value for e in original)


@pytest.mark.skipif(dcmtk_missing() is not None, reason=str(dcmtk_missing()))
def test_a_compressed_and_an_uncompressed_x_ray_reach_the_node_in_one_export(
    client, runtime, session, store, patient, orthanc, tmp_path
):
    """The node accepts one transfer syntax per presentation context: each encoding gets its
    own, so the compressed file is not turned away for the uncompressed one's syntax."""
    plain = dicom_bytes(patient_id="UNIT-7")
    rle = dcmtk_convert("dcmcrle", dicom_bytes(patient_id="UNIT-7"), tmp_path)
    assert pydicom.dcmread(io.BytesIO(rle)).file_meta.TransferSyntaxUID.is_compressed
    ids = [
        add(session, store, patient, "8", "xray", "plain.dcm", plain),
        add(session, store, patient, "9", "xray", "rle.dcm", rle),
    ]
    set_node(client, orthanc.dicom_port)

    job = run_export(client, runtime, patient, ids, to="node")

    assert job.state == "done", job.error
    assert job.result["done"] == 2, job.result
    assert len(orthanc.instances_of("UNIT-7")) == 2


def test_no_database_session_stays_open_while_the_node_answers(
    client, runtime, patient, two_images, orthanc, monkeypatch
):
    """A slow PACS must not keep a transaction of the clinic's database open: each file is
    made in a short session of its own, none is open while a C-STORE is on the wire."""
    from contextlib import contextmanager

    from backend.dicom import sending

    open_sessions, seen = [0], []
    real_scope, real_send = dicom_export.session_scope, sending.send

    @contextmanager
    def counted_scope(factory):
        with real_scope(factory) as session:
            open_sessions[0] += 1
            try:
                yield session
            finally:
                open_sessions[0] -= 1

    def watched_send(node, items, on_each):
        seen.append(("association", open_sessions[0]))

        def heard(sent):
            seen.append((sent.key, open_sessions[0]))
            on_each(sent)

        return real_send(node, items, heard)

    monkeypatch.setattr(dicom_export, "session_scope", counted_scope)
    monkeypatch.setattr(sending, "send", watched_send)
    set_node(client, orthanc.dicom_port)
    job = run_export(client, runtime, patient, [two_images["xray"], two_images["photo"]], to="node")

    assert job.state == "done", job.error
    assert job.result["done"] == 2, job.result
    assert seen == [("association", 0), (two_images["xray"], 0), (two_images["photo"], 0)]


def test_an_image_that_fails_unexpectedly_is_reported_and_the_others_go(
    client, runtime, patient, two_images, tmp_path, monkeypatch
):
    real = dicom_export._dataset_of

    def failing(session, store, image, *rest):
        if image.id == two_images["photo"]:
            raise MemoryError("out of memory")
        return real(session, store, image, *rest)

    monkeypatch.setattr(dicom_export, "_dataset_of", failing)
    job = run_export(
        client,
        runtime,
        patient,
        [two_images["photo"], two_images["xray"]],
        to="folder",
        folder=str(tmp_path),
    )

    assert job.state == "done", job.error
    by_id = {item["image_id"]: item for item in job.result["items"]}
    assert by_id[two_images["xray"]]["ok"] is True
    assert by_id[two_images["photo"]]["ok"] is False
    assert "out of memory" in by_id[two_images["photo"]]["error"]
    assert len(list(tmp_path.glob("*.dcm"))) == 1


def test_the_folder_export_writes_readable_files_and_never_overwrites(
    client, runtime, patient, two_images, tmp_path, settings
):
    folder = tmp_path / "for the referral"
    folder.mkdir()
    ids = [two_images["xray"], two_images["photo"]]

    job = run_export(client, runtime, patient, ids, to="folder", folder=str(folder))

    assert job.state == "done", job.error
    assert job.result["done"] == 2 and job.result["destination"] == str(folder)
    files = {item["image_id"]: folder / item["file"] for item in job.result["items"]}
    assert files[two_images["xray"]].read_bytes() == two_images["original"]
    photo = pydicom.dcmread(files[two_images["photo"]])
    assert np.array_equal(photo.pixel_array, photo_pixels())
    assert photo.SOPClassUID == export.SECONDARY_CAPTURE
    assert photo.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert str(photo.PatientName) == "Layla Haddad"
    assert files[two_images["photo"]].name == f"{patient.serial_number}_tooth-16_20240517.dcm"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left

    again = run_export(client, runtime, patient, ids, to="folder", folder=str(folder))
    assert again.result["done"] == 2
    assert len(list(folder.iterdir())) == 4  # new names; the first files are as they were
    assert files[two_images["xray"]].read_bytes() == two_images["original"]
    second = pydicom.dcmread(folder / again.result["items"][1]["file"])
    assert second.StudyInstanceUID != photo.StudyInstanceUID  # each export its own study


def test_a_damaged_file_is_not_exported_and_the_others_are(
    client, runtime, patient, two_images, tmp_path, session
):
    photo = session.get(ImageRow, two_images["photo"])
    stored = runtime.settings.data_dir / photo.relative_path
    stored.write_bytes(stored.read_bytes()[:-10] + b"0123456789")  # changed on the disk
    folder = tmp_path / "out"
    folder.mkdir()

    ids = [two_images["photo"], two_images["xray"]]
    job = run_export(client, runtime, patient, ids, to="folder", folder=str(folder))

    assert job.result["done"] == 1 and job.result["failed"] == 1
    refused, written = job.result["items"]
    assert not refused["ok"] and "not the one that was stored" in refused["error"]
    assert [p.name for p in folder.iterdir()] == [written["file"]]


def test_an_unreachable_node_fails_the_export_with_nothing_claimed(
    client, runtime, patient, two_images
):
    set_node(client, free_port())  # nothing listens there

    job = run_export(client, runtime, patient, [two_images["photo"]], to="node")

    assert job.state == "failed" and job.result is None
    assert job.error["code"] == "dicom_node_unreachable"
    assert "nothing listens on port" in job.error["message"]


def test_a_wrong_called_ae_title_is_rejected_with_the_peers_reason(
    client, runtime, patient, two_images, orthanc
):
    set_node(client, orthanc.dicom_port, ae_title="NOTORTHANC")

    job = run_export(client, runtime, patient, [two_images["photo"]], to="node")

    assert job.state == "failed" and job.error["code"] == "dicom_association_rejected"
    # (pynetdicom sometimes sees the connection closed before it reads the reason)
    message = job.error["message"]
    assert "Called AE title not recognised" in message or "without a reason" in message
    assert OUR_AE in job.error["message"]


def test_a_store_the_peer_refuses_is_reported_with_its_status(client, runtime, patient, two_images):
    refusing = StorageServer(
        ServerConfig(ae_title="FULLPACS", port=0, host="127.0.0.1"),
        lambda _data, _ae, _address: OUT_OF_RESOURCES,
    )
    refusing.start()
    try:
        set_node(client, refusing.port, ae_title="FULLPACS")
        job = run_export(client, runtime, patient, [two_images["photo"]], to="node")
    finally:
        refusing.stop()

    assert job.state == "done"
    assert job.result["done"] == 0 and job.result["failed"] == 1
    [item] = job.result["items"]
    assert not item["ok"] and "0xA700" in item["error"] and "Out of resources" in item["error"]


def test_the_connection_test_answers(client, orthanc):
    set_node(client, orthanc.dicom_port)
    answer = client.post("/api/dicom-node/test", json={})
    assert answer.status_code == 200 and answer.get_json()["ok"] is True
    refused = client.post(
        "/api/dicom-node/test",
        json={"ae_title": "X", "host": "127.0.0.1", "port": free_port()},
    )
    assert refused.status_code == 502
    assert refused.get_json()["error"]["code"] == "dicom_node_unreachable"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ae_title": "A" * 17}, "ae_title"),
        ({"ae_title": "BAD\\AE"}, "ae_title"),
        ({"ae_title": "TAB\tAE"}, "ae_title"),
        ({"calling_ae_title": "É"}, "calling_ae_title"),
        ({"port": 0}, "port"),
        ({"port": 65536}, "port"),
        ({"port": "eleven"}, "port"),
        ({"host": "two words"}, "host"),
    ],
)
def test_bad_node_settings_are_refused_and_change_nothing(client, change, field):
    body = {"ae_title": "PACS", "host": "192.0.2.10", "port": 104, **change}
    answer = client.put("/api/dicom-node", json=body)
    assert answer.status_code == 400
    assert answer.get_json()["error"]["field"] == field
    assert client.get("/api/dicom-node").get_json()["configured"] is False


def test_the_node_is_kept_for_the_clinic_and_removed_when_emptied(client, session):
    kept = set_node(client, 11112)
    assert kept == {
        "configured": True,
        "name": "Clinic PACS",
        "ae_title": ORTHANC_AE,
        "host": "127.0.0.1",
        "port": 11112,
        "calling_ae_title": OUR_AE,
    }
    assert client.get("/api/dicom-node").get_json() == kept
    assert dicom_export.get_node(session) is not None
    emptied = client.put("/api/dicom-node", json={"ae_title": "", "host": "", "port": ""})
    assert emptied.get_json()["configured"] is False


def test_an_export_request_is_checked_before_anything_starts(
    client, runtime, patient, two_images, session, tmp_path
):
    url = f"/api/patients/{patient.id}/dicom-export"
    out = tmp_path / "out"
    out.mkdir()
    other = client.post("/api/patients", json={"full_name": "Omar Said"}).get_json()

    def refused(body, field):
        answer = client.post(url, json=body)
        assert answer.status_code == 400, answer.get_json()
        assert answer.get_json()["error"]["field"] == field

    photo = two_images["photo"]
    refused({"image_ids": [], "to": "folder", "folder": str(out)}, "image_ids")
    refused({"image_ids": ["nope"], "to": "folder", "folder": str(out)}, "image_ids")
    refused({"image_ids": [photo], "to": "node"}, "to")  # no node set
    refused({"image_ids": [photo], "to": "mars"}, "to")
    refused({"image_ids": [photo], "to": "folder", "folder": "relative/path"}, "folder")
    refused({"image_ids": [photo], "to": "folder", "folder": str(out / "gone")}, "folder")
    settings = runtime.settings
    for own in (settings.data_dir, settings.images_dir, settings.backups_dir):
        own.mkdir(parents=True, exist_ok=True)  # the program's own folders: never an export's
        refused({"image_ids": [photo], "to": "folder", "folder": str(own)}, "folder")
    many = [photo] * 3 + [f"id-{n}" for n in range(dicom_export.MAX_IMAGES)]
    refused({"image_ids": many, "to": "folder", "folder": str(out)}, "image_ids")
    answer = client.post(
        f"/api/patients/{other['id']}/dicom-export",
        json={"image_ids": [photo], "to": "folder", "folder": str(out)},
    )
    assert answer.status_code == 400  # another patient's image
    assert list(out.iterdir()) == []


def test_a_build_without_dicom_support_says_so(client, patient, two_images, tmp_path, monkeypatch):
    def missing():
        raise imaging.InvalidImage("no numpy")

    monkeypatch.setattr(dicom_export.dicom, "modules", missing)
    answer = client.post(
        f"/api/patients/{patient.id}/dicom-export",
        json={"image_ids": [two_images["photo"]], "to": "folder", "folder": str(tmp_path)},
    )
    assert answer.status_code == 501
    assert "no DICOM support" in answer.get_json()["error"]["message"]


def test_every_export_address_needs_the_token(anonymous_client, patient):
    for method, path in [
        ("GET", "/api/dicom-node"),
        ("PUT", "/api/dicom-node"),
        ("POST", "/api/dicom-node/test"),
        ("POST", f"/api/patients/{patient.id}/dicom-export"),
    ]:
        assert anonymous_client.open(path, method=method, json={}).status_code == 403


def capture_facts() -> export.CaptureFacts:
    return export.CaptureFacts(
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        instance_number=1,
        series_number=1,
        taken=date(2024, 1, 2),
        modality="XC",
        series_description="Tooth",
        image_comments="a\\b",
    )


def test_grey_and_transparent_photos_and_names_become_valid_dicom():
    patient = export.PatientFacts(name="ليلى ^حداد\\x", patient_id="7", sex="F")
    now = datetime(2024, 1, 2, 3, 4, 5)
    deep = np.arange(48 * 64, dtype=np.uint16).reshape(48, 64) * 20
    grey = export.secondary_capture(Image.fromarray(deep), patient, capture_facts(), now=now)
    read = pydicom.dcmread(io.BytesIO(export.part10_bytes(grey)))
    assert read.PhotometricInterpretation == "MONOCHROME2" and read.BitsStored == 16
    assert np.array_equal(read.pixel_array, deep)
    assert str(read.PatientName) == "ليلى حداد x" and read.ImageComments == "a b"
    clear = Image.new("RGBA", (3, 3), (10, 20, 30, 0))  # odd length: padded to an even one
    flat = export.secondary_capture(clear, patient, capture_facts(), now=now)
    read = pydicom.dcmread(io.BytesIO(export.part10_bytes(flat)))
    assert np.array_equal(read.pixel_array, np.full((3, 3, 3), 255, dtype=np.uint8))


def test_a_photo_is_turned_upright_as_the_page_shows_it():
    picture = Image.new("RGB", (4, 2), (0, 0, 0))
    exif = picture.getexif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif)
    assert export.upright(Image.open(io.BytesIO(out.getvalue()))).size == (2, 4)
