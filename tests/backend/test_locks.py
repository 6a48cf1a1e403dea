import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from backend.locks import Lease, LeaseLost, StoreLockHeld, current_lock
from backend.models import StoreLock, utcnow


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
    with runtime.sessions() as session:  # the lease ran out and another PC took it
        session.execute(update(StoreLock).values(holder="RECEPTION-2 (process 9, abcdef)"))
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
