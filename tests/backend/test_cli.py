"""The command line, run as a user runs it: a real process."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from backend import __version__

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict | None = None, timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=env,
    )


def test_version_from_module_and_app_entry():
    assert run("-m", "backend", "--version").stdout.strip() == f"dental-images {__version__}"
    assert run("app.py", "--version").stdout.strip() == f"dental-images {__version__}"


def _start(args: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        env=env,
    )
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/[\w-]+/\?token=\S+)", line)
        if match:
            return process, match.group(1)
    process.kill()
    raise AssertionError("no launch URL printed")


def _check_serves(url: str) -> None:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url, timeout=10) as page:
        assert page.status == 200
        assert b"Dental Images" in page.read()


def test_serve_prints_a_tokenised_url_and_uses_the_data_dir(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DENTAL_IMAGES_HOME"}
    process, url = _start(["-m", "backend", "serve", "--data-dir", str(tmp_path / "d")], env)
    try:
        _check_serves(url)
        assert (tmp_path / "d" / "dental.db").is_file()
        assert (tmp_path / "d" / "logs" / "dental-images.log").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_window_command_without_a_display_falls_back_to_headless(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["DENTAL_IMAGES_HOME"] = str(tmp_path / "home")
    env.pop("QT_QPA_PLATFORM", None)
    process, url = _start(["app.py"], env)
    try:
        _check_serves(url)
        assert (tmp_path / "home" / "dental.db").is_file()
    finally:
        process.terminate()
        process.wait(timeout=10)
