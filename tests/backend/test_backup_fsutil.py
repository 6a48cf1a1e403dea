"""Publishing a finished backup under its final name: never over another file, and on file
systems without hard links never through an empty placeholder."""

from __future__ import annotations

import errno
import os

import pytest

from backend.backup import fsutil


def _no_hard_links(*_args, **_kwargs):
    raise OSError(errno.EPERM, "hard links are not supported here")


@pytest.mark.parametrize("hard_links", [True, False])
def test_publish_takes_the_next_free_name_and_keeps_the_other_file(
    tmp_path, monkeypatch, hard_links
):
    if not hard_links:
        monkeypatch.setattr(fsutil.os, "link", _no_hard_links)
    existing = tmp_path / "clinic-backup.zip"
    existing.write_bytes(b"an earlier backup")
    temp = tmp_path / ".clinic-backup.abc.zip.part"
    temp.write_bytes(b"the new backup")

    published = fsutil.publish_new(temp, tmp_path, "clinic-backup.zip")

    assert published.name == "clinic-backup-2.zip"
    assert published.read_bytes() == b"the new backup"
    assert existing.read_bytes() == b"an earlier backup"
    assert not temp.exists()


def test_without_hard_links_no_empty_placeholder_is_ever_made(tmp_path, monkeypatch):
    monkeypatch.setattr(fsutil.os, "link", _no_hard_links)
    seen_before_rename = []
    real_rename = os.rename

    def watching_rename(source, target):
        seen_before_rename.append(os.path.lexists(target))
        real_rename(source, target)

    monkeypatch.setattr(fsutil.os, "rename", watching_rename)
    temp = tmp_path / ".b.zip.part"
    temp.write_bytes(b"complete archive")

    published = fsutil.publish_new(temp, tmp_path, "b.zip")

    assert seen_before_rename == [False]  # the final name did not exist until the rename
    assert published.read_bytes() == b"complete archive"
