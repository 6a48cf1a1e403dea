import threading
import time

import pytest

from backend.errors import Conflict, ValidationError
from backend.jobs import CANCELLED, DONE, FAILED, JobRunner


def test_a_job_reports_progress_and_result():
    runner = JobRunner()
    gate = threading.Event()

    def work(progress):
        progress.update(total=4, message="copying")
        for _ in range(4):
            progress.advance(1, 10)
        gate.wait(5)
        return {"copied": 4}

    job = runner.start("backup", work)
    gate.set()
    finished = runner.wait(job.id, timeout=5)
    assert finished.state == DONE and finished.result == {"copied": 4}
    snapshot = finished.as_dict()
    assert snapshot["progress"]["current"] == 4 and snapshot["progress"]["bytes_done"] == 40


def test_cancel_stops_the_job_at_its_next_progress_report():
    runner = JobRunner()
    started = threading.Event()
    release = threading.Event()

    def work(progress):
        started.set()
        release.wait(5)
        progress.advance()
        return "not reached"

    job = runner.start("backup", work)
    started.wait(5)
    runner.cancel(job.id)
    release.set()
    assert runner.wait(job.id, timeout=5).state == CANCELLED


def test_whole_store_jobs_exclude_each_other():
    runner = JobRunner()
    release = threading.Event()
    first = runner.start("backup", lambda p: release.wait(5))
    with pytest.raises(Conflict) as caught:
        runner.start("restore", lambda p: None)
    assert "backup is running" in caught.value.message
    release.set()
    runner.wait(first.id, timeout=5)
    second = runner.start("restore", lambda p: "ok")
    assert runner.wait(second.id, timeout=5).result == "ok"


def test_a_failing_job_keeps_the_error_for_the_ui():
    runner = JobRunner()

    def work(progress):
        raise ValidationError("Not enough free space.", field="destination")

    job = runner.wait(runner.start("backup", work).id, timeout=5)
    assert job.state == FAILED
    assert job.error["field"] == "destination" and job.error["status"] == 400


def test_job_status_and_cancel_through_the_api(client, runtime):
    release = threading.Event()
    job = runtime.jobs.start("backup", lambda p: release.wait(5) and "done")
    status = client.get(f"/api/jobs/{job.id}").get_json()
    assert status["state"] == "running" and status["kind"] == "backup"
    assert client.post(f"/api/jobs/{job.id}/cancel").status_code == 200
    release.set()
    runtime.jobs.wait(job.id, timeout=5)
    assert client.get("/api/jobs/nope").status_code == 404


def test_a_job_seen_ended_has_already_given_back_its_lease():
    held = []

    class Lease:
        def __init__(self, kind):
            held.append(kind)

        def release(self):
            time.sleep(0.02)  # a database round trip
            held.remove("backup")

    runner = JobRunner(guard=Lease)
    for _round in range(5):
        job = runner.start("backup", lambda progress: "ok")
        while job.state == "running":
            pass
        assert held == []  # the next job may start at once


def test_a_lease_that_fails_to_release_still_ends_the_job():
    class Broken:
        def __init__(self, kind):
            pass

        def release(self):
            raise RuntimeError("database went away")

    runner = JobRunner(guard=Broken)
    job = runner.wait(runner.start("backup", lambda progress: "ok").id, timeout=5)
    assert (job.state, job.result) == ("done", "ok")


def test_a_job_whose_store_lease_is_lost_stops_at_its_next_progress_report():
    from backend.locks import LeaseLost

    class Lease:
        lost = False

        def __init__(self, kind):
            self.kind = kind

        def ensure_held(self):
            if Lease.lost:
                raise LeaseLost(self.kind)

        def release(self):
            pass

    steps = []

    def work(progress):
        for step in range(100):
            progress.update(current=step)
            steps.append(step)
            if step == 3:
                Lease.lost = True  # another PC took the lease over
        return "finished"

    runner = JobRunner(guard=Lease)
    job = runner.wait(runner.start("restore", work).id, timeout=5)
    assert job.state == FAILED and steps == [0, 1, 2, 3]
    assert "lost the store lock" in job.error["message"]


def test_a_jobs_progress_shows_live_details_nested_and_keeps_the_last():
    from backend.jobs import Progress

    progress = Progress()
    counts = {"imported": 0}
    assert progress.as_dict()["details"] is None
    with progress.showing(lambda: dict(counts)):
        counts["imported"] = 2
        assert progress.as_dict()["details"] == {"imported": 2}  # read at each look
        with progress.showing(lambda: {"inner": 1}):
            assert progress.details() == {"inner": 1}
        assert progress.details() == {"imported": 2}
        counts["imported"] = 5
    assert progress.as_dict()["details"] == {"imported": 5}  # a finished job keeps its counts
