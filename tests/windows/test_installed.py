"""The Windows installer as a clinic's IT runs it, and the installed program as a reception PC
uses it, under Wine: a silent per-user install into a fresh Wine profile, the program with its
default data folder (%APPDATA%\\DentalImages) driven through its HTTP API and its command line,
a start with no WebView2 Runtime (it must open the default browser), and the uninstall, which
must leave every patient, image and backup in place.

Run by scripts/windows-checks.sh (not part of the Linux suite), which builds the installer and
sets DENTAL_IMAGES_WINDOWS_SETUP, WINEPREFIX (a fresh prefix) and DENTAL_IMAGES_WINDOWS_WORK.
The tests run in file order: each step uses what the one before it left."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.uid import JPEG2000Lossless

from backend import __version__
from tests.dicom_data import dcmtk_convert, dicom_bytes, dicom_dataset, ramp
from tests.helpers import image_bytes
from tests.served import Client, start_serving
from tests.windows import wine

pytestmark = pytest.mark.timeout(900)

SETUP = Path(os.environ.get("DENTAL_IMAGES_WINDOWS_SETUP", "missing-setup.exe"))
WORK = Path(os.environ.get("DENTAL_IMAGES_WINDOWS_WORK", "/nonexistent"))
LEGACY_SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "legacy-samples"
ARABIC_NAME = "مريم عبد الله"
FIGURES = WORK / "figures.json"


def install_dir() -> Path:
    return wine.local_appdata() / "Programs" / "Dental Images"


def exe() -> Path:
    return install_dir() / "dental-images.exe"


def data_dir() -> Path:
    return wine.appdata() / "DentalImages"


def backups_dir() -> Path:
    # Not under the profile's Documents: Wine links that to this machine's own home folder.
    return wine.prefix() / "drive_c" / "Clinic backups"


def record(**figures: object) -> None:
    known = json.loads(FIGURES.read_text(encoding="utf-8")) if FIGURES.is_file() else {}
    FIGURES.write_text(json.dumps({**known, **figures}, indent=2), encoding="utf-8")


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` (relative path -> sha256), to prove nothing there changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def wait_job(client: Client, job: dict, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while job["state"] == "running":
        assert time.monotonic() < deadline, f"job {job['kind']} still running: {job}"
        time.sleep(0.5)
        job = client.json("GET", f"/api/jobs/{job['id']}")[1]
    assert job["state"] == "done", job
    return job


def serve(*args: str) -> tuple[subprocess.Popen[str], Client, float]:
    started = time.monotonic()
    process, launch_url = start_serving(
        wine.command(exe(), "serve", "--port", "0", *args), env=wine.env(), wait_s=120
    )
    client = Client(launch_url)
    return process, client, time.monotonic() - started


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
    wine.kill_windows_program("dental-images.exe")


def run_setup(*switches: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """The installer run silently for this user, as clinic IT runs it, plus `switches`."""
    done = wine.run(
        SETUP, "/VERYSILENT", "/SUPPRESSMSGBOXES", "/CURRENTUSER", *switches, timeout=timeout
    )
    wine.wait_for_wineserver()
    return done


def run_uninstaller() -> subprocess.CompletedProcess[str]:
    done = wine.run(install_dir() / "unins000.exe", "/VERYSILENT", "/SUPPRESSMSGBOXES")
    wine.wait_for_wineserver()
    return done


def test_installer_refuses_without_webview2_unless_told():
    assert SETUP.is_file(), f"no installer at {SETUP}"
    refused = run_setup(timeout=300)
    assert refused.returncode != 0
    assert not exe().exists()


def test_the_refusal_speaks_arabic_on_an_arabic_setup():
    """The wizard's language (Windows' UI language, or /LANG): the WebView2 refusal, which a
    silent setup answers itself, is written to the log in Arabic."""
    log = WORK / "refused-arabic.log"
    refused = run_setup("/LANG=arabic", f"/LOG={wine.windows_path(log)}", timeout=300)
    assert refused.returncode != 0
    text = log.read_text(encoding="utf-8-sig", errors="replace")
    assert "WebView2 Runtime" in text and "هل تريد فتح صفحة التنزيل الآن؟" in text, text[-3000:]
    assert not exe().exists()


def test_installs_silently_per_user():
    log = WORK / "install.log"
    started = time.monotonic()
    done = run_setup("/SKIPWEBVIEW2", f"/LOG={wine.windows_path(log)}")
    record(install_s=round(time.monotonic() - started, 1))
    assert done.returncode == 0, log.read_text(errors="replace", encoding="utf-8")[-3000:]
    assert exe().is_file()
    assert (install_dir() / "unins000.exe").is_file()
    start_menu = wine.appdata() / "Microsoft" / "Windows" / "Start Menu" / "Programs"
    assert (start_menu / "Dental Images.lnk").is_file()
    version = wine.run(exe(), "--version", timeout=120)
    assert version.returncode == 0 and __version__ in version.stdout, version


def test_installed_program_serves_with_its_default_data_folder():
    process, client, ready_s = serve()
    try:
        record(serve_ready_s=round(ready_s, 1))
        assert client.json("GET", "/api/health")[1] == {"status": "ok", "version": __version__}
        status, patient = client.json("POST", "/api/patients", {"full_name": ARABIC_NAME})
        assert status == 201
        photo = image_bytes("JPEG", (1024, 768), (180, 90, 60))
        second = image_bytes("PNG", (640, 480), (20, 90, 160))
        uploads = f"/api/patients/{patient['id']}/teeth/14/images"
        status, first = client.upload(uploads, {"image_type": "before"}, "زيارة أولى.jpg", photo)
        assert status == 201 and first["stored"] == 1, first
        status, other = client.upload(uploads, {"image_type": "xray"}, "CON.png", second)
        assert status == 201 and other["stored"] == 1, other
        image = first["results"][0]["image"]
        stored = data_dir() / image["path"]
        assert image["folder_path"] == f"dental_images/{patient['id']}/14/before/"
        assert stored.read_bytes() == photo
        assert client.call("GET", image["url"])[2] == photo
        _, headers, thumbnail = client.call("GET", image["thumbnail_url"])
        assert headers["Content-Type"].startswith("image/")
        assert max(Image.open(io.BytesIO(thumbnail)).size) < 1024

        status, moved = client.json("PATCH", f"/api/images/{image['id']}", {"tooth": "15"})
        assert status == 200, moved
        assert moved["folder_path"] == f"dental_images/{patient['id']}/15/before/"
        assert not stored.exists()
        assert (data_dir() / moved["path"]).read_bytes() == photo

        xray = other["results"][0]["image"]
        assert client.call("DELETE", f"/api/images/{xray['id']}")[0] in (200, 204)
        assert not (data_dir() / xray["path"]).exists()
        chart = client.json("GET", f"/api/patients/{patient['id']}/chart")[1]
        assert chart["teeth"]["15"]["counts"]["before"] == 1
        assert "14" not in chart["teeth"]  # its one image moved, the other deleted

        backups_dir().mkdir(parents=True, exist_ok=True)
        folder = wine.windows_path(backups_dir())
        job = client.json("POST", "/api/backups", {"folder": folder})[1]
        wait_job(client, job)
        (archive,) = backups_dir().glob("*.zip")
        verified = client.json("POST", "/api/backups/verify", {"path": wine.windows_path(archive)})
        wait_job(client, verified[1])
        checked = wait_job(client, client.json("POST", "/api/store/check", {})[1])
        assert checked["result"], checked
    finally:
        stop(process)
    log = (data_dir() / "logs" / "dental-images.log").read_text(encoding="utf-8")
    assert "serving headless on http://127.0.0.1:" in log


def test_restore_into_a_fresh_data_folder():
    (archive,) = backups_dir().glob("*.zip")
    fresh = wine.user_home() / "fresh data"
    process, client, _ = serve("--data-dir", wine.windows_path(fresh))
    try:
        job = client.json(
            "POST", "/api/restore", {"path": wine.windows_path(archive), "confirm": True}
        )[1]
        wait_job(client, job)
        patients = client.json("GET", "/api/patients")[1]
        names = [p["full_name"] for p in patients["patients"]]
        assert names == [ARABIC_NAME]
    finally:
        stop(process)
    originals = tree_digest(data_dir() / "dental_images")
    assert tree_digest(fresh / "dental_images") == originals and originals


def test_command_line_verify_and_check_print_arabic_names():
    (archive,) = backups_dir().glob("*.zip")
    verified = wine.run(exe(), "verify", wine.windows_path(archive))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout
    checked = wine.run(exe(), "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # Redirected output (not a console) on a cp1252 system must not crash on Arabic text.
    listed = wine.run(exe(), "restore", wine.windows_path(archive))
    assert "Traceback" not in listed.stdout + listed.stderr
    assert listed.returncode != 0 and "--yes" in listed.stdout + listed.stderr


def test_the_installed_program_reads_dicom_x_rays(tmp_path):
    """Each compressed transfer syntax a sensor writes (JPEG-LS, JPEG lossless, JPEG 2000,
    RLE) and the uncompressed one: stored byte for byte, with its facts, a thumbnail and a
    frame drawn by the installed program's own numpy, pydicom and pylibjpeg plugins."""

    def plain() -> bytes:  # each its own SOP instance: the same one twice is a duplicate
        return dicom_bytes(dicom_dataset(ramp(rows=240, columns=320)))

    made = {
        "plain": plain(),
        "jpeg-ls": dcmtk_convert("dcmcjpls", plain(), tmp_path),
        "jpeg-lossless": dcmtk_convert("dcmcjpeg", plain(), tmp_path, "+e1"),
        "rle": dcmtk_convert("dcmcrle", plain(), tmp_path),
        "jpeg-2000": jpeg_2000(plain()),
    }
    folder = wine.user_home() / "dicom data"
    process, client, _ = serve("--data-dir", wine.windows_path(folder))
    try:
        status, patient = client.json("POST", "/api/patients", {"full_name": "Layla Haddad"})
        assert status == 201
        uploads = f"/api/patients/{patient['id']}/teeth/19/images"
        for name, data in made.items():
            status, answer = upload_answer(client, uploads, f"{name}.dcm", data)
            assert status == 201 and answer["stored"] == 1, (name, answer)
            image = answer["results"][0]["image"]
            assert image["format"] == "DICOM" and (image["width"], image["height"]) == (320, 240)
            assert image["dicom"]["patient_name"] == "HADDAD^LAYLA", name
            assert (folder / image["path"]).read_bytes() == data, name
            _, headers, thumbnail = client.call("GET", image["thumbnail_url"])
            assert headers["Content-Type"] == "image/jpeg", name
            assert Image.open(io.BytesIO(thumbnail)).format == "JPEG", name
            frame_url = image["dicom"]["frame_url"].replace("{n}", "1")
            _, headers, frame = client.call("GET", frame_url)
            assert headers["Content-Type"] == "image/png", name
            drawn = Image.open(io.BytesIO(frame)).convert("L")
            assert drawn.size == (320, 240), name
            # the ramp rises left to right: dark on the left, bright on the right
            assert drawn.getpixel((5, 120)) < 60 < 200 < drawn.getpixel((314, 120)), name
    finally:
        stop(process)


