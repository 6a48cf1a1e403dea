"""Starting the program's window (bundle or source) and telling when it became usable: the page
posts /api/ready once it has rendered, and the server logs "ui ready" with its own timestamp.
Start-to-usable = that record's time minus the wall-clock time just before the process was
spawned, so polling the log adds nothing to the figure."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

READY = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO backend\.api\.system: "
    r"ui ready after ([\d.]+) s since process start$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Ready:
    seconds: float  # spawn to the "ui ready" record, measured from outside
    process_age: float  # what the program itself logged (from /proc on Linux)


def window_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("QTWEBENGINE_CHROMIUM_FLAGS", "--no-sandbox")
    return env


def log_file(data_dir: Path) -> Path:
    return data_dir / "logs" / "dental-images.log"


def start(
    command: Sequence[str], output: Path, cwd: Path | None = None
) -> tuple[subprocess.Popen, float]:
    """Spawn the program with its output to `output`: the process and the wall-clock time just
    before it was spawned."""
    env = window_env()
    with output.open("wb") as sink:
        spawned_at = time.time()
        process = subprocess.Popen(
            list(command), cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return process, spawned_at


def wait_until_ready(
    process: subprocess.Popen, data_dir: Path, spawned_at: float, timeout: float = 90.0
) -> Ready:
    """Poll the log until the page reports ready; fail early if the process ends."""
    deadline = time.monotonic() + timeout
    path = log_file(data_dir)
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        found = READY.search(text)
        if found:
            stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            return Ready(seconds=stamp - spawned_at, process_age=float(found.group(2)))
        if process.poll() is not None:
            raise RuntimeError(f"the program ended ({process.returncode}) before it was ready")
        time.sleep(0.1)
    raise TimeoutError(f"no 'ui ready' in {path} after {timeout} s")


def stop(process: subprocess.Popen, timeout: float = 10.0) -> int:
    """Ask the program to end (SIGTERM), then kill it if it does not."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
    return process.returncode
