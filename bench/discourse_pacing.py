"""Discourse client pacing: how close a long run gets to the forum's rate limit without meeting it.

    python bench/discourse_pacing.py [--topics 300] [--threads 1] [--limit 60] [--window 10] [--no-pacing]

Starts the Discourse double (tests/doubles/discourse.py, a real HTTP server process) with a
limit of LIMIT requests per WINDOW seconds, then creates TOPICS topics through the bridge's
client, whose pacer is set to the same budget (requests_per_minute = LIMIT * 60 / WINDOW),
from THREADS threads sharing the process-wide pacer. Prints the elapsed time, the achieved
request rate and its fraction of the allowed rate (goal >= 0.95), the 429 answers received
and the requests that failed (goal: 0 and 0). --no-pacing sets the client's budget far above
the forum's, for comparison: the client then meets the limit and waits out each 429.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from bridge.clients import user_agent  # noqa: E402
from bridge.clients.discourse import HEADROOM, DiscourseClient, DiscourseError, pacer_for  # noqa: E402
from doubles.discourse import DiscourseDouble  # noqa: E402


class Statuses:
    """Every answer the forum gave to the client (not the bench's own calls to the double)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts: dict[int, int] = {}
        real = requests.Session.request

        def request(session, method, url, *a, **kw):
            resp = real(session, method, url, *a, **kw)
            if not urlsplit(url).path.startswith("/__double__/"):
                with self.lock:
                    self.counts[resp.status_code] = self.counts.get(resp.status_code, 0) + 1
            return resp

        requests.Session.request = request

    def total(self) -> int:
        return sum(self.counts.values())


def run(topics: int, threads: int, limit: int, window: float, pacing: bool = True) -> dict:
    statuses = Statuses()
    with DiscourseDouble() as forum:
        forum.set_rate_limit(limit, window)
        rpm = limit * 60 / window if pacing else 10**6
        pacer_for(forum.url, rpm, window_seconds=window)  # the bridge's shared pacer counts over the double's window
        client = DiscourseClient(forum.url, forum.api_key, requests_per_minute=rpm,
                                 user_agent=user_agent("bench/discourse_pacing.py"))
        failures: list[str] = []

        def create(i: int) -> None:
            try:
                client.create_topic(f"Pacing benchmark topic number {i:05d}",
                                    f"Body of the pacing benchmark topic number {i}, long enough.")
            except DiscourseError as exc:
                failures.append(str(exc))

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(create, range(topics)))
        elapsed = time.perf_counter() - started
        client.close()
        violations = len(forum.violations())
    requests_sent = statuses.total()
    allowed = limit / window
    return {"elapsed": elapsed, "requests": requests_sent, "rate": requests_sent / elapsed, "allowed": allowed,
            "fraction": requests_sent / elapsed / allowed, "429": statuses.counts.get(429, 0),
            "failed": len(failures), "first_failure": failures[0] if failures else "", "violations": violations,
            "statuses": dict(sorted(statuses.counts.items()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=60, help="requests allowed per window (per forum)")
    parser.add_argument("--window", type=float, default=10.0, help="the forum's rate-limit window, seconds")
    parser.add_argument("--no-pacing", action="store_true", help="client budget far above the forum's (comparison)")
    args = parser.parse_args()
    pacing = "no pacing (429s waited out)" if args.no_pacing else f"client pacing at {HEADROOM:.0%} of it"
    print(f"Discourse pacing: {args.topics} topics, {args.threads} thread(s), forum limit {args.limit} "
          f"requests / {args.window:g} s, {pacing}, {os.cpu_count()} cores")
    r = run(args.topics, args.threads, args.limit, args.window, pacing=not args.no_pacing)
    print(f"elapsed:            {r['elapsed']:.1f} s")
    print(f"requests:           {r['requests']} (statuses {r['statuses']})")
    print(f"achieved:           {r['rate']:.3f} requests/s (allowed {r['allowed']:.3f}/s)")
    print(f"fraction of allowed: {r['fraction']:.3f} (goal >= 0.95)")
    print(f"429 answers:        {r['429']} (goal 0)")
    print(f"failed requests:    {r['failed']} (goal 0){'  first: ' + r['first_failure'] if r['failed'] else ''}")
    print(f"API description violations: {r['violations']}")
    ok = r["fraction"] >= 0.95 and r["429"] == 0 and r["failed"] == 0
    print("goal met" if ok else "GOAL NOT MET")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
