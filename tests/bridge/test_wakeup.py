"""Idle workers wake when a job is queued, from this process or another, on both databases.

The workers here poll only once a minute, so a job done within seconds was started by the
wake-up, not by a poll.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bridge import store
from bridge.config import OutboxSettings
from bridge.outbox import Outbox, Worker

SLOW_POLL = OutboxSettings(poll_interval_seconds=60, lease_seconds=30, max_attempts=3)
BIN = Path(sys.executable).parent / "space-bridge"


def started_worker(engine, seen: list) -> tuple[Worker, list]:
    worker = Worker(Outbox(engine, SLOW_POLL), {"t.wake": lambda job: seen.append(job.key),
                                                "bridge.probe": lambda job: seen.append(job.key)}, threads=2)
    threads = worker.start()
    time.sleep(1.5)  # the threads' first claim found nothing: they now wait for a minute
    return worker, threads


def wait_for(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_job_queued_through_another_engine_wakes_the_idle_worker(engine, db_url):
    seen: list[str] = []
    worker, threads = started_worker(engine, seen)
    try:
        other = store.make_engine(db_url)  # as the web process would hold it
        Outbox(other, SLOW_POLL).enqueue("t.wake", {}, key="wake-1")
        assert wait_for(lambda: seen == ["wake-1"])
        Outbox(other, SLOW_POLL).enqueue("t.wake", {}, key="wake-2")  # and again, once idle
        assert wait_for(lambda: seen == ["wake-1", "wake-2"])
        other.dispose()
    finally:
        worker.stop(threads, timeout=5)


def test_a_job_queued_by_another_process_wakes_the_idle_worker(engine, settings_file):
    seen: list[str] = []
    worker, threads = started_worker(engine, seen)
    try:
        out = subprocess.run([str(BIN), "--config", str(settings_file), "outbox", "probe"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert wait_for(lambda: len(seen) == 1 and seen[0].startswith("probe:"))
    finally:
        worker.stop(threads, timeout=5)


def test_stop_is_prompt_and_wakes_no_one_after(engine):
    seen: list[str] = []
    worker, threads = started_worker(engine, seen)
    started = time.monotonic()
    worker.stop(threads, timeout=10)
    assert time.monotonic() - started < 8  # not the minute-long poll
    assert not any(t.is_alive() for t in threads)
