"""The Linux bundle as a clinic gets it: built with the documented command, started from the
built folder on a fresh data folder, headless (API) and with its window (under Xvfb)."""

from __future__ import annotations

import io
import json
import platform
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from PyInstaller.archive.readers import CArchiveReader

from backend import __version__
from tests.bundle.build_cache import ROOT
from tests.bundle.conftest import ARTIFACTS, record
from tests.bundle.window_probe import CHART_MIN_PIXELS, TOP_BAR_BOX
from tests.helpers import image_bytes
from tests.served import Client, start_serving, stop_serving

pytestmark = [pytest.mark.bundle, pytest.mark.timeout(900)]


def bundled_modules(executable: Path) -> set[str]:
    """The Python modules inside the bundle's archive."""
    archive = CArchiveReader(str(executable)).open_embedded_archive("PYZ.pyz")
    return set(archive.toc)


def test_bundle_carries_its_files_and_only_the_linux_webview(bundle):
    internal = bundle.folder / "_internal"
    assert (internal / "web" / "templates" / "index.html").is_file()
    assert (internal / "web" / "static" / "js" / "app.js").is_file()
    assert (internal / "backend" / "migrations" / "env.py").is_file()
    assert (internal / "backend" / "translations" / "ar" / "LC_MESSAGES" / "messages.mo").is_file()
    versions = sorted(p.name for p in (internal / "backend" / "migrations" / "versions").iterdir())
    source = sorted(p.name for p in (ROOT / "backend" / "migrations" / "versions").glob("*.py"))
    assert versions == source
    assert (internal / "build" / "icons" / "dental-images.png").is_file()
    modules = bundled_modules(bundle.executable)
    assert {"backend.cli", "backend.api.system", "webview.platforms.qt", "alembic.op"} <= modules
    unwanted = {
        "pytest",
        "_pytest",
        "playwright",
        "ruff",
        "PyInstaller",
        "tkinter",
        "webview.platforms.gtk",
        "webview.platforms.winforms",
        "webview.platforms.edgechromium",
        "webview.platforms.cocoa",
        "webview.platforms.cef",
        "PyQt6.QtQuick",
        "PyQt6.QtQml",
    }
    assert not unwanted & modules
    assert not any(m.startswith(("pytest.", "playwright.", "PyInstaller.")) for m in modules)


