import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import update

from backend.locks import Lease, StoreLockHeld, current_lock
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
