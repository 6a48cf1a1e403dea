"""An image row can only ever reach its own file in the image tree: a crafted backup whose row
names `./dental.db` (listed as missing, so no file check looks at it) is refused whole, and a
row like that in the live database can neither serve nor delete the database, config.json or a
backup."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

import pytest

from backend.backup.create import create_backup
from backend.backup.verify import verify_archive
from backend.db import session_scope
from backend.models import Image
from backend.storage import UnsafePath
from tests.backup_data import populate
from tests.reliability.test_hostile_archives import assert_refused_and_nothing_changed

EXPECTED = "name a file that is not their own"


def crafted(good: Path, target: Path, tmp_path: Path, folder: str, name: str) -> Path:
    """`good` with one image row pointed at `folder` + `name`, the manifest agreeing (the row
    listed among the files that were missing when the backup was made)."""
    database = tmp_path / "database.sqlite"
    with zipfile.ZipFile(good) as source:
        manifest = json.loads(source.read("manifest.json"))
        database.write_bytes(source.read("database.sqlite"))
        with sqlite3.connect(database) as connection:
            (old_folder, old_name) = connection.execute(
                "SELECT folder_path, file_name FROM images LIMIT 1"
            ).fetchone()
            connection.execute(
                "UPDATE images SET folder_path = ?, file_name = ? WHERE file_name = ?",
                (folder, name, old_name),
            )
        data = database.read_bytes()
        manifest["entries"].pop(old_folder + old_name)
        manifest["entries"]["database.sqlite"] = {
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
        manifest["missing_files"] = [*manifest.get("missing_files", []), folder + name]
        manifest["counts"]["files"] -= 1
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info in source.infolist():
                if info.filename in ("manifest.json", old_folder + old_name):
                    continue
                if info.filename == "database.sqlite":
                    out.writestr("database.sqlite", data)
                else:
                    out.writestr(info, source.read(info))
            out.writestr("manifest.json", json.dumps(manifest))
    return target


@pytest.mark.parametrize(
    ("folder", "name"),
    [("./", "dental.db"), ("", "config.json"), ("backups/", "x.zip"), ("dental_images/", "a.jpg")],
)
def test_a_backup_whose_row_names_another_file_is_refused_whole(runtime, tmp_path, folder, name):
    populate(runtime, patients_count=2, images_each=2)
    good = create_backup(runtime, runtime.settings.backups_dir).path
    archive = crafted(good, tmp_path / "crafted.zip", tmp_path, folder, name)
    report = verify_archive(archive)
    assert not report.ok and any(EXPECTED in p for p in report.problems), report.problems
    assert any(folder + name in p for p in report.problems)  # names the row
    assert_refused_and_nothing_changed(runtime, archive, EXPECTED)


def test_the_same_backup_untouched_verifies(runtime, tmp_path):
    populate(runtime, patients_count=1, images_each=2)
    good = create_backup(runtime, runtime.settings.backups_dir).path
    assert verify_archive(good).ok


def test_a_live_row_naming_the_database_serves_and_deletes_nothing(runtime, client):
    populate(runtime, patients_count=1, images_each=1)
    database = runtime.settings.data_dir / "dental.db"
    if not database.exists():
        pytest.skip("the database is not a file in the data folder (PostgreSQL)")
    before = database.stat().st_size
    with session_scope(runtime.sessions) as session:
        image = session.query(Image).first()
        image.folder_path, image.file_name = "./", "dental.db"
        image_id = image.id
        session.commit()
    served = client.get(f"/images/{image_id}/file")
    assert served.status_code != 200 and b"SQLite format" not in served.data
    deleted = client.delete(f"/api/images/{image_id}")
    assert deleted.status_code == 409
    assert deleted.get_json()["error"]["code"] == "unsafe_path"
    assert database.is_file() and database.stat().st_size >= before


@pytest.mark.parametrize(
    "relative", ["./dental.db", "config.json", "backups/a.zip", "dental_images/../dental.db"]
)
def test_the_store_resolves_only_inside_the_image_tree(store, relative):
    with pytest.raises(UnsafePath):
        store.path_of(relative)
