import logging
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import OperationalError

from backend import processes
from backend.locks import Lease, LeaseLost, StoreLockHeld, current_lock
from backend.models import StoreLock, utcnow
from tests.helpers import dead_pid


def test_a_second_holder_is_refused_and_told_who_holds_it(runtime):
    first = Lease(runtime.sessions, "backup")
    with pytest.raises(StoreLockHeld) as caught:
        Lease(runtime.sessions, "restore")
    assert "backup is running on" in caught.value.message
    assert current_lock(runtime.sessions).holder == first.holder
    first.release()
    assert current_lock(runtime.sessions) is None
    Lease(runtime.sessions, "restore").release()


def test_an_expired_lease_of_a_dead_holder_is_taken_over(runtime):
    dead = Lease(runtime.sessions, "migration", lease=timedelta(seconds=600))
    dead._stop.set()  # the holder's process died: nothing renews it any more
    with runtime.sessions() as session:
        session.execute(update(StoreLock).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert current_lock(runtime.sessions) is None
    taker = Lease(runtime.sessions, "backup")
    assert current_lock(runtime.sessions).holder == taker.holder
    dead.release()  # a late release by the old holder does not drop the new lease
    assert current_lock(runtime.sessions).holder == taker.holder
    taker.release()


def test_the_lease_is_renewed_while_held(runtime):
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=0.6))
    first_expiry = current_lock(runtime.sessions).expires_at
    time.sleep(0.5)
    assert current_lock(runtime.sessions).expires_at > first_expiry
    lease.release()


def test_exclusive_jobs_take_the_store_lock(runtime):
    release = threading.Event()
    job = runtime.jobs.start("backup", lambda p: release.wait(5))
    assert current_lock(runtime.sessions).operation == "backup"
    release.set()
    runtime.jobs.wait(job.id, timeout=5)
    assert current_lock(runtime.sessions) is None


def _wait_for(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


class _FlakySessions:
    """The lease's session factory on a network that drops the first `failures` renewals."""

    def __init__(self, sessions, failures: int) -> None:
        self.sessions, self.failures, self.calls = sessions, failures, 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("UPDATE store_locks", {}, Exception("server closed the link"))
        return self.sessions()


def test_a_failed_renewal_is_logged_and_tried_again_at_the_next_tick(runtime, caplog):
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=1.5))
    first_expiry = current_lock(runtime.sessions).expires_at
    flaky = _FlakySessions(runtime.sessions, failures=1)
    lease._sessions = flaky
    with caplog.at_level(logging.WARNING, logger="backend.locks"):
        assert _wait_for(lambda: flaky.calls >= 2)
        assert _wait_for(lambda: current_lock(runtime.sessions).expires_at > first_expiry)
    assert lease._renewer.is_alive() and not lease.lost
    assert "could not renew the store lock for backup" in caplog.text
    lease.release()
    assert current_lock(runtime.sessions) is None


def test_a_lease_that_cannot_be_renewed_in_time_counts_as_lost(runtime, caplog):
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=0.6))
    lease._sessions = _FlakySessions(runtime.sessions, failures=10**6)
    with caplog.at_level(logging.WARNING, logger="backend.locks"):
        assert _wait_for(lambda: lease.lost)
        assert _wait_for(lambda: "could not be renewed before it ran out" in caplog.text)
    with pytest.raises(LeaseLost):
        lease.ensure_held()
    assert lease._renewer.is_alive()  # still trying
    lease._sessions = runtime.sessions
    lease.release()


def test_a_lease_taken_over_by_another_pc_is_detected_as_lost(runtime, caplog):
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=0.6))
    lease.ensure_held()
    with runtime.sessions() as session:  # the lease ran out and another PC took it for long
        taken = {
            "holder": "RECEPTION-2 (process 9, abcdef)",
            "expires_at": utcnow() + timedelta(minutes=10),
        }
        session.execute(update(StoreLock).values(**taken))
        session.commit()
    with caplog.at_level(logging.ERROR, logger="backend.locks"):
        assert _wait_for(lambda: lease.lost)
        assert _wait_for(lambda: "the store lock for backup was lost" in caplog.text)
    with pytest.raises(LeaseLost, match="lost the store lock of the backup"):
        lease.ensure_held()
    lease.release()  # never drops the other PC's lease
    assert current_lock(runtime.sessions).holder == "RECEPTION-2 (process 9, abcdef)"


def test_a_released_lease_is_not_reported_lost(runtime, caplog):
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=0.3))
    with caplog.at_level(logging.ERROR, logger="backend.locks"):
        time.sleep(0.15)
        lease.release()
        time.sleep(0.3)
    assert "was lost" not in caplog.text


