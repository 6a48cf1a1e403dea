"""A real pywebview window under Xvfb, in a subprocess with a time limit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import image_bytes

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"

pytestmark = pytest.mark.window


LANGUAGE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def run_driver(driver: str, *args: Path, result_file: Path, lang: str | None = None) -> dict:
    """Run tests/window/`driver` under Xvfb (with the OS language `lang` when given) and
    return the JSON it wrote."""
    if not shutil.which("xvfb-run"):
        pytest.fail("xvfb-run is missing: run scripts/test.sh to install it")
    env = dict(os.environ)
    env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
    env["PYTHONPATH"] = str(ROOT)
    if lang is not None:
        for name in LANGUAGE_VARIABLES:
            env.pop(name, None)
        env["LANG"] = lang
    completed = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            str(ROOT / "tests" / "window" / driver),
            *(str(a) for a in args),
            str(result_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
    )
    assert result_file.exists(), completed.stdout[-2000:] + completed.stderr[-4000:]
    result = json.loads(result_file.read_text(encoding="utf-8"))
    assert "error" not in result, result
    return result


def test_window_opens_chart_and_uploads_a_file_chosen_in_the_native_dialog(tmp_path):
    picture = tmp_path / "chosen in dialog.jpg"
    picture.write_bytes(image_bytes("JPEG", (640, 480), (30, 140, 200)))
    result = run_driver(
        "window_driver.py", tmp_path / "data", picture, result_file=tmp_path / "window.json"
    )
    assert result["title"].startswith("Dental Images")
    assert result["bridge"] is True
    assert result["teeth"] == 32
    assert result["dialog_kinds"] == ["open"]
    assert result["badge"] == "1"
    assert result["keyboard"] == "18"  # Right of 19 in the lower row, opened with Enter
    stored = list((tmp_path / "data" / "dental_images").rglob("chosen_in_dialog-*.jpg"))
    assert len(stored) == 1 and stored[0].read_bytes() == picture.read_bytes()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(result["screenshot"], ARTIFACTS / "window.png")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ar_EG.UTF-8", {"lang": "ar", "dir": "rtl", "newPatient": "+ مريض جديد"}),
        ("en_US.UTF-8", {"lang": "en", "dir": "ltr", "newPatient": "+ New patient"}),
    ],
)
def test_the_first_window_of_a_pc_speaks_the_os_language(tmp_path, lang, expected):
    result = run_driver(
        "language_driver.py", tmp_path / "data", result_file=tmp_path / "language.json", lang=lang
    )
    assert {key: result[key] for key in expected} == expected
    if expected["dir"] == "rtl":
        assert result["patientsHeading"].startswith("المرضى")
        assert result["sidebarLeft"] > result["mainLeft"]  # the list is on the inline-start side
    else:
        assert result["sidebarLeft"] < result["mainLeft"]
    # the chart is the dentist's view in both: the patient's upper right (1) on the viewer's left
    assert result["tooth1Left"] < result["tooth16Left"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(result["screenshot"], ARTIFACTS / f"window-os-{expected['lang']}.png")


def test_a_window_whose_page_the_server_no_longer_knows_reopens_it_by_itself(tmp_path):
    """A new start of the server (new launch secrets) under a window that is still open: the
    page's next question is refused, and the window loads the current page itself, with no
    click, and shows what changed meanwhile."""
    result = run_driver("reopen_driver.py", tmp_path / "data", result_file=tmp_path / "reopen.json")
    assert result["before"] == 1
    assert result["after"] == 2  # the page reloaded and asked again
    assert result["connection_state"] == ""  # no "Connection lost" or "earlier start" left up
    assert result["url_has_token"] is False  # the token left the address bar again
    log = (tmp_path / "data" / "logs").glob("*.log")
    assert any("reopening the program's page" in p.read_text(encoding="utf-8") for p in log)
