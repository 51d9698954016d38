"""Periodic jobs (APScheduler), run by exactly one worker process at a time.

Every `space-bridge worker` runs a scheduler, so periodic work survives the loss of any one
of them; a leader lease row in the database decides which one acts. The lease works the
same on SQLite and PostgreSQL, and across hosts: a leader that dies stops renewing it and
another worker takes over after `ttl` seconds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from bridge.outbox import worker_id
from bridge.store import leader_leases, utcnow

log = structlog.get_logger(__name__)


class LeaderLease:
    def __init__(self, engine: Engine, name: str, holder: str | None = None, ttl: float = 30.0):
        self.engine, self.name, self.holder, self.ttl = engine, name, holder or worker_id(), ttl

    def acquire(self) -> bool:
        """Take or renew the lease; True while this holder is the leader."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=self.ttl)
        t = leader_leases.c
        try:
            with self.engine.begin() as conn:
                row = conn.execute(sa.select(t.holder, t.expires_at).where(t.name == self.name)
                                   .with_for_update()).first()
                if row is None:
                    conn.execute(sa.insert(leader_leases).values(name=self.name, holder=self.holder,
                                                                 expires_at=expires))
                    return True
                if row.holder == self.holder or row.expires_at < now:
                    conn.execute(sa.update(leader_leases).where(t.name == self.name)
                                 .values(holder=self.holder, expires_at=expires))
                    return True
        except sa.exc.IntegrityError:
            return False  # another process inserted the first lease row at the same moment
        return False

    def release(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(leader_leases).where(
                leader_leases.c.name == self.name, leader_leases.c.holder == self.holder))


class LeaderScheduler:
    """An APScheduler whose jobs only run while this process holds the leader lease."""

    def __init__(self, lease: LeaderLease):
        self.lease = lease
        self.is_leader = False
        self.scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_job(self._campaign, "interval", seconds=max(1.0, lease.ttl / 3),
                               id="leader-lease", next_run_time=dt.datetime.now(dt.timezone.utc))

    def _campaign(self) -> None:
        try:
            leader = self.lease.acquire()
        except Exception:  # noqa: BLE001 - keep campaigning; lose leadership meanwhile
            log.exception("scheduler.lease_failed")
            leader = False
        if leader != self.is_leader:
            log.info("scheduler.leadership", leader=leader, holder=self.lease.holder)
        self.is_leader = leader

    def every(self, seconds: float, func: Callable[[], None], name: str) -> None:
        def run_if_leader():
            if not self.is_leader:
                return
            try:
                func()
            except Exception:  # noqa: BLE001 - a failing periodic job must not stop the others
                log.exception("scheduler.job_failed", job=name)

        self.scheduler.add_job(run_if_leader, "interval", seconds=seconds, id=name, name=name)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=True)
        if self.is_leader:
            try:
                self.lease.release()
            except Exception:  # noqa: BLE001
                log.exception("scheduler.release_failed")
