"""The one file-I/O module: publishing a finished file under its final name (never over another
file; for a backup, on file systems without hard links never through an empty placeholder),
names safe on every OS and free regardless of case, Windows' sharing violations and long paths,
and atomic UTF-8 JSON."""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path

import pytest

from backend import fileio


def _no_hard_links(*_args, **_kwargs):
    raise OSError(errno.EPERM, "hard links are not supported here")


@pytest.mark.parametrize("hard_links", [True, False])
def test_publish_takes_the_next_free_name_and_keeps_the_other_file(
    tmp_path, monkeypatch, hard_links
):
    if not hard_links:
        monkeypatch.setattr(fileio.os, "link", _no_hard_links)
    existing = tmp_path / "clinic-backup.zip"
    existing.write_bytes(b"an earlier backup")
    temp = tmp_path / ".clinic-backup.abc.zip.part"
    temp.write_bytes(b"the new backup")

    published = fileio.publish_new(temp, tmp_path, "clinic-backup.zip")

    assert published.name == "clinic-backup-2.zip"
    assert published.read_bytes() == b"the new backup"
    assert existing.read_bytes() == b"an earlier backup"
    assert not temp.exists()


def test_without_hard_links_no_empty_placeholder_is_ever_made(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio.os, "link", _no_hard_links)
    seen_before_rename = []
    real_rename = os.rename

    def watching_rename(source, target):
        seen_before_rename.append(os.path.lexists(target))
        real_rename(source, target)

    monkeypatch.setattr(fileio.os, "rename", watching_rename)
    temp = tmp_path / ".b.zip.part"
    temp.write_bytes(b"complete archive")

    published = fileio.publish_new(temp, tmp_path, "b.zip")

    assert seen_before_rename == [False]  # the final name did not exist until the rename
    assert published.read_bytes() == b"complete archive"


# ----- names safe on every OS


_DEVICES = ["CON", "con", "Nul.txt", "aux.tar.gz", "PRN", "COM1", "com0.png", "LPT9"]
_DEVICES += ["COM¹", "lpt³.jpg", "CONIN$", "conout$.txt", "CON .txt"]


@pytest.mark.parametrize("text", _DEVICES)
def test_device_names_are_rewritten_with_or_without_extension(text):
    safe = fileio.safe_file_name(text)
    assert safe == "_" + text
    assert fileio.safe_file_name(safe) == safe  # stable


@pytest.mark.parametrize("text", ["CONSOLE.txt", "COM10", "nullable.png", "LPT", "auxiliary"])
def test_names_that_only_look_like_devices_are_kept(text):
    assert fileio.safe_file_name(text) == text


def test_forbidden_and_control_characters_become_underscores():
    assert (
        fileio.safe_file_name('a<b>c:d"e/f\\g|h?i*j\x01k\x7f.png') == "a_b_c_d_e_f_g_h_i_j_k_.png"
    )


def test_trailing_dots_and_spaces_go_and_empty_text_gets_the_fallback():
    assert fileio.safe_file_name("report. . ") == "report"
    assert fileio.safe_file_name("  ليلى حداد.jpg  ") == "ليلى حداد.jpg"
    assert fileio.safe_file_name("") == "file"
    assert fileio.safe_file_name(" . ", fallback="image") == "image"


def test_a_long_name_is_cut_keeping_its_extension():
    safe = fileio.safe_file_name("x" * 400 + ".jpeg")
    assert len(safe) == fileio.MAX_NAME and safe.endswith("x.jpeg")


# ----- free names, judged without regard to case


def test_free_names_ignore_case_and_count_on():
    assert fileio.free_name("scan.png", []) == "scan.png"
    assert fileio.free_name("Scan.png", ["scan.PNG", "SCAN-2.png"]) == "Scan-3.png"
    assert fileio.free_name("notes", ["NOTES"]) == "notes-2"


def test_publish_new_skips_a_name_taken_in_another_case(tmp_path):
    (tmp_path / "Clinic-Backup.ZIP").write_bytes(b"earlier")
    temp = tmp_path / ".x.part"
    temp.write_bytes(b"new")
    published = fileio.publish_new(temp, tmp_path, "clinic-backup.zip")
    assert published.name == "clinic-backup-2.zip"
    assert (tmp_path / "Clinic-Backup.ZIP").read_bytes() == b"earlier"


# ----- publishing never overwrites


def _windows_rename(real_rename):
    def rename(source, target):
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "exists", str(target))
        real_rename(source, target)

    return rename