def upload_answer(client: Client, path: str, name: str, data: bytes) -> tuple[int, object]:
    """The status and answer of an x-ray upload, a refusal's answer included."""
    try:
        return client.upload(path, {"image_type": "xray"}, name, data)
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read() or b"null")


def jpeg_2000(plain: bytes) -> bytes:
    """`plain` re-encoded as JPEG 2000 lossless (pylibjpeg-openjpeg, on this Linux side)."""
    ds = dcmread(io.BytesIO(plain))
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def linux_import_summary(case: Path, tmp: Path) -> str:
    """What the Linux program of the same sources reports for `case`: the reference."""
    env = {**os.environ, "DENTAL_IMAGES_LEGACY_ROOTS": str(case / "install")}
    command = [sys.executable, "-m", "backend", "import-legacy", str(case / "userData")]
    done = subprocess.run(
        [*command, "--yes", "--data-dir", str(tmp)],
        input="",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=600,
    )
    assert done.returncode in (0, 3), done.stdout + done.stderr
    return summary_line(done.stdout)


def summary_line(output: str) -> str:
    (line,) = [line for line in output.splitlines() if line.startswith("Images: ")]
    return line


def test_import_legacy_late_with_windows_paths(tmp_path):
    case = WORK / "late"
    shutil.rmtree(case, ignore_errors=True)
    shutil.copytree(LEGACY_SAMPLES / "late", case)
    expected = linux_import_summary(case, tmp_path / "linux")
    target = wine.user_home() / "imported"
    done = wine.run(
        exe(),
        "import-legacy",
        wine.windows_path(case / "userData"),
        "--yes",
        "--data-dir",
        wine.windows_path(target),
        DENTAL_IMAGES_LEGACY_ROOTS=wine.windows_path(case / "install"),
    )
    assert done.returncode in (0, 3), done.stdout + done.stderr
    assert summary_line(done.stdout) == expected
    assert "Patients: 8 new" in expected


