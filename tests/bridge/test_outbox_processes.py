"""Several real worker processes against one database: exactly-once and crash recovery."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bridge.outbox import Outbox

HERE = Path(__file__).resolve().parent
PROC = HERE / "outbox_worker_proc.py"


@pytest.fixture
def runs_table(engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE test_runs (job_id INTEGER, attempt INTEGER, worker VARCHAR(128))"))
    return engine


def start_worker(db_url: str, lease: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(PROC), db_url, str(lease)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=HERE.parents[1])
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        proc.wait()
        raise AssertionError(f"worker process did not start: {line!r}")
    return proc


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_counts(engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT job_id, COUNT(*) FROM test_runs GROUP BY job_id")).all())


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=30)


def test_three_workers_run_2000_jobs_exactly_once(db_url, runs_table):
    engine = runs_table
    outbox = Outbox(engine)
    with engine.begin() as conn:
        from bridge.outbox import enqueue

        ids = [enqueue(conn, "test.record", {"n": n}, key=f"job-{n}")[0] for n in range(2000)]
    procs = [start_worker(db_url, lease=30) for _ in range(3)]
    try:
        wait_for(lambda: outbox.counts()["done"] == 2000, 120, "2000 jobs done")
    finally:
        stop(procs)
    counts = run_counts(engine)
    assert sorted(counts) == sorted(ids)
    assert set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
    with engine.connect() as conn:
        workers = conn.execute(sa.text("SELECT COUNT(DISTINCT worker) FROM test_runs")).scalar()
    assert workers == 3  # the work was shared, not done by one lucky process
    assert all(p.returncode == 0 for p in procs)


def test_job_of_a_killed_worker_runs_again_after_its_lease(db_url, runs_table):
    engine = runs_table
    outbox = Outbox(engine)
    job_id, _ = outbox.enqueue("test.record", {"hang_on_first_attempt": True}, key="hang")
    for n in range(5):
        outbox.enqueue("test.record", {"n": n}, key=f"other-{n}")
    first = start_worker(db_url, lease=1.5)
    wait_for(lambda: run_counts(engine).get(job_id) == 1, 30, "the first attempt to start")
    time.sleep(2)  # longer than the lease: the heartbeat must keep a live worker's job
    assert outbox.get(job_id).state == "running" and outbox.get(job_id).attempts == 1
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    second = start_worker(db_url, lease=1.5)
    try:
        wait_for(lambda: outbox.get(job_id).state == "done", 30, "the job to be re-run and finished")
        wait_for(lambda: outbox.counts()["done"] == 6, 30, "every job done")
    finally:
        stop([second])
    job = outbox.get(job_id)
    assert job.attempts == 2
    assert run_counts(engine)[job_id] == 2  # started by the killed worker, then run again
    assert outbox.counts() == {"pending": 0, "running": 0, "done": 6, "dead": 0}