def test_version_is_the_one_of_the_sources(bundle):
    done = subprocess.run(
        [str(bundle.executable), "--version"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"dental-images {__version__}"
    assert bundle.version == __version__


def test_tarball_holds_the_bundle_with_desktop_entry_and_icon(bundle):
    assert bundle.tarball.name == f"DentalImages-{__version__}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(bundle.tarball) as archive:
        names = set(archive.getnames())
        entry = archive.extractfile("dental-images/dental-images.desktop").read().decode()
        executable = archive.getmember("dental-images/dental-images")
    assert {
        "dental-images/dental-images",
        "dental-images/install.sh",
        "dental-images/dental-images.png",
        "dental-images/_internal/web/templates/index.html",
    } <= names
    assert executable.mode & 0o111
    assert "Exec=dental-images" in entry and "Icon=dental-images" in entry


def test_deb_installs_under_opt_with_menu_entry(bundle):
    assert bundle.deb is not None, "build/build.sh made no .deb although dpkg-deb is here"
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(bundle.deb)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout
    for path in (
        "./opt/dental-images/dental-images",
        "./usr/bin/dental-images -> /opt/dental-images/dental-images",
        "./usr/share/applications/dental-images.desktop",
        "./usr/share/icons/hicolor/256x256/apps/dental-images.png",
    ):
        assert path in listing
    fields = subprocess.run(
        ["dpkg-deb", "--field", str(bundle.deb), "Package", "Version"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    ).stdout
    assert fields.split() == ["Package:", "dental-images", "Version:", __version__]


def start_bundle(executable: Path, data_dir: Path) -> tuple[subprocess.Popen, str]:
    try:
        return start_serving([str(executable), "serve", "--port", "0", "--data-dir", str(data_dir)])
    except RuntimeError as exc:
        pytest.fail(f"the bundle did not start serving: {exc}")


def run_bundle(bundle, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(bundle.executable), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )


def test_served_bundle_stores_images_and_backs_them_up(bundle, tmp_path):
    data_dir = tmp_path / "fresh data"
    process, launch_url = start_bundle(bundle.executable, data_dir)
    try:
        client = Client(launch_url)
        assert f'data-version="{__version__}"' in client.index_html
        assert client.json("GET", "/api/health")[1] == {"status": "ok", "version": __version__}
        status, patient = client.json("POST", "/api/patients", {"full_name": "Bundle Patient"})
        assert status == 201
        photo = image_bytes("JPEG", (800, 600), (180, 90, 60))
        status, uploaded = client.upload(
            f"/api/patients/{patient['id']}/teeth/14/images",
            {"image_type": "before", "description": "from the bundle"},
            "first visit.jpg",
            photo,
        )
        assert status == 201 and uploaded["stored"] == 1
        image = uploaded["results"][0]["image"]
        stored = data_dir / image["path"]
        assert image["folder_path"] == f"dental_images/{patient['id']}/14/before/"
        assert stored.read_bytes() == photo
        _, headers, original = client.call("GET", image["url"])
        assert original == photo
        _, headers, thumbnail = client.call("GET", image["thumbnail_url"])
        preview = Image.open(io.BytesIO(thumbnail))
        assert max(preview.size) < 800 and headers["Content-Type"].startswith("image/")
        status, chart = client.json("GET", f"/api/patients/{patient['id']}/chart")
        assert chart["teeth"]["14"]["counts"]["before"] == 1
    finally:
        # Ctrl+C ends it in about 2 s; a CI machine busy with other builds once took over 30.
        assert stop_serving(process, 120) == 0

    backups = tmp_path / "backups"
    backups.mkdir()  # an existing folder, as a plugged-in backup disk would be
    made = run_bundle(bundle, "backup", "--dest", str(backups), "--data-dir", str(data_dir))
    assert made.returncode == 0, made.stdout + made.stderr
    (archive,) = backups.glob("*.zip")
    with zipfile.ZipFile(archive) as backup:
        manifest = json.loads(backup.read("manifest.json"))
        assert manifest["app_version"] == __version__
        assert any(name.endswith(stored.name) for name in backup.namelist())
    checked = run_bundle(bundle, "verify", str(archive), "--data-dir", str(data_dir))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK:" in checked.stdout
    log = (data_dir / "logs" / "dental-images.log").read_text(encoding="utf-8")
    assert "serving headless on http://127.0.0.1:" in log


def test_bundled_window_opens_and_renders_the_chart(bundle, tmp_path):
    data_dir = tmp_path / "window data"
    result_file = tmp_path / "probe.json"
    shot = tmp_path / "bundle-window.png"
    completed = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            "-m",
            "tests.bundle.window_probe",
            str(bundle.executable),
            str(data_dir),
            str(shot),
            str(result_file),
        ],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert result_file.exists(), completed.stdout[-2000:] + completed.stderr[-4000:]
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert "error" not in result, result
    if shot.exists():
        (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, ARTIFACTS / "screenshots" / "bundle-window.png")
    record(bundle_start_to_usable_seconds=result["ready_seconds"])
    assert result["title"] == f"Dental Images {__version__}"
    box_pixels = (TOP_BAR_BOX[2] - TOP_BAR_BOX[0]) * (TOP_BAR_BOX[3] - TOP_BAR_BOX[1])
    assert result["top_bar_pixels"] > 0.9 * box_pixels, result
    assert result["chart_pixels"] >= CHART_MIN_PIXELS, result
    log = (data_dir / "logs" / "dental-images.log").read_text(encoding="utf-8")
    assert "window opening on http://127.0.0.1:" in log
    assert "ui ready after" in log
    assert " ERROR " not in log, log
