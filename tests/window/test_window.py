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


def test_window_opens_chart_and_uploads_a_file_chosen_in_the_native_dialog(tmp_path):
    if not shutil.which("xvfb-run"):
        pytest.fail("xvfb-run is missing: run scripts/test.sh to install it")
    picture = tmp_path / "chosen in dialog.jpg"
    picture.write_bytes(image_bytes("JPEG", (640, 480), (30, 140, 200)))
    result_file = tmp_path / "window-result.json"
    env = dict(os.environ)
    env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
    env["PYTHONPATH"] = str(ROOT)
    completed = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x800x24",
            sys.executable,
            str(ROOT / "tests" / "window" / "window_driver.py"),
            str(tmp_path / "data"),
            str(picture),
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
