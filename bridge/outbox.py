"""The outbox: the durable work queue every flow of the bridge goes through.

A flow never calls another platform while answering a request; it records a job here
(durably, idempotently by key) and a worker performs it later, retrying with backoff until
it succeeds or is dead-lettered with its last error. Handlers must be idempotent: a job can
run more than once (a worker may die after the side effect and before recording success).

Claiming is safe with many worker processes: on PostgreSQL with `FOR UPDATE SKIP LOCKED`,
on SQLite by taking the single write lock for the claim (BEGIN IMMEDIATE, see store.py).
A claimed job carries a lease that its worker renews while it runs; a job whose worker
died is claimed again once the lease has expired.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import random
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bridge import metrics, wakeup
from bridge.config import OutboxSettings
from bridge.store import outbox_jobs, reader, utcnow

log = structlog.get_logger(__name__)

MAX_ERROR_CHARS = 4000


class RetryLater(Exception):
    """Raise from a handler to be run again after `seconds` (e.g. a platform said Retry-After)."""

    def __init__(self, seconds: float, reason: str = ""):
        self.seconds = max(0.0, float(seconds))
        super().__init__(reason or f"retry after {self.seconds:g} s")


class PermanentFailure(Exception):
    """Raise from a handler when retrying cannot help; the job is dead-lettered at once."""


@dataclasses.dataclass(frozen=True)
class Job:
    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    run_after: dt.datetime
    created_at: dt.datetime
    last_error: str | None = None
    worker: str | None = None
    lease_until: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    concurrency_key: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "Job":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})


Handler = Callable[[Job], None]


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter").

    Full jitter spreads the retries of many jobs that failed together (one platform outage)
    instead of sending them back in synchronized waves.
    """
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return (rng or random).uniform(0, ceiling)


def _insert(engine_or_conn) -> Any:
    dialect = engine_or_conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(outbox_jobs)
    if dialect == "sqlite":
        return sqlite.insert(outbox_jobs)
    raise RuntimeError(f"unsupported database {dialect}")


def _storable(value: Any) -> Any:
    """`value` with every NUL character replaced by U+FFFD: PostgreSQL's text and JSON types
    cannot hold NUL (SQLite can), and a job made of platform text must be stored on both."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {_storable(k): _storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(v) for v in value]
    return value


#: PostgreSQL advisory lock held by each claim's transaction (any constant unique to the bridge).
CLAIM_LOCK = 0x5BB1D6E


def _one_per_concurrency_key(rows: list) -> list:
    """The first row of each concurrency key (rows come in claim order), and every unkeyed row."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        if row.concurrency_key is not None:
            if row.concurrency_key in seen:
                continue
            seen.add(row.concurrency_key)
        kept.append(row)
    return kept


def enqueue(conn: sa.Connection, kind: str, payload: Mapping[str, Any], key: str,
            run_after: dt.datetime | None = None, *, concurrency_key: str | None = None) -> tuple[int, bool]:
    """Record a job inside the caller's transaction; returns (job id, created).

    The same key always means the same job: a second enqueue returns the first job's id and
    creates nothing, whatever its state, so retried web hooks and restarts never duplicate work.
    Jobs with the same `concurrency_key` never run at the same time, on any worker.
    """
    if not kind or len(kind) > 100:
        raise ValueError("job kind must be 1-100 characters")
    if not key or len(key) > 255:
        raise ValueError("job key must be 1-255 characters")
    if concurrency_key is not None and not 0 < len(concurrency_key) <= 255:
        raise ValueError("concurrency key must be 1-255 characters")
    key, payload = _storable(key), _storable(dict(payload))
    now = utcnow()
    stmt = _insert(conn).values(
        kind=kind, key=key, payload=payload, state="pending", attempts=0,
        run_after=run_after or now, created_at=now, updated_at=now,
        concurrency_key=_storable(concurrency_key),
    ).on_conflict_do_nothing(index_elements=["key"]).returning(outbox_jobs.c.id)
    new_id = conn.execute(stmt).scalar()
    if new_id is not None:
        wakeup.notify(conn)
        return int(new_id), True
    existing = conn.execute(sa.select(outbox_jobs.c.id).where(outbox_jobs.c.key == key)).scalar_one()
    return int(existing), False


