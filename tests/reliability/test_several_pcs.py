"""Two program instances (two reception PCs) on one PostgreSQL database and one shared images
folder, hammered at once with uploads, edits and deletes. Afterwards every row has its file,
every file its row, and no name was used twice."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.db import create_db_engine
from backend.models import Image
from backend.storage import file_sha256
from tests import postgres
from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]
UPLOADS_PER_PC = 120


class Pc:
    """One running instance, reached the way its window reaches it."""

    def __init__(self, data_dir: Path, db_url: str, share: Path) -> None:
        env = dict(os.environ, DENTAL_IMAGES_DB_URL=db_url, DENTAL_IMAGES_IMAGES_ROOT=str(share))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--data-dir", str(data_dir)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            match = re.search(
                r"(http://127\.0\.0\.1:\d+/[\w-]+)/\?token=(\S+)", self.process.stdout.readline()
            )
            if match:
                self.base, self.token = match.groups()
                return
        raise AssertionError("the instance did not start")

    def call(
        self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
    ):
        request = urllib.request.Request(self.base + path, data=body, method=method)
        request.add_header("X-Dental-Token", self.token)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def json(self, method: str, path: str, data: dict):
        return self.call(method, path, json.dumps(data).encode(), "application/json")

    def upload(self, patient_id: str, tooth: str, name: str, content: bytes):
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image_type"\r\n\r\nxray\r\n'
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="files"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.call(
            "POST",
            f"/api/patients/{patient_id}/teeth/{tooth}/images",
            body,
            f"multipart/form-data; boundary={boundary}",
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


@pytest.fixture
def server_db():
    admin = postgres.admin_url()
    postgres.create_template(admin)
    name, url = postgres.fresh_database(admin)
    yield url
    postgres.drop_database(admin, name)


def test_two_pcs_upload_edit_and_delete_at_once_without_losing_anything(tmp_path, server_db):
    share = tmp_path / "share"
    share.mkdir()
    pcs = [Pc(tmp_path / f"pc{i}", server_db, share) for i in (1, 2)]
    try:
        status, patient = pcs[0].json("POST", "/api/patients", {"full_name": "Shared"})
        assert status == 201
        payloads = [
            image_bytes("PNG", (24, 24), (i % 256, (i * 7) % 256, 99))
            for i in range(2 * UPLOADS_PER_PC)
        ]

        def upload(i: int):
            pc = pcs[i % 2]
            # one tooth and one name for everybody: the hardest case for name clashes
            return pc.upload(patient["id"], "19", "same name.png", payloads[i])

        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(upload, range(len(payloads))))
        assert [status for status, _ in results] == [201] * len(payloads)
        ids = [body["results"][0]["image"]["id"] for _, body in results]

        rng = random.Random(4)
        to_move, to_delete = ids[:60], ids[60:120]

        def edit(i: int):
            pc = pcs[i % 2]
            if i < len(to_move):
                return pc.json(
                    "PATCH",
                    f"/api/images/{to_move[i]}",
                    {"tooth": rng.choice(["3", "14", "30"]), "description": f"moved {i}"},
                )
            return pc.call("DELETE", f"/api/images/{to_delete[i - len(to_move)]}")

        with ThreadPoolExecutor(max_workers=16) as pool:
            edits = list(pool.map(edit, range(len(to_move) + len(to_delete))))
        assert [status for status, _ in edits] == [200] * len(edits)
    finally:
        for pc in pcs:
            pc.stop()

    engine = create_db_engine(server_db)
    with engine.connect() as connection:
        rows = connection.execute(select(Image.folder_path, Image.file_name, Image.sha256)).all()
        live = connection.execute(select(Image.id).where(Image.deleted_at.is_(None))).all()
    engine.dispose()
    assert len(live) == 2 * UPLOADS_PER_PC - len(to_delete)  # the deleted ones in the trash
    assert sum(folder.startswith("dental_images/.trash/") for folder, _, _ in rows) == len(
        to_delete
    )
    on_disk = {
        p.relative_to(share).as_posix() for p in (share / "dental_images").rglob("*") if p.is_file()
    }
    assert on_disk == {folder + name for folder, name, _ in rows}
    for folder, name, checksum in rows:
        assert file_sha256(share / folder / name) == checksum
    assert len({folder + name for folder, name, _ in rows}) == len(rows)
