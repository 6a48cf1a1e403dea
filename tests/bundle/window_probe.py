"""Runs inside `xvfb-run`: starts the bundled program's window with demo patients, waits until
the page reports ready, opens the first patient from the keyboard as a person would (Ctrl+K,
Enter), waits for the tooth chart to appear on the X screen, and saves a screenshot.
Writes what it saw to a JSON file.
Usage: window_probe.py EXECUTABLE DATA_DIR SCREENSHOT RESULT_JSON"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image, ImageGrab

from tests.bundle.launch import start, stop, wait_until_ready

TOP_BAR = (0x0F, 0x3D, 0x3A)  # .topbar background
CROWN_STROKE = (0x83, 0x91, 0xA5)  # outline of every tooth in the chart (--crown-line, light)
TOP_BAR_BOX = (735, 2, 945, 28)  # between the search field and the first button (New patient)
CHART_BOX = (260, 40, 1280, 800)  # right of the patient list
CHART_MIN_PIXELS = 3000  # 32 outlined teeth give ~12k; the welcome view has none


def colour_count(image: Image.Image, rgb: tuple[int, int, int], box, tolerance: int = 12) -> int:
    """How many pixels in `box` are within `tolerance` of `rgb` on every channel."""
    colours = image.convert("RGB").crop(box).getcolors(maxcolors=1 << 24) or []
    return sum(
        count
        for count, colour in colours
        if all(abs(a - b) <= tolerance for a, b in zip(colour, rgb, strict=True))
    )


def xdotool(*args: str) -> str:
    done = subprocess.run(
        ["xdotool", *args], capture_output=True, text=True, encoding="utf-8", timeout=30
    )
    return done.stdout.strip()


def main() -> None:
    executable, data_dir, shot, result_path = (Path(a) for a in sys.argv[1:5])
    result: dict[str, object] = {}
    process, spawned_at = start(
        [str(executable), "--demo", "--data-dir", str(data_dir)], data_dir.with_suffix(".out")
    )
    try:
        ready = wait_until_ready(process, data_dir, spawned_at)
        result["ready_seconds"] = round(ready.seconds, 2)
        result["ready_process_age"] = ready.process_age
        window = xdotool("search", "--sync", "--name", "^Dental Images").splitlines()[0]
        result["title"] = xdotool("getwindowname", window)
        xdotool("windowfocus", "--sync", window, "key", "ctrl+k", "Return")
        deadline = time.monotonic() + 30
        image = ImageGrab.grab()
        while colour_count(image, CROWN_STROKE, CHART_BOX) < CHART_MIN_PIXELS:
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)
            image = ImageGrab.grab()
        image.save(shot)
        result["screenshot"] = str(shot)
        result["chart_pixels"] = colour_count(image, CROWN_STROKE, CHART_BOX)
        result["top_bar_pixels"] = colour_count(image, TOP_BAR, TOP_BAR_BOX)
    except Exception as exc:  # report what failed to the test instead of hanging
        result["error"] = repr(exc)
    finally:
        result["exit_code"] = stop(process)
        result_path.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
