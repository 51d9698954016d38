"""A worker process for the multi-process outbox tests: `python outbox_worker_proc.py DB_URL LEASE`.

Its handler records each run in `test_runs` (in its own transaction, as a real side effect
would happen outside the outbox's), so the test can count how often each job really ran.
A job whose payload asks for `hang_on_first_attempt` hangs on its first attempt, so the
test can kill the worker in the middle of it.
"""

import signal
import sys
import threading
import time

import sqlalchemy as sa

from bridge import logs
from bridge.config import OutboxSettings
from bridge.outbox import Outbox, Worker
from bridge.store import make_engine

RUNS = sa.Table("test_runs", sa.MetaData(), sa.Column("job_id", sa.Integer), sa.Column("attempt", sa.Integer),
                sa.Column("worker", sa.String(128)))


def main() -> None:
    url, lease = sys.argv[1], float(sys.argv[2])
    logs.configure("json", "warning")  # stdout is the ready signal; logs go to stderr
    engine = make_engine(url)
    settings = OutboxSettings(lease_seconds=lease, poll_interval_seconds=0.05, batch_size=10,
                              backoff_base_seconds=0.05, backoff_max_seconds=0.1)
    outbox = Outbox(engine, settings)
    worker = Worker(outbox, {}, threads=2)

    def record(job):
        with engine.begin() as conn:
            conn.execute(RUNS.insert().values(job_id=job.id, attempt=job.attempts, worker=worker.name))
        if job.payload.get("hang_on_first_attempt") and job.attempts == 1:
            time.sleep(3600)

    worker.handlers["test.record"] = record
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = worker.start()
    print("ready", flush=True)
    stop.wait()
    worker.stop(threads)


if __name__ == "__main__":
    main()