def enqueue_many(conn: sa.Connection, kind: str, jobs: Iterable[tuple[Mapping[str, Any], str, str | None]],
                 run_after: dt.datetime | None = None, *, batch: int = 500) -> int:
    """Record many jobs of one kind inside the caller's transaction, `batch` rows per statement;
    `jobs`: (payload, key, concurrency key). Returns how many were new: a key already queued
    creates nothing, as with `enqueue`. One fan-out of thousands of jobs is a few statements and
    one wake-up instead of one of each per job."""
    if not kind or len(kind) > 100:
        raise ValueError("job kind must be 1-100 characters")
    now = utcnow()
    created = 0
    rows: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal created
        if rows:
            stmt = _insert(conn).values(rows).on_conflict_do_nothing(index_elements=["key"]).returning(outbox_jobs.c.id)
            created += len(conn.execute(stmt).fetchall())
            rows.clear()

    for payload, key, concurrency_key in jobs:
        if not key or len(key) > 255:
            raise ValueError("job key must be 1-255 characters")
        if concurrency_key is not None and not 0 < len(concurrency_key) <= 255:
            raise ValueError("concurrency key must be 1-255 characters")
        rows.append(dict(kind=kind, key=_storable(key), payload=_storable(dict(payload)), state="pending",
                         attempts=0, run_after=run_after or now, created_at=now, updated_at=now,
                         concurrency_key=_storable(concurrency_key), lease_until=None, worker=None, last_error=None,
                         started_at=None, finished_at=None))
        if len(rows) >= batch:
            flush()
    flush()
    if created:
        wakeup.notify(conn)
    return created


