"""The command line's view of a running job: its progress while it runs, Ctrl+C to cancel it.
Every command that runs a job (backup, verify, check, restore, import, migrate) follows it
here, so they all report and stop the same way."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from backend.fileio import human_size
from backend.i18n import gettext, ngettext
from backend.jobs import Job, JobRunner

REPORT_EVERY_S = 2.0


def follow(
    jobs: JobRunner, job: Job, *, stream: TextIO | None = None, every_s: float = REPORT_EVERY_S
) -> Job:
    """Wait until `job` ends, writing its progress line to `stream` (default stderr) whenever
    it changes. Ctrl+C asks the job to stop at its next safe point and waits for it. Returns
    the ended job (state done, failed or cancelled)."""
    stream = sys.stderr if stream is None else stream
    last = ""
    try:
        while True:
            try:
                return jobs.wait(job.id, timeout=every_s)
            except TimeoutError:
                line = progress_line(jobs.get(job.id).progress.as_dict())
                if line and line != last:
                    print(line, file=stream, flush=True)
                    last = line
    except KeyboardInterrupt:
        jobs.cancel(job.id)
        return jobs.wait(job.id)


def progress_line(progress: dict[str, Any]) -> str:
    """ "Copying images · 120 of 400 files · 1.2 GB of 4.0 GB · about 00:03:10 left"."""
    parts = []
    if progress["total"]:
        parts.append(
            ngettext(
                "{current} of {n} file",
                "{current} of {n} files",
                progress["total"],
                current=progress["current"],
            )
        )
    if progress["bytes_total"]:
        parts.append(
            gettext(
                "{done} of {total}",
                done=human_size(progress["bytes_done"]),
                total=human_size(progress["bytes_total"]),
            )
        )
    if progress["remaining_s"] is not None:
        left = time.strftime("%H:%M:%S", time.gmtime(progress["remaining_s"]))
        parts.append(gettext("about {left} left", left=left))
    return " · ".join(part for part in [progress["message"], *parts] if part)
