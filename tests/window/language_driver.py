"""Runs the real program window (pywebview, Qt) with no language chosen, as on the first start
of a PC, opens a patient and reports what language and direction the page took, where the
patient list and the chart's first and last upper teeth are drawn, and a screenshot.
Writes what it saw to a JSON file. Usage: language_driver.py DATA_DIR RESULT_JSON"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from backend.config import load_settings
from backend.desktop import run_window
from backend.logging_setup import setup_logging
from backend.startup import open_runtime
from backend.usecases import patients
from tests.window.window_driver import wait_for

FACTS = """(() => {
  const left = (selector) => document.querySelector(selector).getBoundingClientRect().left;
  return {
    lang: document.documentElement.lang,
    dir: document.documentElement.dir,
    newPatient: document.querySelector('#new-patient').textContent.trim(),
    patientsHeading: document.querySelector('#patient-count').textContent.trim(),
    sidebarLeft: left('aside.sidebar'),
    mainLeft: left('#patient-view'),
    tooth1Left: left("#tooth-chart [data-tooth='1']"),
    tooth16Left: left("#tooth-chart [data-tooth='16']"),
  };
})()"""


def main() -> None:
    data_dir, result_path = (Path(a) for a in sys.argv[1:3])
    settings = load_settings(data_dir)
    settings.ensure_folders()
    setup_logging(settings.logs_dir, console=False)
    runtime = open_runtime(settings)
    with runtime.sessions() as session:
        patients.create_patient(session, {"full_name": "سارة أحمد"})
    result: dict[str, object] = {}

    def drive(window) -> None:
        try:
            wait_for(window, "document.body && document.body.dataset.ready === 'true'")
            window.evaluate_js(
                "document.querySelector('#patient-list li[data-patient-id]').click()"
            )
            wait_for(window, "!document.querySelector('#patient-view').hidden")
            wait_for(window, "document.querySelectorAll('#tooth-chart .tooth').length === 32")
            result.update(window.evaluate_js(FACTS))
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

    run_window(runtime, on_shown=drive)
    runtime.close()


if __name__ == "__main__":
    main()