def test_window_start_without_webview2_opens_the_default_browser(tmp_path):
    # Wine's winebrowser hands web addresses to xdg-open: this one records the address.
    opened = tmp_path / "opened.txt"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "xdg-open").write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{opened}"\n', encoding="utf-8"
    )
    (fake / "xdg-open").chmod(0o755)
    process = subprocess.Popen(
        wine.command(exe()),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=wine.env(PATH=f"{fake}{os.pathsep}{os.environ['PATH']}"),
    )
    try:
        deadline = time.monotonic() + 120
        while not (opened.is_file() and "token=" in opened.read_text(encoding="utf-8")):
            assert time.monotonic() < deadline, "no browser was opened within 120 s"
            assert process.poll() is None, "the program ended instead of opening the browser"
            time.sleep(0.5)
        (launch_url,) = opened.read_text(encoding="utf-8").split()
        client = Client(launch_url)
        assert f'data-version="{__version__}"' in client.index_html
        notices = client.json("GET", "/api/status")[1]["notices"]
        assert any("opened in your web browser" in notice for notice in notices), notices
    finally:
        stop(process)
    log = (data_dir() / "logs" / "dental-images.log").read_text(encoding="utf-8")
    assert "WebView2 Runtime is not installed: opening in the default browser" in log
    assert "opened in the default browser: http://127.0.0.1:" in log


