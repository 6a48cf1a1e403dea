"""Archives are judged by accounting, never by how well they compress: photos and x-rays of any
compressibility back up, verify and restore byte for byte; an entry whose stream goes on past
its declared size is stopped at the first byte beyond it; declared sizes that do not fit on the
disk are refused before anything is extracted."""

from __future__ import annotations

import io
import struct
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image as Picture

from backend.backup import archive_safety, staging
from backend.backup.archive_safety import (
    UnsafeArchive,
    archive_problems,
    extract_member,
    require_room,
    stream_member,
)
from backend.backup.create import create_backup
from backend.backup.errors import NotEnoughSpace
from backend.backup.restore import restore_backup
from backend.backup.service import start_backup_job
from backend.backup.verify import verify_archive
from backend.config import load_settings
from backend.runtime import Runtime
from backend.startup import open_runtime
from backend.usecases import patients
from backend.usecases.images import Upload, add_images
from backend.usecases.storage_report import human_size
from tests.backup_data import files, populate, rows, state_of, understate_entry

MIB = 1024 * 1024


def uniform(fmt: str, size: tuple[int, int], mode: str = "RGB", color: int = 0) -> bytes:
    """An image of one colour (a failed camera frame, a blank plate) made with Pillow."""
    buffer = io.BytesIO()
    Picture.new(mode, size, color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def black_frame() -> bytes:
    """A 2592x1944 all-black BMP, 15 MB: what a camera that failed to expose leaves."""
    data = uniform("BMP", (2592, 1944))
    assert len(data) > 15_000_000
    return data


@pytest.fixture(scope="module")
def flat_tiff() -> bytes:
    """A 40 MB uncompressed TIFF of one grey."""
    data = uniform("TIFF", (4096, 3414), color=128)
    assert len(data) > 40 * MIB
    return data


def upload(runtime: Runtime, name: str, data: bytes) -> str:
    """Store `data` through the upload use case; returns its path in the store (which is
    also its name in a backup)."""
    with runtime.sessions() as session:
        patient = patients.create_patient(session, {"full_name": f"Patient of {name}"})
        [result] = add_images(
            session, runtime.store, patient.id, "14", "xray", [Upload(name, data)]
        )
        assert result.error is None, result.error
        assert result.image is not None
        return result.image.relative_path


@pytest.fixture
def fresh(tmp_path) -> Iterator[Runtime]:
    """A second installation with an empty data folder, to restore into."""
    other = open_runtime(load_settings(tmp_path / "fresh"))
    yield other
    other.close()


@pytest.mark.parametrize(
    ("name", "image"), [("black frame.bmp", "black_frame"), ("flat plate.tif", "flat_tiff")]
)
def test_a_uniform_image_backs_up_verifies_and_restores_byte_for_byte(
    runtime, fresh, request, name, image
):
    data = request.getfixturevalue(image)
    populate(runtime, patients_count=1)
    stored = upload(runtime, name, data)

    result = create_backup(runtime, runtime.settings.backups_dir)

    with zipfile.ZipFile(result.path) as archive:
        info = archive.getinfo(stored)
        assert info.file_size == len(data)
        assert info.file_size > 250 * info.compress_size  # what the ratio rule used to refuse
    report = verify_archive(result.path)
    assert report.ok, report.problems
    restore_backup(fresh, result.path)
    assert fresh.store.path_of(stored).read_bytes() == data
    assert files(fresh.settings.images_dir) == files(runtime.settings.images_dir)
    assert rows(fresh) == rows(runtime)


def test_a_blank_png_and_a_black_frame_back_up_together(runtime, fresh, black_frame):
    upload(runtime, "blank.png", uniform("PNG", (3000, 2000), "L", 255))
    upload(runtime, "frame.bmp", black_frame)
    result = create_backup(runtime, runtime.settings.backups_dir)
    restore_backup(fresh, result.path)
    assert state_of(fresh) == state_of(runtime)


def finished(client, started) -> dict:
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    deadline = time.monotonic() + 120
    while job["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
        job = client.get(f"/api/jobs/{job['id']}").get_json()
    return job


def test_a_black_frame_uploaded_through_the_app_fails_no_backup(client, runtime, black_frame):
    created = client.post("/api/patients", json={"full_name": "Layla Haddad"}).get_json()
    uploaded = client.post(
        f"/api/patients/{created['id']}/teeth/14/images",
        data={"image_type": "xray", "files": [(io.BytesIO(black_frame), "frame.bmp")]},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code in (200, 201), uploaded.get_json()

    by_hand = finished(client, client.post("/api/backups", json={}))
    assert by_hand["state"] == "done", by_hand.get("error")
    scheduled = runtime.jobs.wait(start_backup_job(runtime, scheduled=True).id, timeout=120)
    assert scheduled.state == "done", scheduled.error
    assert client.get("/api/backup").get_json()["last_error"] is None
    for listed in client.get("/api/backups").get_json()["backups"]:
        assert verify_archive(Path(listed["path"])).ok


def understated_zip(path: Path, declared: int, *, crc_of_declared: bool) -> zipfile.ZipInfo:
    """A zip whose one entry declares `declared` bytes while its deflate stream holds 8 MB."""
    name = "dental_images/frame.bmp"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(name, bytes(8 * MIB))
    understate_entry(path, name, declared, crc_of_declared=crc_of_declared)
    with zipfile.ZipFile(path) as archive:
        return archive.getinfo(name)


@pytest.mark.parametrize("crc_of_declared", [True, False])
def test_a_stream_going_past_its_declared_size_stops_at_the_first_byte_beyond(
    tmp_path, monkeypatch, crc_of_declared
):
    path = tmp_path / "liar.zip"
    declared = 1000
    info = understated_zip(path, declared, crc_of_declared=crc_of_declared)
    assert info.file_size == declared
    if crc_of_declared:  # zipfile alone would hand over the first 1000 bytes without a word
        with zipfile.ZipFile(path) as archive:
            assert archive.read(info.filename) == bytes(declared)
    handed: list[bytes] = []
    read: list[int] = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):
        block = real_read(self, n)
        read.append(len(block))
        return block

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    with zipfile.ZipFile(path) as archive, pytest.raises(UnsafeArchive) as caught:
        stream_member(archive, info, handed.append)

    assert sum(read) == declared + 1
    assert sum(len(block) for block in handed) <= declared
    assert "holds more data than" in str(caught.value) and "zip bomb" in str(caught.value)
    assert "byte 1001" in str(caught.value)


class CountingFile:
    """A file opened by extract_member, counting what is written to it."""

    def __init__(self, handle) -> None:
        self.handle = handle
        self.written = 0

    def write(self, block: bytes) -> int:
        self.written += len(block)
        return self.handle.write(block)

    def __enter__(self) -> CountingFile:
        return self

    def __exit__(self, *_exc) -> None:
        self.handle.close()


def test_extracting_such_an_entry_writes_no_more_than_declared_and_leaves_nothing(
    tmp_path, monkeypatch
):
    path = tmp_path / "liar.zip"
    declared = 3 * MIB + 5
    info = understated_zip(path, declared, crc_of_declared=True)
    root = tmp_path / "out"
    root.mkdir()
    opened: list[CountingFile] = []

    def counting_open(file, mode="r"):
        opened.append(CountingFile(open(file, mode)))  # noqa: SIM115 - closed by CountingFile
        return opened[-1]

    monkeypatch.setattr(archive_safety, "open", counting_open, raising=False)
    with zipfile.ZipFile(path) as archive, pytest.raises(UnsafeArchive, match="zip bomb"):
        extract_member(archive, info, root, "frame.bmp")

    [target] = opened
    assert declared - archive_safety.CHUNK < target.written <= declared
    assert list(root.rglob("*")) == []


def test_an_entry_ending_before_its_declared_size_is_damaged(tmp_path):
    path = tmp_path / "short.zip"
    name = "dental_images/frame.bmp"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(name, bytes(1000))
    understate_entry(path, name, 5000, crc_of_declared=False)
    with zipfile.ZipFile(path) as archive, pytest.raises(UnsafeArchive) as caught:
        stream_member(archive, archive.getinfo(name), lambda _block: None)
    assert "ends after 1000 of the 5000 bytes it declares" in str(caught.value)


def test_no_compression_ratio_is_refused(tmp_path):
    path = tmp_path / "zeros.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("dental_images/a.bmp", bytes(48 * MIB))
        out.writestr("dental_images/b.tif", bytes(48 * MIB))
    with zipfile.ZipFile(path) as archive:
        assert archive_problems(archive, path.stat().st_size) == []
        for info in archive.infolist():
            assert stream_member(archive, info, lambda _block: None)[0] == 48 * MIB


def test_entries_claiming_more_compressed_data_than_the_file_holds_are_refused(tmp_path):
    path = tmp_path / "overlap.zip"
    name = "dental_images/a.bmp"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr(name, bytes(4096))
    data = bytearray(path.read_bytes())
    central = data.rindex(name.encode()) - 46
    struct.pack_into("<I", data, central + 20, 10 * MIB)
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as archive:
        [problem] = archive_problems(archive, path.stat().st_size)
    assert "10.0 MB of compressed data" in problem and "they overlap" in problem


def test_declared_sizes_that_do_not_fit_on_the_disk_are_refused_in_human_units(
    tmp_path, monkeypatch
):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for n, size in enumerate((8 * MIB, 12 * MIB, 4 * MIB)):
            out.writestr(f"dental_images/{n}.bmp", bytes(size))
    monkeypatch.setattr(archive_safety, "free_bytes", lambda _folder: 20 * MIB)
    root = tmp_path / "out"
    root.mkdir()
    with zipfile.ZipFile(path) as archive:
        with pytest.raises(NotEnoughSpace) as caught:
            require_room((info, root) for info in archive.infolist())
        require_room((info, root) for info in archive.infolist()[:2])  # 20 MB fit in 20 MB
    message = caught.value.message
    assert "needs 24.0 MB" in message and "20.0 MB is free" in message
    assert "'dental_images/1.bmp', declares 12.0 MB" in message and "3 files" in message
    assert message.endswith("Nothing was changed.")


def test_an_entry_larger_than_the_free_space_is_not_even_opened(tmp_path, monkeypatch):
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("dental_images/frame.bmp", bytes(8 * MIB))
    monkeypatch.setattr(archive_safety, "free_bytes", lambda _folder: 2 * MIB)
    root = tmp_path / "out"
    root.mkdir()
    with zipfile.ZipFile(path) as archive, pytest.raises(NotEnoughSpace, match=r"8\.0 MB"):
        extract_member(archive, archive.getinfo("dental_images/frame.bmp"), root, "frame.bmp")
    assert list(root.rglob("*")) == []


def test_a_restore_whose_declared_total_does_not_fit_extracts_nothing(
    runtime, fresh, monkeypatch, black_frame
):
    upload(runtime, "frame.bmp", black_frame)
    made = create_backup(runtime, runtime.settings.backups_dir)
    archive, manifest = made.path, made.manifest
    before = state_of(fresh)
    extracted: list[str] = []
    real_extract = staging.extract_member

    def spying_extract(archive, info, *args, **kwargs):
        extracted.append(info.filename)
        return real_extract(archive, info, *args, **kwargs)

    monkeypatch.setattr(staging, "extract_member", spying_extract)
    # Room for the checks and the safety backup, not for unpacking the 15 MB frame.
    monkeypatch.setattr(archive_safety, "free_bytes", lambda _folder: 10 * MIB)

    with pytest.raises(NotEnoughSpace) as caught:
        restore_backup(fresh, archive)

    unpacked = sum(entry.size for entry in manifest.entries.values())
    assert f"needs {human_size(unpacked)}" in caught.value.message
    assert "'dental_images/" in caught.value.message and "declares 14.4 MB" in caught.value.message
    assert "10.0 MB is free" in caught.value.message
    assert extracted == []
    assert state_of(fresh) == before
    assert not [p for p in fresh.settings.data_dir.iterdir() if p.name.startswith(".restore")]
    assert not [
        p for p in fresh.settings.image_store_root.iterdir() if p.name.startswith(".restore")
    ]


def test_verifying_says_when_there_is_no_room_to_check_the_database(runtime, monkeypatch):
    populate(runtime, patients_count=1)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    monkeypatch.setattr(archive_safety, "free_bytes", lambda _folder: 1000)
    report = verify_archive(archive)
    assert not report.ok
    [problem] = report.problems
    assert problem.startswith("The database inside cannot be checked. Unpacking it needs")
    assert "1000 bytes is free" in problem


def test_a_directory_naming_a_zip_version_no_reader_has_is_a_damaged_backup(runtime):
    """A flipped byte can make an entry ask for zip version 14.8: the zip reader then raises
    NotImplementedError, which must read as a damaged archive, never as a crash."""
    from backend.backup import kinds
    from backend.backup.errors import BackupInvalid

    populate(runtime, patients_count=1)
    archive = create_backup(runtime, runtime.settings.backups_dir).path
    data = bytearray(archive.read_bytes())
    entry = data.index(b"PK\x01\x02")  # the first central directory entry
    struct.pack_into("<H", data, entry + 6, 148)  # version needed to extract
    archive.write_bytes(bytes(data))
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(archive)
    assert kinds.detect_kind(archive) == kinds.BROKEN_ZIP
    report = verify_archive(archive)
    assert not report.ok and report.problems
    before = state_of(runtime)
    with pytest.raises(BackupInvalid):
        restore_backup(runtime, archive)
    assert state_of(runtime) == before
