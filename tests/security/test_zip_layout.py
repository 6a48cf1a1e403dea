"""A zip whose parts disagree is refused by verify: bytes put in front of the archive, and an
entry whose data descriptor (or local header) gives another CRC-32 than the central directory,
which zipfile alone ignores (it trusts the directory) while other unzip tools trust the rest."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from backend.backup.create import create_backup
from backend.backup.verify import verify_archive
from tests.backup_data import populate
from tests.reliability.test_hostile_archives import assert_refused_and_nothing_changed

PREFIXED = "bytes before its zip archive begins"
DISAGREES = "gives another checksum or size in its own header than in the archive's directory"


class _Unseekable(io.RawIOBase):
    """A file zipfile cannot seek in: it then writes a data descriptor after every entry."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self.handle.write(data)


@pytest.fixture
def good(runtime) -> Path:
    populate(runtime, patients_count=1, images_each=2)
    return create_backup(runtime, runtime.settings.backups_dir).path


def with_descriptors(good: Path, target: Path) -> Path:
    with (
        zipfile.ZipFile(good) as source,
        open(target, "wb") as raw,
        zipfile.ZipFile(_Unseekable(raw), "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for info in source.infolist():
            with out.open(info.filename, "w") as entry:
                entry.write(source.read(info))
    return target


def image_entry(archive: Path) -> zipfile.ZipInfo:
    with zipfile.ZipFile(archive) as opened:
        return next(i for i in opened.infolist() if i.filename.startswith("dental_images/"))


def test_a_backup_written_with_data_descriptors_still_verifies(good, tmp_path):
    archive = with_descriptors(good, tmp_path / "descriptors.zip")
    assert image_entry(archive).flag_bits & 0x08
    report = verify_archive(archive)
    assert report.ok, report.problems


def test_a_data_descriptor_crc_that_differs_from_the_directory_is_refused(runtime, good, tmp_path):
    archive = with_descriptors(good, tmp_path / "descriptor-crc.zip")
    info = image_entry(archive)
    data = bytearray(archive.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    descriptor = info.header_offset + 30 + name_length + extra_length + info.compress_size
    assert data[descriptor : descriptor + 4] == b"PK\x07\x08"
    struct.pack_into("<I", data, descriptor + 4, info.CRC ^ 0xDEADBEEF)
    archive.write_bytes(bytes(data))
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None  # zipfile alone sees nothing wrong

    report = verify_archive(archive)

    assert not report.ok and any(DISAGREES in p and info.filename in p for p in report.problems)
    assert_refused_and_nothing_changed(runtime, archive, DISAGREES)


def test_a_local_header_crc_that_differs_from_the_directory_is_refused(runtime, good, tmp_path):
    archive = tmp_path / "local-crc.zip"
    info = image_entry(good)
    data = bytearray(good.read_bytes())
    struct.pack_into("<I", data, info.header_offset + 14, info.CRC ^ 1)
    archive.write_bytes(bytes(data))
    assert_refused_and_nothing_changed(runtime, archive, DISAGREES)


@pytest.mark.parametrize(
    "junk", [b"PK\x03\x04 not an entry" + bytes(64), b"MZ" + bytes(510), b"#!/bin/sh\nexit 0\n"]
)
def test_junk_before_the_zip_is_refused(runtime, good, tmp_path, junk):
    archive = tmp_path / "prefixed.zip"
    archive.write_bytes(junk + good.read_bytes())
    with zipfile.ZipFile(archive) as opened:
        assert opened.testzip() is None  # zipfile reads past the prefix

    report = verify_archive(archive)

    assert not report.ok
    assert any(f"{len(junk)} {PREFIXED}" in p for p in report.problems), report.problems
    assert_refused_and_nothing_changed(runtime, archive, PREFIXED)