def test_uninstall_removes_the_program_and_keeps_the_data():
    before = tree_digest(data_dir() / "dental_images"), tree_digest(backups_dir())
    database = hashlib.sha256((data_dir() / "dental.db").read_bytes()).hexdigest()
    done = run_uninstaller()
    assert done.returncode == 0, done
    deadline = time.monotonic() + 60
    while install_dir().exists() and time.monotonic() < deadline:
        time.sleep(0.5)  # the uninstaller deletes itself from a copy after it returns
    assert not install_dir().exists()
    assert (tree_digest(data_dir() / "dental_images"), tree_digest(backups_dir())) == before
    assert hashlib.sha256((data_dir() / "dental.db").read_bytes()).hexdigest() == database


def test_an_arabic_setup_installs_in_arabic_and_uninstalls():
    """Installed with the Arabic wizard, the uninstaller keeps its language (Inno Setup writes
    it to the uninstall entry) and removes the program again."""
    done = run_setup("/SKIPWEBVIEW2", "/LANG=arabic")
    assert done.returncode == 0, done
    key = (
        "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\"
        "{A6E7D8E6-6E43-42CB-AFA4-1D67DE159CE1}_is1"
    )
    language = wine.run("reg", "query", key, "/v", "Inno Setup: Language", timeout=120)
    assert language.returncode == 0 and "arabic" in language.stdout, language
    removed = run_uninstaller()
    assert removed.returncode == 0, removed