class Outbox:
    """Queue operations on one database; the worker and the CLI both use it."""

    def __init__(self, engine: Engine, settings: OutboxSettings | None = None):
        self.engine = engine
        self.settings = settings or OutboxSettings()

    # -- producers -------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: Mapping[str, Any], key: str,
                run_after: dt.datetime | None = None, *, concurrency_key: str | None = None) -> tuple[int, bool]:
        """Enqueue in a transaction of its own; durable when this returns."""
        with self.engine.begin() as conn:
            return enqueue(conn, kind, payload, key, run_after, concurrency_key=concurrency_key)

    # -- inspection ------------------------------------------------------------------------
    def get(self, job_id: int) -> Job | None:
        with reader(self.engine) as conn:
            row = conn.execute(sa.select(outbox_jobs).where(outbox_jobs.c.id == job_id)).mappings().first()
        return Job.from_row(row) if row else None

    def list(self, state: str | None = None, kind: str | None = None, limit: int = 100) -> list[Job]:
        q = sa.select(outbox_jobs).order_by(outbox_jobs.c.id.desc()).limit(limit)
        if state:
            q = q.where(outbox_jobs.c.state == state)
        if kind:
            q = q.where(outbox_jobs.c.kind == kind)
        with reader(self.engine) as conn:
            return [Job.from_row(r) for r in conn.execute(q).mappings()]

    def counts(self) -> dict[str, int]:
        q = sa.select(outbox_jobs.c.state, sa.func.count()).group_by(outbox_jobs.c.state)
        with reader(self.engine) as conn:
            found = dict(conn.execute(q).all())
        return {state: int(found.get(state, 0)) for state in ("pending", "running", "done", "dead")}

    def oldest_pending_age(self) -> float:
        q = sa.select(sa.func.min(outbox_jobs.c.run_after)).where(outbox_jobs.c.state == "pending")
        with reader(self.engine) as conn:
            oldest = conn.execute(q).scalar()
        return max(0.0, (utcnow() - oldest).total_seconds()) if oldest else 0.0

    def note(self, job: Job, notes: list[str]) -> None:
        """Keep what a handler decided on its own (a padded title, a recovered topic) with the job,
        as payload `notes`, so `outbox list` shows the operator."""
        if not notes:
            return
        with self.engine.begin() as conn:
            conn.execute(sa.update(outbox_jobs).where(outbox_jobs.c.id == job.id)
                         .values(payload={**job.payload, "notes": list(notes)}))

    # -- operator actions ------------------------------------------------------------------
    def retry(self, job_ids: Iterable[int] | None = None, all_dead: bool = False) -> list[int]:
        """Revive dead jobs (or pending ones waiting for backoff) to run now with fresh attempts."""
        now = utcnow()
        cond = outbox_jobs.c.state == "dead" if all_dead else sa.and_(
            outbox_jobs.c.id.in_(list(job_ids or [])), outbox_jobs.c.state.in_(("dead", "pending"))
        )
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(
                sa.update(outbox_jobs).where(cond)
                .values(state="pending", attempts=0, run_after=now, lease_until=None, worker=None,
                        finished_at=None, updated_at=now)
                .returning(outbox_jobs.c.id))]
        return sorted(ids)

    def purge_done(self, older_than: dt.timedelta) -> int:
        cutoff = utcnow() - older_than
        with self.engine.begin() as conn:
            res = conn.execute(sa.delete(outbox_jobs).where(
                outbox_jobs.c.state == "done", outbox_jobs.c.finished_at < cutoff))
        return res.rowcount or 0

    # -- workers ---------------------------------------------------------------------------
    def claim(self, worker: str, limit: int) -> list[Job]:
        """Take up to `limit` due jobs for `worker`, each under a fresh lease.

        Jobs whose previous worker vanished (lease expired) are due again; if such a job has
        used all its attempts it is dead-lettered here, so a job that crashes every worker it
        touches cannot loop forever. A job whose concurrency key another job holds (running
        under a live lease) waits, and one claim takes at most one job of each key; claims are
        serialised (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock), so
        two workers never take two jobs of one key at once.
        """
        now = utcnow()
        s = self.settings
        lease_until = now + dt.timedelta(seconds=s.lease_seconds)
        due = sa.or_(
            sa.and_(outbox_jobs.c.state == "pending", outbox_jobs.c.run_after <= now),
            sa.and_(outbox_jobs.c.state == "running", outbox_jobs.c.lease_until < now),
        )
        holder = outbox_jobs.alias("holder")
        held = sa.exists().where(holder.c.concurrency_key == outbox_jobs.c.concurrency_key,
                                 holder.c.state == "running", holder.c.lease_until >= now,
                                 holder.c.id != outbox_jobs.c.id)
        free = sa.or_(outbox_jobs.c.concurrency_key.is_(None), ~held)
        pick = (sa.select(outbox_jobs.c.id, outbox_jobs.c.kind, outbox_jobs.c.state, outbox_jobs.c.attempts,
                          outbox_jobs.c.concurrency_key)
                .where(due, free).order_by(outbox_jobs.c.run_after, outbox_jobs.c.id).limit(limit)
                .with_for_update(skip_locked=True))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": CLAIM_LOCK})
            rows = _one_per_concurrency_key(conn.execute(pick).all())
            if not rows:
                return []
            exhausted = [r for r in rows if r.state == "running" and r.attempts >= s.max_attempts]
            if exhausted:
                conn.execute(sa.update(outbox_jobs).where(outbox_jobs.c.id.in_([r.id for r in exhausted])).values(
                    state="dead", lease_until=None, finished_at=now, updated_at=now,
                    last_error=f"worker lost (lease expired) on the last of {s.max_attempts} attempts"))
                for r in exhausted:
                    metrics.JOB_ATTEMPTS.labels(kind=r.kind, outcome="dead").inc()
                    log.warning("outbox.dead_after_lost_worker", job_id=r.id, kind=r.kind)
            take = [r.id for r in rows if r not in exhausted]
            if not take:
                return []
            claimed = conn.execute(
                sa.update(outbox_jobs).where(outbox_jobs.c.id.in_(take)).values(
                    state="running", worker=worker, lease_until=lease_until,
                    attempts=outbox_jobs.c.attempts + 1, updated_at=now,
                    started_at=sa.func.coalesce(outbox_jobs.c.started_at, now))
                .returning(*outbox_jobs.c)).mappings().all()
        return sorted((Job.from_row(r) for r in claimed), key=lambda j: (j.run_after, j.id))

    def renew(self, worker: str, job_ids: Iterable[int]) -> int:
        ids = list(job_ids)
        if not ids:
            return 0
        now = utcnow()
        with self.engine.begin() as conn:
            res = conn.execute(sa.update(outbox_jobs).where(
                outbox_jobs.c.id.in_(ids), outbox_jobs.c.worker == worker, outbox_jobs.c.state == "running",
            ).values(lease_until=now + dt.timedelta(seconds=self.settings.lease_seconds), updated_at=now))
        return res.rowcount or 0

    def _finish(self, job: Job, owner: str, **values) -> bool:
        now = utcnow()
        with self.engine.begin() as conn:
            res = conn.execute(sa.update(outbox_jobs).where(
                outbox_jobs.c.id == job.id, outbox_jobs.c.worker == owner, outbox_jobs.c.state == "running",
            ).values(lease_until=None, updated_at=now, **values))
        if not res.rowcount:
            # Another worker took the job over after our lease expired: it will run it again.
            log.warning("outbox.lease_lost", job_id=job.id, kind=job.kind)
            return False
        return True

    def release(self, job: Job, worker: str) -> bool:
        """Give back a claimed job that was never started (worker shutting down)."""
        return self._finish(job, worker, state="pending", worker=None,
                            attempts=outbox_jobs.c.attempts - 1)

    def complete(self, job: Job, worker: str) -> bool:
        return self._finish(job, worker, state="done", finished_at=utcnow(), last_error=None)

    def fail(self, job: Job, worker: str, error: BaseException, rng: random.Random | None = None) -> str:
        """Record a failed attempt; returns the job's new state (pending or dead)."""
        s = self.settings
        text = _describe(error)
        if isinstance(error, PermanentFailure) or job.attempts >= s.max_attempts:
            self._finish(job, worker, state="dead", finished_at=utcnow(), last_error=text)
            return "dead"
        if isinstance(error, RetryLater):
            delay = error.seconds
        else:
            delay = backoff_delay(job.attempts, s.backoff_base_seconds, s.backoff_max_seconds, rng)
        self._finish(job, worker, state="pending", worker=None, last_error=text,
                     run_after=utcnow() + dt.timedelta(seconds=delay))
        return "pending"