@pytest.mark.parametrize("way", ["links", "windows-rename", "reservation", "lease-rename"])
def test_publish_refuses_a_taken_name_and_leaves_both_files(tmp_path, monkeypatch, way):
    if way != "links":
        monkeypatch.setattr(fileio.os, "link", _no_hard_links)
    if way == "windows-rename":
        monkeypatch.setattr(fileio, "RENAME_REFUSES_EXISTING", True)
        monkeypatch.setattr(fileio.os, "rename", _windows_rename(os.rename))
    else:
        monkeypatch.setattr(fileio, "RENAME_REFUSES_EXISTING", False)
    final = tmp_path / "a.png"
    final.write_bytes(b"the first")
    temp = tmp_path / ".a.part"
    temp.write_bytes(b"the second")

    taken = fileio.publish(temp, final, others_may_publish=way != "lease-rename")

    assert taken is False
    assert final.read_bytes() == b"the first" and temp.read_bytes() == b"the second"
    assert fileio.publish(temp, tmp_path / "b.png") is True
    assert (tmp_path / "b.png").read_bytes() == b"the second" and not temp.exists()


def test_a_folder_is_published_under_a_new_name(tmp_path):
    (tmp_path / "pre-migration-1").mkdir()
    temp = tmp_path / ".partial"
    temp.mkdir()
    (temp / "manifest.json").write_text("{}", encoding="utf-8")
    final = fileio.publish_dir(temp, tmp_path, "PRE-MIGRATION-1")
    assert final.name == "PRE-MIGRATION-1-2" and (final / "manifest.json").exists()


# ----- Windows: a file another program holds open


def _sharing_violation(path) -> PermissionError:
    exc = PermissionError(errno.EACCES, "being used by another process", str(path))
    exc.winerror = 32  # what Windows sets; POSIX has no such attribute
    return exc


def test_a_rename_waits_for_another_program_to_let_go(tmp_path, monkeypatch):
    source, target = tmp_path / "a", tmp_path / "b"
    source.write_bytes(b"x")
    real_rename, refusals = os.rename, [1, 2]

    def busy_rename(src, dst):
        if refusals:
            refusals.pop()
            raise _sharing_violation(src)
        real_rename(src, dst)

    monkeypatch.setattr(fileio.os, "rename", busy_rename)
    monkeypatch.setattr(fileio, "RETRY_PAUSE", 0.001)
    fileio.rename(source, target)
    assert target.read_bytes() == b"x" and refusals == []


def test_a_file_held_for_longer_raises_file_in_use_after_the_bounded_wait(tmp_path, monkeypatch):
    path = tmp_path / "held.png"
    path.write_bytes(b"x")
    calls = []

    def held(target, *args, **kwargs):
        calls.append(target)
        raise _sharing_violation(target)

    monkeypatch.setattr(fileio.os, "unlink", held)
    monkeypatch.setattr(fileio, "RETRY_SECONDS", 0.05)
    monkeypatch.setattr(fileio, "RETRY_PAUSE", 0.005)
    started = time.monotonic()
    with pytest.raises(fileio.FileInUse) as caught:
        fileio.unlink(path)
    assert time.monotonic() - started < 1 and len(calls) > 1
    assert caught.value.winerror == 32 and path.exists()


def test_a_plain_permission_error_is_not_waited_for(tmp_path, monkeypatch):
    calls = []

    def refused(target, *args, **kwargs):
        calls.append(target)
        raise PermissionError(errno.EACCES, "read-only share", str(target))

    monkeypatch.setattr(fileio.os, "unlink", refused)
    with pytest.raises(PermissionError) as caught:
        fileio.unlink(tmp_path / "x")
    assert not isinstance(caught.value, fileio.FileInUse) and len(calls) == 1


def test_unlink_says_whether_the_file_was_there(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"1")
    assert fileio.unlink(path) is True and fileio.unlink(path) is False
    with pytest.raises(FileNotFoundError):
        fileio.unlink(path, missing_ok=False)


# ----- Windows: long paths, folders


def test_long_windows_paths_get_the_extended_prefix():
    folder = "C:\\Users\\reception\\AppData\\Roaming\\DentalImages\\" + "d" * 240
    assert fileio.long_path(folder + "\\a.png", windows=True) == "\\\\?\\" + folder + "\\a.png"
    share = "\\\\server\\clinic\\" + "s" * 250 + "\\a.png"
    assert fileio.long_path(share, windows=True) == "\\\\?\\UNC\\server\\clinic\\" + share[16:]
    mixed = "C:/Users/" + "m" * 260
    assert fileio.long_path(mixed, windows=True) == "\\\\?\\C:\\Users\\" + "m" * 260


def test_short_relative_prefixed_and_posix_paths_are_left_alone():
    short = "C:\\data\\a.png"
    assert fileio.long_path(short, windows=True) == short
    relative = "images\\" + "r" * 300
    assert fileio.long_path(relative, windows=True) == relative
    prefixed = "\\\\?\\C:\\" + "p" * 300
    assert fileio.long_path(prefixed, windows=True) == prefixed
    posix = Path("/data/" + "x" * 300)
    assert fileio.long_path(posix, windows=False) is posix


def test_no_directory_is_opened_on_windows(tmp_path, monkeypatch):
    def no_open(*_args, **_kwargs):
        raise AssertionError("a directory cannot be opened on Windows")

    monkeypatch.setattr(fileio, "IS_WINDOWS", True)
    monkeypatch.setattr(fileio.os, "open", no_open)
    fileio.fsync_dir(tmp_path)


