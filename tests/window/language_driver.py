"""Runs the real program window (pywebview, Qt) with no language chosen, as on the first start
of a PC, opens a patient and reports what language and direction the page took, where the
patient list and the chart's first and last upper teeth are drawn, and a screenshot.
Writes what it saw to a JSON file. Usage: language_driver.py DATA_DIR RESULT_JSON"""

from __future__ import annotations

import sys
from pathlib import Path

from backend.desktop import run_window
from tests.window.window_driver import reported, runtime_with_patient, wait_for

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
    runtime = runtime_with_patient(data_dir, "سارة أحمد")

    def drive(window, result: dict[str, object]) -> None:
        window.evaluate_js("document.querySelector('#patient-list li[data-patient-id]').click()")
        wait_for(window, "!document.querySelector('#patient-view').hidden")
        wait_for(window, "document.querySelectorAll('#tooth-chart .tooth').length === 32")
        result.update(window.evaluate_js(FACTS))

    run_window(runtime, on_shown=reported(drive, result_path))
    runtime.close()


if __name__ == "__main__":
    main()