def _describe(error: BaseException) -> str:
    if isinstance(error, (RetryLater, PermanentFailure)):
        text = f"{type(error).__name__}: {error}"
    else:
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text[:MAX_ERROR_CHARS]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Runs due jobs with a set of handlers, in `threads` threads, until stopped.

    One heartbeat thread renews the leases of every job the process holds, so a slow job is
    never taken over while its worker is alive, and a dead worker's jobs come back after
    `lease_seconds`.
    """

    def __init__(self, outbox: Outbox, handlers: Mapping[str, Handler], threads: int | None = None,
                 name: str | None = None):
        self.outbox = outbox
        self.handlers = dict(handlers)
        self.threads = threads or outbox.settings.workers
        self.name = name or worker_id()
        self.stopping = threading.Event()
        self._nudge = threading.Event()  # set by a wake-up (a job was queued) or by stop()
        self._listener: wakeup.Listener | None = None
        self._held: set[int] = set()
        self._held_lock = threading.Lock()

    def run_once(self, limit: int | None = None) -> int:
        """Claim one batch and run it; returns how many jobs were run."""
        jobs = self.outbox.claim(self.name, limit or self.outbox.settings.batch_size)
        with self._held_lock:
            self._held.update(j.id for j in jobs)
        ran = 0
        try:
            for job in jobs:
                if self.stopping.is_set():
                    for unstarted in jobs[ran:]:
                        self.outbox.release(unstarted, self.name)
                    break
                self._run(job)
                ran += 1
        finally:
            with self._held_lock:
                self._held.difference_update(j.id for j in jobs)
        return ran

    def _run(self, job: Job) -> None:
        started = time.monotonic()
        bound = log.bind(job_id=job.id, kind=job.kind, attempt=job.attempts)
        handler = self.handlers.get(job.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for job kind '{job.kind}' in this worker")
            handler(job)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the job
            state = self.outbox.fail(job, self.name, exc)
            outcome = "dead" if state == "dead" else "retry"
            bound.warning("outbox.job_failed", outcome=outcome, error=_describe(exc))
        else:
            if self.outbox.complete(job, self.name):
                outcome = "done"
                metrics.JOB_LATENCY.labels(kind=job.kind).observe(
                    max(0.0, (utcnow() - job.created_at).total_seconds()))
            else:
                outcome = "lease_lost"
        metrics.JOB_ATTEMPTS.labels(kind=job.kind, outcome=outcome).inc()
        metrics.JOB_DURATION.labels(kind=job.kind).observe(time.monotonic() - started)

    def _loop(self) -> None:
        idle = self.outbox.settings.poll_interval_seconds
        while not self.stopping.is_set():
            try:
                ran = self.run_once()
            except Exception:  # noqa: BLE001 - database hiccup: log, wait, go on
                log.exception("outbox.claim_failed")
                ran = 0
            if not ran:
                self._nudge.wait(idle * random.uniform(0.8, 1.2))
                self._nudge.clear()

    def _heartbeat(self) -> None:
        every = max(0.05, self.outbox.settings.lease_seconds / 3)
        while not self.stopping.wait(every):
            with self._held_lock:
                held = list(self._held)
            try:
                self.outbox.renew(self.name, held)
            except Exception:  # noqa: BLE001
                log.exception("outbox.renew_failed")

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._heartbeat, name="outbox-heartbeat", daemon=True)]
        threads += [threading.Thread(target=self._loop, name=f"outbox-{i}", daemon=True)
                    for i in range(self.threads)]
        for t in threads:
            t.start()
        self._listener = wakeup.Listener(self.outbox.engine, self._nudge.set).start()
        log.info("outbox.worker_started", worker=self.name, threads=self.threads)
        return threads

    def stop(self, threads: list[threading.Thread], timeout: float = 30.0) -> None:
        """Finish the job in hand, give back the others, then stop.

        A job still running after `timeout` is re-run by another worker after its lease.
        """
        self.stopping.set()
        self._nudge.set()
        if self._listener is not None:
            self._listener.stop()
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
