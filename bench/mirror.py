"""The WordPress -> Discourse mirror: cost to the editor, publish-to-topic latency, backfill rate.

    python bench/mirror.py [--publishes 20] [--latency-posts 30] [--latency-gap 4] [--backfill-posts 500]
                           [--limit 60] [--window 10] [--skip a,b,c]

Needs the local stack (deploy/dev/stack.sh up: real WordPress with the space-bridge-mirror.php
mu-plugin). Starts the Discourse double and the bridge app over HTTP (tests/sync/mirror_harness.py).

(a) WordPress publish request time (REST POST /wp/v2/posts, status publish), median of
    PUBLISHES each, modes interleaved: mu-plugin inactive (no SPACE_BRIDGE_MIRROR_* constants:
    it sends nothing), active with the bridge up, active with the bridge down (closed port).
    Goal: active / inactive <= 1.05.
(b) publish -> topic latency through the web hook with the `make run` configuration (poll 1 s,
    60 forum requests a minute), a worker running: from the publish request's start until the
    mapping row exists (the forum answered the create), over LATENCY_POSTS posts LATENCY_GAP
    seconds apart; and the forum requests per new topic. Goal: p99 <= 0.5 s.
(c) backfill of BACKFILL_POSTS posts with the double limited to LIMIT requests per WINDOW
    seconds and discourse.requests_per_minute set to that budget: forum requests sent per
    second as a fraction of the budget. Goal >= 0.95.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "sync"))

from doubles.discourse import DiscourseDouble  # noqa: E402
from mirror_harness import MirrorEnv, ensure_categories, write_wp_constants  # noqa: E402

from bridge.clients.discourse import pacer_for  # noqa: E402
from bridge.clients.wordpress import WordPressUnavailable  # noqa: E402
from bridge.store import mirror_topics  # noqa: E402


def stack_info() -> dict:
    import json
    import subprocess

    subprocess.run(["bash", str(ROOT / "deploy/dev/stack.sh"), "up"], check=True, capture_output=True)
    return json.loads((ROOT / ".dev" / "stack.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def publish_times(env: MirrorEnv, n: int) -> dict[str, list[float]]:
    wp = env.wp()
    wp.whoami()
    modes = {
        "inactive": lambda: write_wp_constants(None, None),
        "active, bridge up": lambda: env.point_wordpress_here(timeout=0.2),
        "active, bridge down": lambda: write_wp_constants(
            f"http://127.0.0.1:{free_port()}/webhooks/wordpress/{env.site_name}", env.webhook_secret, 0.2),
    }
    times: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(2):  # warm up (opcache, connections)
        wp.create_post(f"Warm-up {uuid.uuid4().hex[:8]} post", "<p>warm up</p>", status="publish")
    for i in range(n):
        for mode, setup in modes.items():
            setup()
            started = time.perf_counter()
            wp.create_post(f"Bench publish {uuid.uuid4().hex[:8]} ({mode})",
                           "<p>" + "A paragraph of the post. " * 40 + "</p>", status="publish", tags=["bench"])
            times[mode].append(time.perf_counter() - started)
    write_wp_constants(None, None)
    return times


def latency(env: MirrorEnv, n: int, gap: float = 0.0) -> list[float]:
    env.point_wordpress_here(timeout=0.2)
    wp = env.wp()
    threads = env.worker.start()
    out = []
    try:
        for i in range(n):
            started = time.perf_counter()
            post = wp.create_post(f"Latency {i} {uuid.uuid4().hex[:8]} of the bench", "<p>How fast is the forum?</p>",
                                  status="publish")
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with env.engine.connect() as conn:
                    if conn.execute(sa.select(mirror_topics.c.topic_id).where(
                            mirror_topics.c.site == env.site_name, mirror_topics.c.post_id == post.id)).first():
                        break
                time.sleep(0.01)
            out.append(time.perf_counter() - started)
            time.sleep(max(0.0, gap - (time.perf_counter() - started)))
    finally:
        env.worker.stop(threads, timeout=10)
        write_wp_constants(None, None)
    return out


class Counter:
    def __init__(self, prefix: str):
        self.prefix, self.n, self.lock = prefix, 0, threading.Lock()
        self.statuses: dict[int, int] = {}
        original = requests.Session.request
        counter = self

        def request(session, method, url, *a, **kw):
            resp = original(session, method, url, *a, **kw)
            if str(url).startswith(counter.prefix) and "/__double__/" not in str(url):
                with counter.lock:
                    counter.n += 1
                    counter.statuses[resp.status_code] = counter.statuses.get(resp.status_code, 0) + 1
            return resp

        requests.Session.request = request


def backfill(stack: dict, n: int, limit: int, window: float) -> dict:
    from sync import backfill as bf
    from sync.mirror import Mirror

    rpm = int(limit * 60 / window)
    with DiscourseDouble() as forum, tempfile.TemporaryDirectory() as tmp:
        ensure_categories(forum)
        forum.set_rate_limit(limit, window)
        pacer_for(forum.url, rpm, window_seconds=window)  # the bridge's shared pacer counts over the double's window
        env = MirrorEnv(stack, forum, Path(tmp), requests_per_minute=rpm)
        try:
            write_wp_constants(None, None)
            since = time.time() - 1
            wp = env.wp()
            tag_sets = [[], ["bench"]]
            print(f"  creating {n} posts on WordPress ...", flush=True)
            for i in range(n):
                for attempt in range(5):  # the shared stack may be restarted by someone else
                    try:
                        wp.create_post(f"Backfill {i} {uuid.uuid4().hex[:8]} of the archive",
                                       f"<p>An old post of the archive, number {i}.</p>", status="publish",
                                       tags=tag_sets[i % 2])
                        break
                    except WordPressUnavailable:
                        time.sleep(2)
                        wp = env.wp()
            import datetime as dt

            mirror = Mirror(env.settings, env.engine, max_wait=None)
            report = bf.plan(env.settings, env.engine, env.site_name,
                             dt.datetime.fromtimestamp(since, dt.timezone.utc), mirror)
            time.sleep(window)  # a fresh rate-limit window for the measured run
            counter = Counter(forum.url)
            bf.run(env.settings, env.engine, env.site_name, report, mirror, threads=4)
            achieved = counter.n / report.seconds
            return {"posts": len(report.todo), "created": report.created, "failed": len(report.failed),
                    "requests": counter.n, "seconds": report.seconds, "rate": achieved,
                    "budget": rpm / 60, "fraction": achieved / (rpm / 60), "statuses": counter.statuses}
        finally:
            env.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--publishes", type=int, default=20)
    ap.add_argument("--latency-posts", type=int, default=30)
    ap.add_argument("--latency-gap", type=float, default=4.0,
                    help="(b): seconds from one publish to the next (the forum idle between them)")
    ap.add_argument("--backfill-posts", type=int, default=500)
    ap.add_argument("--limit", type=int, default=60)
    ap.add_argument("--window", type=float, default=10)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: a,b,c")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    stack = stack_info()
    ok = True
    with DiscourseDouble() as forum, tempfile.TemporaryDirectory() as tmp:
        ensure_categories(forum)
        env = MirrorEnv(stack, forum, Path(tmp))
        try:
            if "a" not in skip:
                times = publish_times(env, args.publishes)
                base = statistics.median(times["inactive"])
                print(f"(a) WordPress publish request, median of {args.publishes} (REST POST /wp/v2/posts):")
                for mode, values in times.items():
                    med = statistics.median(values)
                    print(f"    {mode:<22} median {med * 1000:7.1f} ms  p90 {pct(values, 90) * 1000:7.1f} ms  "
                          f"ratio {med / base:5.3f}")
                    if mode != "inactive" and med / base > 1.05:
                        ok = False
        finally:
            write_wp_constants(None, None)
            env.close()
        if "b" not in skip:
            # The `make run` configuration: workers poll once a second, 60 forum requests a minute.
            (Path(tmp) / "b").mkdir()
            env = MirrorEnv(stack, forum, Path(tmp) / "b", requests_per_minute=60,
                            outbox={"poll_interval_seconds": 1.0})
            try:
                counter = Counter(forum.url)
                lat = latency(env, args.latency_posts, args.latency_gap)
                per_topic = counter.n / len(lat)
                print(f"(b) publish -> topic via web hook, make run configuration (poll 1 s, 60 requests/min), "
                      f"{len(lat)} posts {args.latency_gap:g} s apart: p50 {pct(lat, 50):.3f} s  p99 {pct(lat, 99):.3f} s  "
                      f"max {max(lat):.3f} s; {per_topic:.2f} forum requests per new topic")
                ok &= pct(lat, 99) <= 0.5
            finally:
                write_wp_constants(None, None)
                env.close()
    if "c" not in skip:
        r = backfill(stack, args.backfill_posts, args.limit, args.window)
        print(f"(c) backfill of {r['posts']} posts under {args.limit} requests per {args.window:g} s: "
              f"{r['created']} created, {r['failed']} failed, {r['requests']} forum requests in {r['seconds']:.1f} s "
              f"= {r['rate']:.3f} req/s, {r['fraction']:.3f} of the budget ({r['budget']:.1f} req/s); "
              f"answers {r['statuses']}")
        ok &= r["fraction"] >= 0.95 and r["failed"] == 0
    print("goals met" if ok else "GOALS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