# ----- atomic JSON, always UTF-8


def test_atomic_json_is_utf8_with_arabic_names_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "config.json"
    fileio.write_json_atomic(path, {"patient": "ليلى حداد", "images_root": "D:\\صور"})
    assert "ليلى حداد" in path.read_bytes().decode("utf-8")
    assert json.loads(path.read_text(encoding="utf-8"))["images_root"] == "D:\\صور"
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_crash_before_the_replace_keeps_the_old_content(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    fileio.write_json_atomic(path, {"db_url": "old"})

    def crash(*_args, **_kwargs):
        raise OSError("power cut")

    monkeypatch.setattr(fileio.os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        fileio.write_json_atomic(path, {"db_url": "new"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"db_url": "old"}
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_free_space_is_told_in_readable_sizes(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "free_bytes", lambda folder: 3 * 1024**2)
    assert fileio.space_shortfall(tmp_path / "not yet", 1024**2, 4 * 1024**2) == (True, 3 * 1024**2)
    assert fileio.space_shortfall(tmp_path, 1024**2, 0) == (False, 3 * 1024**2)
    assert fileio.human_size(int(3.4 * 1024**2)) == "3.4 MB"


def test_an_uploaded_backup_named_like_a_device_is_kept_under_a_usable_name(settings):
    from backend.backup.archives import incoming_path

    assert incoming_path(settings, "CON.zip").name == "_CON.zip"
    assert incoming_path(settings, "nul.db").name == "_nul.db"
    assert incoming_path(settings, "clinic backup.zip").name == "clinic_backup.zip"


def test_a_published_file_whose_temporary_name_stays_held_is_still_published(tmp_path, monkeypatch):
    temp, final = tmp_path / ".a.part", tmp_path / "a.png"
    temp.write_bytes(b"done")
    real_unlink = os.unlink

    def scanner_holds_temp(path, *args, **kwargs):
        if Path(path) == temp:
            raise _sharing_violation(path)
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(fileio.os, "unlink", scanner_holds_temp)
    monkeypatch.setattr(fileio, "RETRY_SECONDS", 0.02)
    monkeypatch.setattr(fileio, "RETRY_PAUSE", 0.005)
    assert fileio.publish(temp, final) is True
    assert final.read_bytes() == b"done" and temp.exists()  # left, hidden, for later


def test_short_form_drops_the_extended_length_prefix():
    assert fileio.short_form("\\\\?\\C:\\data\\dental_images") == "C:\\data\\dental_images"
    assert fileio.short_form("\\\\?\\UNC\\server\\share\\x") == "\\\\server\\share\\x"
    assert fileio.short_form("/home/clinic/data") == "/home/clinic/data"


def test_real_path_resolves_the_nearest_parent_the_os_can(monkeypatch, tmp_path):
    """Wine cannot give the final name of a path over MAX_PATH (ERROR_MORE_DATA, even with the
    \\\\?\\ prefix): the parent is resolved and the name joined, instead of failing."""
    deep = tmp_path / "folder" / "ليلى_حداد" / "before.png"
    original = os.path.realpath

    def realpath(path):
        if str(path).endswith("before.png"):
            raise OSError(234, "More data is available")
        return original(path)

    monkeypatch.setattr(fileio.os.path, "realpath", realpath)
    resolved = fileio.real_path(deep)
    assert resolved == os.path.join(original(deep.parent), "before.png")


def test_a_folder_that_is_writable_passes_the_write_check_and_keeps_no_probe(tmp_path):
    assert fileio.write_refused(tmp_path) is None
    assert list(tmp_path.iterdir()) == []


def test_a_folder_whose_probe_cannot_be_removed_is_refused_with_the_reason(tmp_path, monkeypatch):
    def refuse_removal(self, missing_ok=False):
        raise PermissionError(errno.EACCES, "removal refused", str(self))

    monkeypatch.setattr(Path, "unlink", refuse_removal)
    refused = fileio.write_refused(tmp_path)
    assert isinstance(refused, PermissionError)
    assert refused.errno == errno.EACCES


def test_a_background_write_is_flushed_before_wait_returns_and_says_its_error(tmp_path):
    target = tmp_path / "x.part"
    data = os.urandom(3 * 1024 * 1024)
    write = fileio.BackgroundWrite(target, data)
    assert write.wait() == target and target.read_bytes() == data

    # the same name again: the write refuses to replace a file, and wait() raises that
    again = fileio.BackgroundWrite(target, b"other")
    with pytest.raises(FileExistsError):
        again.wait()
    again.discard()  # a name that was another's: the file stays
    assert target.read_bytes() == data


def test_a_discarded_background_write_leaves_nothing(tmp_path):
    target = tmp_path / "y.part"
    write = fileio.BackgroundWrite(target, b"refused upload")
    write.discard()
    assert list(tmp_path.iterdir()) == []
