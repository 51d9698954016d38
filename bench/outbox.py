"""Outbox throughput with a no-op handler: jobs/s on SQLite and PostgreSQL.

    python bench/outbox.py [--jobs 5000] [--postgres URL]

Enqueues N jobs (one transaction each, as producers do), then lets one worker process
(one job thread, as `space-bridge worker --threads 1`) run them all, and prints the rates.
Each job costs a share of a claim transaction and one completion transaction, both durable.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from bridge import logs, store  # noqa: E402
from bridge.config import OutboxSettings  # noqa: E402
from bridge.outbox import Outbox, Worker  # noqa: E402


def run(url: str, jobs: int, threads: int) -> dict:
    engine = store.make_engine(url)
    store.upgrade(engine)
    outbox = Outbox(engine, OutboxSettings(batch_size=20, poll_interval_seconds=0.01))
    t0 = time.perf_counter()
    for n in range(jobs):
        outbox.enqueue("bench.noop", {"n": n}, key=f"bench-{n}")
    enqueue_s = time.perf_counter() - t0
    worker = Worker(outbox, {"bench.noop": lambda job: None}, threads=threads)
    t0 = time.perf_counter()
    running = worker.start()
    while outbox.counts()["done"] < jobs:
        time.sleep(0.02)
    run_s = time.perf_counter() - t0
    worker.stop(running)
    engine.dispose()
    return {"enqueue_per_s": jobs / enqueue_s, "run_per_s": jobs / run_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--postgres", default=os.environ.get(
        "SPACE_TEST_POSTGRES_URL", "postgresql://space_bridge:space_bridge@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    logs.configure("console", "warning")
    print(f"outbox, no-op handler, {args.jobs} jobs, {os.cpu_count()} cores")
    print(f"{'database':<11} {'threads':>7} {'enqueue jobs/s':>15} {'run jobs/s':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for threads in (1, 4):
            for name in ("SQLite", "PostgreSQL"):
                url = (f"sqlite:///{tmp}/bench-{threads}.db" if name == "SQLite"
                       else store.create_empty_database(args.postgres, "space_bridge_bench"))
                r = run(url, args.jobs, threads)
                print(f"{name:<11} {threads:>7} {r['enqueue_per_s']:>15.0f} {r['run_per_s']:>11.0f}", flush=True)

if __name__ == "__main__":
    main()
