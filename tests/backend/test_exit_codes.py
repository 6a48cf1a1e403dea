"""One table of exit codes for every command, the README's copy of it, and the one follower
of a running job that every command uses (progress lines, Ctrl+C cancels)."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path

from backend import exit_codes as codes
from backend.job_follower import follow
from backend.jobs import CANCELLED, DONE, JobRunner, Progress

README = Path(__file__).resolve().parents[2] / "README.md"


def test_each_code_has_one_meaning_and_the_readme_lists_the_same_codes():
    named = {
        value for name, value in vars(codes).items() if name.isupper() and isinstance(value, int)
    }
    assert named == set(codes.MEANINGS) == set(range(7))
    table = README.read_text(encoding="utf-8").split("### Exit codes", 1)[1].split("\n\n")[2]
    listed = [int(code) for code in re.findall(r"^\| `(\d)` \|", table, re.M)]
    assert listed == sorted(codes.MEANINGS)


def test_the_follower_prints_progress_until_the_job_is_done():
    jobs = JobRunner()
    step = threading.Event()

    def work(progress: Progress) -> str:
        progress.update(message="Copying images", total=4, current=1)
        step.wait(5)
        return "finished"

    job = jobs.start("backup", work)
    out = io.StringIO()
    threading.Timer(0.3, step.set).start()
    ended = follow(jobs, job, stream=out, every_s=0.05)
    assert ended.state == DONE and ended.result == "finished"
    assert "Copying images · 1 of 4 files" in out.getvalue()


def test_ctrl_c_cancels_the_job_and_waits_until_it_has_stopped(monkeypatch):
    jobs = JobRunner()
    stopped = threading.Event()

    def work(progress: Progress) -> None:
        try:
            while True:
                progress.update(message="Working")
                stopped.wait(0.01)
        finally:
            stopped.set()

    job = jobs.start("backup", work)
    real_wait = jobs.wait
    pressed = []

    def wait(job_id, timeout=None):
        if not pressed:  # the person presses Ctrl+C while the first wait runs
            pressed.append(True)
            raise KeyboardInterrupt
        return real_wait(job_id, timeout)

    monkeypatch.setattr(jobs, "wait", wait)
    ended = follow(jobs, job, stream=io.StringIO(), every_s=0.05)
    assert ended.state == CANCELLED and stopped.is_set()
