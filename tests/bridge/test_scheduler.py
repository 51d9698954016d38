"""Periodic jobs run in exactly one worker at a time, and move on when the leader dies."""

from __future__ import annotations

import datetime as dt
import threading
import time

import sqlalchemy as sa

from bridge.scheduler import LeaderLease, LeaderScheduler
from bridge.store import leader_leases, utcnow


def test_only_one_holder_leads_until_its_lease_expires(engine):
    a = LeaderLease(engine, "scheduler", holder="a", ttl=30)
    b = LeaderLease(engine, "scheduler", holder="b", ttl=30)
    assert a.acquire() is True
    assert b.acquire() is False
    assert a.acquire() is True  # renewal
    with engine.begin() as conn:  # a dies: its lease runs out
        conn.execute(sa.update(leader_leases).values(expires_at=utcnow() - dt.timedelta(seconds=1)))
    assert b.acquire() is True
    assert a.acquire() is False


def test_released_lease_is_taken_at_once(engine):
    a = LeaderLease(engine, "scheduler", holder="a", ttl=30)
    b = LeaderLease(engine, "scheduler", holder="b", ttl=30)
    assert a.acquire()
    a.release()
    assert b.acquire()


def test_two_schedulers_run_a_periodic_job_in_one_of_them(engine):
    ran = {"a": 0, "b": 0}
    lock = threading.Lock()
    schedulers = []
    for name in ("a", "b"):
        s = LeaderScheduler(LeaderLease(engine, "scheduler", holder=name, ttl=3))

        def tick(name=name):
            with lock:
                ran[name] += 1

        s.every(0.2, tick, "tick")
        schedulers.append(s)
    for s in schedulers:
        s.start()
    time.sleep(2.5)
    for s in schedulers:
        s.stop()
    assert sum(ran.values()) >= 5
    assert min(ran.values()) == 0, ran  # never both
