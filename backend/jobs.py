"""Long operations (backup, restore, migration, import) run as jobs: one thread each, progress
that the UI polls, a cancel flag, and at most one whole-store job at a time."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from backend.errors import AppError, Conflict, NotFound
from backend.i18n import gettext
from backend.vocabulary import operation_name

log = logging.getLogger(__name__)

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


class Cancelled(Exception):
    """Raised inside a job when the person pressed Cancel."""


@dataclass
class Progress:
    """What a job reports while it works: items and bytes done of a total, and a sentence."""

    current: int = 0
    total: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    message: str = ""
    started: float = field(default_factory=time.monotonic)
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    # Raises when the job may no longer go on (its store lease was lost to another PC).
    _guard: Callable[[], None] | None = field(default=None, repr=False)
    # Structured live facts (such as an import's counts): the innermost `showing` block's, or
    # the last one shown once the blocks have ended.
    _details: list[Callable[[], dict[str, Any]]] = field(default_factory=list, repr=False)
    _last_details: dict[str, Any] | None = field(default=None, repr=False)

    def update(self, **changes: Any) -> None:
        """Set any of current/total/bytes_done/bytes_total/message; raises Cancelled if the
        job was cancelled (and LeaseLost if its store lease was lost), so every progress report
        is also a point where the job stops."""
        for key, value in changes.items():
            setattr(self, key, value)
        if self._cancel.is_set():
            raise Cancelled()
        if self._guard is not None:
            self._guard()

    def advance(self, items: int = 1, nbytes: int = 0) -> None:
        self.update(current=self.current + items, bytes_done=self.bytes_done + nbytes)

    @contextmanager
    def showing(self, details: Callable[[], dict[str, Any]]) -> Iterator[None]:
        """While the block runs, the job's progress carries `details()` (read at each look, so
        counts kept elsewhere show live); nested blocks show the innermost. After the block the
        last value stays, so a finished job still shows its final counts."""
        self._details.append(details)
        try:
            yield
        finally:
            self._last_details = details()
            self._details.pop()

    def details(self) -> dict[str, Any] | None:
        """The structured live facts the job shows now (see `showing`), if any."""
        try:
            return self._details[-1]()
        except IndexError:  # no block runs (or the last one ended just now, on the job's thread)
            return self._last_details

    def as_dict(self) -> dict[str, Any]:
        elapsed = time.monotonic() - self.started
        remaining = None
        if self.bytes_total and self.bytes_done:
            remaining = elapsed * (self.bytes_total - self.bytes_done) / self.bytes_done
        elif self.total and self.current:
            remaining = elapsed * (self.total - self.current) / self.current
        return {
            "current": self.current,
            "total": self.total,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "message": self.message,
            "elapsed_s": round(elapsed, 1),
            "remaining_s": None if remaining is None else round(remaining, 1),
            "details": self.details(),
        }


class Reporter(Protocol):
    """What a long operation's steps report to: a job's Progress, or one Step of it."""

    def update(self, **changes: Any) -> None: ...

    def advance(self, items: int = 1, nbytes: int = 0) -> None: ...


class Step:
    """One step of a longer job (a restore is checking, safety backup, unpacking, swapping):
    forwards to `parent`, saying which step of how many the message belongs to."""

    def __init__(self, parent: Reporter, number: int, of: int, name: str) -> None:
        self._parent = parent
        self._prefix = gettext("Step {number} of {of}, {name}", number=number, of=of, name=name)

    def update(self, **changes: Any) -> None:
        if "message" in changes:
            changes["message"] = f"{self._prefix}: {changes['message']}"
        self._parent.update(**changes)

    def advance(self, items: int = 1, nbytes: int = 0) -> None:
        self._parent.advance(items, nbytes)


@dataclass
class Job:
    id: str
    kind: str
    progress: Progress
    state: str = RUNNING
    result: Any = None
    error: dict[str, Any] | None = None
    finished_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": self.progress.as_dict(),
            "result": self.result,
            "error": self.error,
        }


JobFunction = Callable[[Progress], Any]


class Releasable(Protocol):
    def release(self) -> None: ...


class JobRunner:
    """Starts jobs and remembers them for polling. Whole-store jobs exclude each other, here
    and, through `guard` (which takes a lease named after the job and raises Conflict when
    another holder has it), on every other PC using the same database."""

    def __init__(self, guard: Callable[[str], Releasable] | None = None, keep: int = 50) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._exclusive: Job | None = None
        self._guard = guard
        self._keep = keep

    def start(self, kind: str, work: JobFunction, *, exclusive: bool = True) -> Job:
        with self._lock:
            if exclusive and self._exclusive is not None and self._exclusive.state == RUNNING:
                raise Conflict(
                    gettext(
                        "A {kind} is running; wait until it has finished.",
                        kind=operation_name(self._exclusive.kind),
                    ),
                    field="job",
                )
            lease = self._guard(kind) if exclusive and self._guard else None
            job = Job(id=str(uuid.uuid4()), kind=kind, progress=Progress())
            job.progress._guard = getattr(lease, "ensure_held", None)
            self._jobs[job.id] = job
            if exclusive:
                self._exclusive = job
            self._forget_old()
        threading.Thread(
            target=self._run, args=(job, work, lease), name=f"job-{kind}", daemon=True
        ).start()
        return job

    def _run(self, job: Job, work: JobFunction, lease: Releasable | None) -> None:
        log.info("%s started (job %s)", job.kind, job.id)
        state, result, error = FAILED, None, None
        try:
            result = work(job.progress)
            state = DONE
            log.info("%s finished (job %s)", job.kind, job.id)
        except Cancelled:
            state = CANCELLED
            log.warning("%s cancelled (job %s)", job.kind, job.id)
        except AppError as exc:
            error = {"status": exc.status, **exc.to_dict()}
            log.error("%s failed (job %s): %s", job.kind, job.id, exc.message)
        except Exception as exc:
            error = {"status": 500, "code": "internal_error", "message": str(exc)}
            log.exception("%s failed (job %s)", job.kind, job.id)
        finally:
            # The lease goes first: whoever sees the job ended may start the next one at once.
            if lease is not None:
                try:
                    lease.release()
                except Exception:  # an expired lease is no reason to leave the job running
                    log.exception("%s: its store lease could not be released", job.kind)
            job.result, job.error = result, error
            job.finished_at = time.monotonic()
            job.state = state

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(gettext("No job with id '{job_id}'.", job_id=job_id), field="job_id")
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.progress._cancel.set()
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> Job:
        """Block until the job ends (for the CLI and tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        job = self.get(job_id)
        while job.state == RUNNING:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(job_id)
            time.sleep(0.05)
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != RUNNING]
        for job in finished[: max(0, len(self._jobs) - self._keep)]:
            del self._jobs[job.id]