def _pc_clock_ahead(monkeypatch, by: timedelta) -> None:
    """This PC's clock runs `by` ahead (the database server's does not)."""
    real = utcnow

    def fast_clock():
        return real() + by

    monkeypatch.setattr("backend.models.utcnow", fast_clock)
    monkeypatch.setattr("backend.locks.utcnow", fast_clock, raising=False)


def test_a_pc_whose_clock_runs_ahead_cannot_take_a_live_lease(runtime, monkeypatch):
    holder = Lease(runtime.sessions, "backup")
    _pc_clock_ahead(monkeypatch, timedelta(hours=3))
    with pytest.raises(StoreLockHeld):
        Lease(runtime.sessions, "restore")
    assert current_lock(runtime.sessions).holder == holder.holder
    holder.release()


def test_lease_times_are_the_database_servers(runtime, monkeypatch):
    _pc_clock_ahead(monkeypatch, timedelta(hours=3))
    lease = Lease(runtime.sessions, "backup", lease=timedelta(seconds=90))
    real_now = utcnow()
    with runtime.sessions() as session:
        acquired, expires = session.execute(
            select(StoreLock.acquired_at, StoreLock.expires_at)
        ).one()
    assert abs((acquired - real_now).total_seconds()) < 60
    assert timedelta(seconds=89) <= expires - acquired <= timedelta(seconds=91)
    # a PC whose clock runs behind does not see the lease as expired either
    _pc_clock_ahead(monkeypatch, timedelta(hours=-3))
    assert current_lock(runtime.sessions).holder == lease.holder
    lease.release()


def _recorded_lease(runtime, **holder) -> None:
    now = utcnow()
    with runtime.sessions() as session:
        session.execute(
            insert(StoreLock).values(
                name="store",
                holder=f"{holder.get('host')} (process {holder.get('pid')}, abc123)",
                operation="import",
                acquired_at=now,
                expires_at=now + timedelta(seconds=90),
                **holder,
            )
        )
        session.commit()


def test_a_lease_of_a_process_that_ended_on_this_pc_is_taken_over(runtime):
    _recorded_lease(runtime, host=processes.this_host(), pid=dead_pid(), process_started=None)
    lease = Lease(runtime.sessions, "backup")
    assert current_lock(runtime.sessions).holder == lease.holder
    lease.release()


def test_a_reused_process_id_does_not_keep_a_dead_holders_lease(runtime):
    # Our own pid is alive, but it started at another time than the holder recorded.
    _recorded_lease(
        runtime, host=processes.this_host(), pid=os.getpid(), process_started="an earlier boot"
    )
    lease = Lease(runtime.sessions, "backup")
    assert current_lock(runtime.sessions).holder == lease.holder
    lease.release()


def test_a_live_holder_here_and_any_holder_elsewhere_are_waited_for(runtime):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = processes.process_start_time(sleeper.pid)
        _recorded_lease(
            runtime, host=processes.this_host(), pid=sleeper.pid, process_started=started
        )
        with pytest.raises(StoreLockHeld, match=f"process {sleeper.pid}"):
            Lease(runtime.sessions, "backup")
    finally:
        sleeper.kill()
        sleeper.wait()
    with runtime.sessions() as session:
        session.execute(delete(StoreLock))
        session.commit()
    _recorded_lease(runtime, host="RECEPTION-2", pid=dead_pid(), process_started=None)
    with pytest.raises(StoreLockHeld, match="RECEPTION-2"):
        Lease(runtime.sessions, "backup")  # its pid means nothing on this PC


def test_the_running_check_tells_a_later_process_with_the_same_id_apart():
    here = processes.this_host()
    assert processes.running_here(here, os.getpid(), processes.process_start_time())
    assert not processes.running_here(here, os.getpid(), "another start")
    assert not processes.running_here(here, dead_pid(), None)
    assert not processes.running_here("RECEPTION-2", os.getpid(), None)
    assert not processes.ended_here("RECEPTION-2", dead_pid(), None)
    assert processes.ended_here(here, dead_pid(), None)


def test_the_restore_journal_uses_the_same_running_check():
    from backend.backup import journal as jr

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = processes.process_start_time(sleeper.pid)
        other = jr.RestoreJournal(id="r1", archive="a.zip", method=jr.FILES, pid=sleeper.pid)
        other.process_started = started
        assert jr.still_running(other)
        other.process_started = "a process that had this id before"
        assert not jr.still_running(other)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not jr.still_running(jr.RestoreJournal(id="r2", archive="a.zip", method=jr.FILES))
