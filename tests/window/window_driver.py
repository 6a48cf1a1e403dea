"""Runs the real program window (pywebview, Qt) in this process and drives it like a person:
open a patient, click a tooth, choose a file through the bridge's native-dialog path (the dialog
itself replaced by one that answers with a prepared file), wait for the upload to show up, then
move to the next tooth and open it with real key presses (xdotool).
Writes what it saw to a JSON file. Usage: window_driver.py DATA_DIR IMAGE_PATH RESULT_JSON"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from backend.bridge import Bridge
from backend.config import load_settings
from backend.desktop import run_window
from backend.logging_setup import setup_logging
from backend.runtime import Runtime
from backend.startup import open_runtime
from backend.usecases import patients


def wait_for(window, expression: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = window.evaluate_js(expression)
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(expression)


def reported(
    steps: Callable[[Any, dict[str, object]], None], result_path: Path
) -> Callable[[Any], None]:
    """What the window runs once shown: wait for the page, run `steps(window, result)`, take a
    screenshot beside `result_path`, write `result` there (with the error, if a step failed,
    instead of hanging), and close the window."""

    def drive(window: Any) -> None:
        result: dict[str, object] = {}
        try:
            wait_for(window, "document.body && document.body.dataset.ready === 'true'")
            steps(window, result)
            time.sleep(0.5)
            from PIL import ImageGrab

            shot = result_path.with_suffix(".png")
            ImageGrab.grab().save(shot)
            result["screenshot"] = str(shot)
        except Exception as exc:  # report what failed to the test instead of hanging
            result["error"] = repr(exc)
        finally:
            result_path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
            window.destroy()

    return drive


def drive_by_keyboard(window) -> str:
    """Real key presses from the X server (xdotool), as a person at the keyboard: with tooth 19
    focused, Right arrow then Enter must select the next tooth of the row and open its panel."""
    window.evaluate_js("document.querySelector(\"#tooth-chart [data-tooth='19']\").focus()")
    found = subprocess.run(
        ["xdotool", "search", "--name", "Dental Images"],
        capture_output=True,
        text=True,
        encoding="utf-8",
    )
    window_id = found.stdout.split()[0]
    subprocess.run(["xdotool", "windowfocus", "--sync", window_id], check=True, timeout=10)
    subprocess.run(["xdotool", "key", "--delay", "150", "Right", "Return"], check=True)
    return wait_for(
        window,
        "!document.querySelector('#tooth-panel').hidden && "
        "document.querySelector('#tooth-chart .tooth.selected')?.dataset.tooth !== '19' && "
        "document.querySelector('#tooth-chart .tooth.selected')?.dataset.tooth",
    )


def runtime_with_patient(data_dir: Path, name: str) -> Runtime:
    """The program's runtime on `data_dir` (logging to its folder), with one patient."""
    settings = load_settings(data_dir)
    settings.ensure_folders()
    setup_logging(settings.logs_dir, console=False)
    runtime = open_runtime(settings)
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": name})
    return runtime


def main() -> None:
    data_dir, image_path, result_path = (Path(a) for a in sys.argv[1:4])
    runtime = runtime_with_patient(data_dir, "Window Test")
    asked: list[str] = []

    def fake_dialog(kind, *, allow_multiple=False, file_types=()):
        asked.append(kind)
        return [str(image_path)]

    def drive(window, result: dict[str, object]) -> None:
        result["title"] = window.title
        result["bridge"] = wait_for(
            window,
            "window.pywebview && window.pywebview.api && "
            "typeof window.pywebview.api.choose_image_files === 'function'",
        )
        window.evaluate_js("document.querySelector('#patient-list li[data-patient-id]').click()")
        wait_for(window, "!document.querySelector('#patient-view').hidden")
        result["teeth"] = window.evaluate_js(
            "document.querySelectorAll('#tooth-chart .tooth').length"
        )
        window.evaluate_js(
            "document.querySelector(\"#tooth-chart [data-tooth='19']\")"
            ".dispatchEvent(new MouseEvent('click', {bubbles: true}))"
        )
        wait_for(window, "!document.querySelector('#tooth-panel').hidden")
        window.evaluate_js("document.querySelector('#choose-files').click()")
        wait_for(window, "document.querySelectorAll('#image-grid .image-card').length === 1")
        result["badge"] = wait_for(
            window,
            "document.querySelector(\"#tooth-chart [data-tooth='19'] .badge text\")?.textContent",
        )
        result["dialog_kinds"] = asked
        result["keyboard"] = drive_by_keyboard(window)

    run_window(
        runtime,
        bridge=Bridge(runtime, dialog=fake_dialog),
        on_shown=reported(drive, result_path),
    )
    runtime.close()


if __name__ == "__main__":
    main()
