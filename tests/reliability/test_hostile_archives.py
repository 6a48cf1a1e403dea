"""Hostile and damaged archives: each is refused with a sentence saying what is wrong, before
anything is written, and the data stays exactly as it was."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from backend.backup import archive_safety, journal, restore
from backend.backup.create import create_backup
from backend.backup.errors import BackupInvalid, NotEnoughSpace
from backend.backup.manifest import FORMAT_VERSION
from backend.backup.restore import preview_restore, restore_backup
from backend.backup.verify import verify_archive
from tests.backup_data import populate, state_of, understate_entry


@pytest.fixture
def good_archive(runtime) -> Path:
    populate(runtime, patients_count=2, images_each=2)
    return create_backup(runtime, runtime.settings.backups_dir).path


def rebuild(
    good: Path,
    target: Path,
    extra: list[tuple[zipfile.ZipInfo, bytes]],
    *,
    listed: bool = True,
    listed_as: dict[str, bytes] | None = None,
) -> Path:
    """`good` with `extra` entries added; the manifest lists them with their true size and
    checksum (so that only the hostile property itself can give them away), or with those of
    the bytes `listed_as` gives for their name."""
    with zipfile.ZipFile(good) as source:
        manifest = json.loads(source.read("manifest.json"))
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in source.infolist():
                if info.filename != "manifest.json":
                    out.writestr(info, source.read(info))
            for info, data in extra:
                out.writestr(info, data)
                if listed:
                    shown = (listed_as or {}).get(info.filename, data)
                    manifest["entries"][info.filename] = {
                        "size": len(shown),
                        "sha256": hashlib.sha256(shown).hexdigest(),
                    }
            out.writestr("manifest.json", json.dumps(manifest))
    return target


def entry(name: str, mode: int = stat.S_IFREG | 0o644) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def assert_refused_and_nothing_changed(runtime, archive: Path, expected: str) -> None:
    before = state_of(runtime)
    backups_before = sorted(p.name for p in runtime.settings.backups_dir.iterdir())
    with pytest.raises(BackupInvalid) as caught:
        restore_backup(runtime, archive)
    assert expected in caught.value.message, caught.value.message
    assert "Nothing was changed" in caught.value.message
    assert state_of(runtime) == before
    assert sorted(p.name for p in runtime.settings.backups_dir.iterdir()) == backups_before
    assert journal.load_journal(runtime.settings) is None
    assert not [p for p in runtime.settings.data_dir.iterdir() if p.name.startswith(".restore")]
    with pytest.raises(BackupInvalid) as previewed:
        preview_restore(runtime, archive)
    assert expected in previewed.value.message, previewed.value.message
    report = verify_archive(archive)
    assert not report.ok
    assert any(expected in problem for problem in report.problems), report.problems


def test_zip_slip_is_refused(runtime, good_archive, tmp_path):
    archive = rebuild(
        good_archive, tmp_path / "slip.zip", [(entry("dental_images/../../evil.txt"), b"x")]
    )
    assert_refused_and_nothing_changed(runtime, archive, "points outside the archive's folder")
    assert not list(tmp_path.rglob("evil.txt"))


def test_windows_style_zip_slip_is_refused(runtime, good_archive, tmp_path):
    archive = rebuild(
        good_archive, tmp_path / "slip.zip", [(entry("dental_images\\..\\..\\evil.txt"), b"x")]
    )
    assert_refused_and_nothing_changed(runtime, archive, "points outside the archive's folder")


@pytest.mark.parametrize("name", ["/tmp/evil.txt", "C:/Windows/evil.txt", "\\\\server\\share\\x"])
def test_absolute_paths_are_refused(runtime, good_archive, tmp_path, name):
    archive = rebuild(good_archive, tmp_path / "absolute.zip", [(entry(name), b"x")])
    assert_refused_and_nothing_changed(runtime, archive, "has an absolute path")


def test_symlink_entries_are_refused(runtime, good_archive, tmp_path):
    link = entry("dental_images/link.png", stat.S_IFLNK | 0o777)
    archive = rebuild(good_archive, tmp_path / "link.zip", [(link, b"/etc/passwd")])
    assert_refused_and_nothing_changed(runtime, archive, "is a symbolic link")


def test_device_entries_are_refused(runtime, good_archive, tmp_path):
    device = entry("dental_images/dev", stat.S_IFCHR | 0o644)
    archive = rebuild(good_archive, tmp_path / "device.zip", [(device, b"")])
    assert_refused_and_nothing_changed(runtime, archive, "is a device, pipe or socket")


def test_a_zip_bomb_that_hides_its_size_is_stopped_at_its_declared_end(
    runtime, good_archive, tmp_path
):
    # Headers, CRC-32 and manifest all describe the first 4 KB; the deflate stream holds 48 MB.
    zeros = bytes(48 * 1024 * 1024)
    name = "dental_images/bomb.bmp"
    archive = rebuild(
        good_archive,
        tmp_path / "bomb.zip",
        [(entry(name), zeros)],
        listed_as={name: zeros[:4096]},
    )
    understate_entry(archive, name, 4096)
    assert_refused_and_nothing_changed(runtime, archive, "that is a zip bomb")


def test_a_zip_bomb_that_declares_its_size_finds_no_room_before_anything_is_written(
    runtime, good_archive, tmp_path, monkeypatch
):
    zeros = bytes(48 * 1024 * 1024)
    archive = rebuild(
        good_archive, tmp_path / "bomb.zip", [(entry("dental_images/bomb.bmp"), zeros)]
    )
    monkeypatch.setattr(restore, "free_bytes", lambda _folder: 16 * 1024 * 1024)
    monkeypatch.setattr(archive_safety, "free_bytes", lambda _folder: 16 * 1024 * 1024)
    before = state_of(runtime)
    backups_before = sorted(p.name for p in runtime.settings.backups_dir.iterdir())
    with pytest.raises(NotEnoughSpace) as caught:
        restore_backup(runtime, archive)
    # the 48 MB the archive declares, plus the little the live data's safety backup needs
    needed = re.search(r"needs about ([0-9.]+) MB", caught.value.message)
    assert needed and 48.0 <= float(needed.group(1)) < 50.0, caught.value.message
    assert "16.0 MB is free" in caught.value.message
    assert "Nothing was changed" in caught.value.message
    assert state_of(runtime) == before
    assert sorted(p.name for p in runtime.settings.backups_dir.iterdir()) == backups_before
    assert journal.load_journal(runtime.settings) is None
    assert not [p for p in runtime.settings.data_dir.iterdir() if p.name.startswith(".restore")]


def test_an_entry_holding_more_than_it_declares_is_refused(runtime, good_archive, tmp_path):
    archive = rebuild(
        good_archive, tmp_path / "liar.zip", [(entry("dental_images/a.bmp"), bytes(5000))]
    )
    data = bytearray(archive.read_bytes())
    # Shrink the declared size of the added entry in its central directory record.
    name = b"dental_images/a.bmp"
    record = data.rindex(name) - 46
    assert data[record : record + 4] == b"PK\x01\x02"
    struct.pack_into("<I", data, record + 24, 100)
    archive.write_bytes(bytes(data))
    assert_refused_and_nothing_changed(runtime, archive, "dental_images/a.bmp")


def test_a_manifest_checksum_mismatch_is_refused(runtime, good_archive, tmp_path):
    target = tmp_path / "mismatch.zip"
    with zipfile.ZipFile(good_archive) as source, zipfile.ZipFile(target, "w") as out:
        manifest = json.loads(source.read("manifest.json"))
        image = next(n for n in manifest["entries"] if n.startswith("dental_images/"))
        manifest["entries"][image]["sha256"] = "0" * 64
        for info in source.infolist():
            if info.filename != "manifest.json":
                out.writestr(info, source.read(info))
        out.writestr("manifest.json", json.dumps(manifest))
    assert_refused_and_nothing_changed(runtime, target, "does not match its checksum")


def test_a_flipped_byte_inside_an_image_is_refused(runtime, good_archive, tmp_path):
    target = tmp_path / "flipped.zip"
    with zipfile.ZipFile(good_archive) as source, zipfile.ZipFile(target, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".png"):
                data = data[:-20] + bytes([data[-20] ^ 0xFF]) + data[-19:]
            out.writestr(info, data)
    assert_refused_and_nothing_changed(runtime, target, "does not match its checksum")


def test_a_truncated_archive_is_refused(runtime, good_archive, tmp_path):
    target = tmp_path / "cut.zip"
    data = good_archive.read_bytes()
    target.write_bytes(data[: len(data) // 2])
    assert_refused_and_nothing_changed(runtime, target, "not a complete zip archive")


def test_an_entry_the_manifest_does_not_list_is_refused(runtime, good_archive, tmp_path):
    archive = rebuild(
        good_archive, tmp_path / "extra.zip", [(entry("dental_images/x.png"), b"png")], listed=False
    )
    assert_refused_and_nothing_changed(runtime, archive, "which its manifest does not list")


def test_duplicate_entries_are_refused(runtime, good_archive, tmp_path):
    archive = rebuild(
        good_archive,
        tmp_path / "twice.zip",
        [(entry("dental_images/a.png"), b"one"), (entry("dental_images/A.PNG"), b"two")],
    )
    assert_refused_and_nothing_changed(runtime, archive, "appears twice")


def test_an_archive_from_a_newer_program_is_refused(runtime, good_archive, tmp_path):
    target = tmp_path / "newer.zip"
    with zipfile.ZipFile(good_archive) as source, zipfile.ZipFile(target, "w") as out:
        manifest = json.loads(source.read("manifest.json"))
        manifest["format_version"] = FORMAT_VERSION + 1
        manifest["app_version"] = "99.0.0"
        for info in source.infolist():
            if info.filename != "manifest.json":
                out.writestr(info, source.read(info))
        out.writestr("manifest.json", json.dumps(manifest))
    assert_refused_and_nothing_changed(
        runtime, target, "made by a newer version of the program (99.0.0)"
    )


def test_random_bytes_named_like_a_backup_are_refused(runtime, tmp_path):
    target = tmp_path / "random.zip"
    # A leading zero byte, so that it never starts like a zip, a SQLite file or JSON by chance.
    target.write_bytes(b"\x00" + os.urandom(4095))
    assert_refused_and_nothing_changed(runtime, target, "it is not a zip archive")


def test_an_empty_file_named_like_a_backup_is_refused(runtime, tmp_path):
    target = tmp_path / "empty.zip"
    target.write_bytes(b"")
    assert_refused_and_nothing_changed(runtime, target, "The file is empty (0 bytes)")


def test_a_file_that_is_no_backup_is_refused(runtime, tmp_path):
    target = tmp_path / "notes.zip"
    with zipfile.ZipFile(target, "w") as out:
        out.writestr("notes.txt", "hello")
    assert_refused_and_nothing_changed(runtime, target, "it has no manifest.json")


def test_a_legacy_zip_with_zip_slip_is_refused(runtime, tmp_path):
    target = tmp_path / "old-app.zip"
    with zipfile.ZipFile(target, "w") as out:
        out.writestr("dental_clinic.db", b"SQLite format 3\x00" + bytes(100))
        out.writestr(entry("dental_images/../../../evil.png"), b"x")
    assert_refused_and_nothing_changed(runtime, target, "points outside the archive's folder")
    assert not list(tmp_path.rglob("evil.png"))
