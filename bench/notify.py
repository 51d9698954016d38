"""Notify fan-out: 10,000 subscribers and one new post, on SQLite and PostgreSQL (issue 16).

    python bench/notify.py [--members 10000] [--threads 1,2] [--skip sqlite,postgresql] [--postgres ADMIN_URL]

For each database and each worker thread count, a fresh database (SQLite file in a temp dir, or
a scratch PostgreSQL database made and dropped through the admin URL) gets the migrations,
`--members` accounts and their notify preferences (bulk inserts, rows as `preferences.save`
stores them), all of them choosing new posts:

- channel: 60 % talk page (home wiki = the configured wiki), 40 % email (confirmed address);
- frequency: 80 % as it happens, 15 % daily, 5 % weekly (the last two fold into a digest);
- filters for new posts: 20 % a category (half of them the post's), 10 % tags (half of them
  one of the post's), 10 % languages (half of them the post's); the rest take any new post;
- message language: en, es or ar in turn.

Then one happening, a new blog post (`Happening` kind "new_post") written by the first member:

1. **plan**, timed step by step as the `notify.plan` job runs it: `preferences.wanting(engine,
   "new_posts")` (one index range), `plan()` (pure), `fanout.enqueue_deliveries()` (one
   transaction of outbox inserts, one `notify.deliver` job per delivery). The read and `plan()`
   are timed again warm (median of 5) and once more under tracemalloc for their peak Python
   allocation; the process's peak RSS is read after the real plan.
2. **deliver**: the real outbox worker (`bridge.outbox.Worker`, `--threads` job threads, batches
   of 20, polling every 10 ms) runs every queued job with `sync.notify.deliver.Sender.deliver`
   and null channels: each job is its share of a claim transaction, the ledger look-up, the
   preference re-read, the account read, the talk cap's count (talk), the unsubscribe link's
   signature, rendering (wikitext, or text + HTML email built into a MIME message), the ledger
   write (and the digest's pending row) and the completion transaction. Deliveries/s: jobs over
   the time from the worker's start to the last job's `finished_at`.

`NullTalk` / `NullEmail` are the real `TalkChannel` / `EmailChannel` (same `available`, same
`page()` checks) whose `send()` does no I/O: the talk page is "written", the email is built and
dropped. The talk cap (`notify.talk_edits_per_day`, 3) never applies with one event.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import sqlalchemy as sa  # noqa: E402

from bridge import config, logs, store  # noqa: E402
from bridge.config import OutboxSettings  # noqa: E402
from bridge.outbox import Outbox, Worker  # noqa: E402
from bridge.store import outbox_jobs, utcnow  # noqa: E402
from sync.notify import fanout, preferences  # noqa: E402
from sync.notify.channels import EmailChannel, TalkChannel  # noqa: E402
from sync.notify.deliver import DELIVER, Sender  # noqa: E402
from sync.notify.plan import NEW_POSTS, Happening, plan  # noqa: E402
from sync.notify.schema import pending, sent  # noqa: E402
from sync.notify.schema import preferences as prefs_table  # noqa: E402

WIKI = "es.wikipedia.org"
CATEGORY, OTHER_CATEGORY = "community-news", "technology"
TAGS, OTHER_TAGS = frozenset({"wikidata", "outreach"}), frozenset({"commons"})
LANGUAGE, OTHER_LANGUAGE = "es", "fr"


class NullTalk(TalkChannel):
    """The talk channel with its page checks, writing nothing: every section is "written"."""

    def send(self, page, message, mark, summary, **context) -> str:
        return "written"


class NullEmail(EmailChannel):
    """The email channel building the message as it would send it, then dropping it."""

    def send(self, to, message, headers, message_id_seed, lang) -> None:
        self.build(to, message, headers, message_id_seed, lang).as_bytes()


def settings_for(db_url: str):
    return config.parse({
        "bridge": {"public_url": "https://space.example/bridge", "secret_key": "bench-secret-key-0123456789abcdef",
                   "database_url": db_url, "log_format": "console", "log_level": "warning"},
        "wikimedia": {"oauth_base_url": "https://meta.wikimedia.org", "client_id": "c", "client_secret": "s"},
        "mediawiki": {"api_url": f"https://{WIKI}/w/api.php", "username": "Bot@x", "password": "p"},
        "notify": {"email": {"sender": "space@example.org", "smtp": {"host": "127.0.0.1", "port": 2525}}},
    }, "<bench notify>")


def member_prefs(i: int, rng: random.Random) -> preferences.Preferences:
    talk = rng.random() < 0.6
    r = rng.random()
    frequency = "instant" if r < 0.80 else "daily" if r < 0.95 else "weekly"
    categories = tags = languages = frozenset()
    if rng.random() < 0.20:
        categories = frozenset({CATEGORY if rng.random() < 0.5 else OTHER_CATEGORY})
    if rng.random() < 0.10:
        tags = frozenset({sorted(TAGS)[0]}) if rng.random() < 0.5 else OTHER_TAGS
    if rng.random() < 0.10:
        languages = frozenset({LANGUAGE if rng.random() < 0.5 else OTHER_LANGUAGE})
    return preferences.validate(preferences.Preferences(
        sub=str(100000 + i), events=frozenset({NEW_POSTS}), categories=categories, tags=tags, languages=languages,
        channel="talk" if talk else "email", frequency=frequency, wiki=WIKI if talk else None, updated_at=None,
        language=("en", "es", "ar")[i % 3]))


def populate(engine: sa.Engine, members: int, seed: int = 16) -> None:
    rng = random.Random(seed)
    now = utcnow()
    accounts, prefs = [], []
    for i in range(members):
        p = member_prefs(i, rng)
        accounts.append({"sub": p.sub, "username": f"Member {i}", "email": f"member{i}@example.org",
                         "email_confirmed": True, "realname": None, "groups": ["*", "user"], "editcount": 10,
                         "registered": None, "blocked": False, "platforms": [], "last_login_at": now,
                         "created_at": now, "updated_at": now, "session_generation": 0})
        prefs.append(preferences._row(p, now))  # the row `preferences.save` writes
    with engine.begin() as conn:
        for start in range(0, members, 1000):
            conn.execute(sa.insert(store.accounts), accounts[start:start + 1000])
            conn.execute(sa.insert(prefs_table), prefs[start:start + 1000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))  # as autovacuum would after a bulk load


def happening(author_sub: str) -> Happening:
    return Happening(id="wp:blog.example:4242:published", kind="new_post", title="Wikidata outreach in Spanish",
                     url="https://blog.example/2026/12/wikidata-outreach/", author_sub=author_sub,
                     author_name="Member 0", category=CATEGORY, tags=TAGS, language=LANGUAGE,
                     excerpt="A short excerpt of the post, as the feed keeps it. " * 4)


def ms(seconds: float) -> float:
    return seconds * 1000


def run(url: str, members: int, threads: int) -> dict:
    settings = settings_for(url)
    engine = store.make_engine(url)
    store.upgrade(engine)
    populate(engine, members)
    h = happening("100000")
    r: dict = {}

    # -- plan: as the notify.plan job (fanout.Planner.plan, then enqueue_deliveries) ------------
    t0 = time.perf_counter()
    wanting = preferences.wanting(engine, NEW_POSTS)
    t1 = time.perf_counter()
    deliveries = plan(h, {NEW_POSTS: wanting}, {})
    t2 = time.perf_counter()
    created = fanout.enqueue_deliveries(engine, h, deliveries)
    t3 = time.perf_counter()
    r.update(wanting=len(wanting), deliveries=len(deliveries), created=created, read_ms=ms(t1 - t0),
             plan_ms=ms(t2 - t1), enqueue_ms=ms(t3 - t2), total_ms=ms(t3 - t0),
             maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    by = {}
    for d in deliveries:
        by[(d.channel, d.frequency)] = by.get((d.channel, d.frequency), 0) + 1
    r["mix"] = by
    del wanting
    warm_read, warm_plan = [], []
    for _ in range(5):
        a = time.perf_counter()
        w = preferences.wanting(engine, NEW_POSTS)
        b = time.perf_counter()
        plan(h, {NEW_POSTS: w}, {})
        warm_read.append(ms(b - a))
        warm_plan.append(ms(time.perf_counter() - b))
    del w
    r["warm_read_ms"], r["warm_plan_ms"] = statistics.median(warm_read), statistics.median(warm_plan)
    tracemalloc.start()
    w = preferences.wanting(engine, NEW_POSTS)
    plan(h, {NEW_POSTS: w}, {})
    r["peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    del w

    # -- deliver: the real outbox worker, null channels -----------------------------------------
    sender = Sender(settings, engine, talk=NullTalk(settings), email=NullEmail(settings))
    outbox = Outbox(engine, OutboxSettings(batch_size=20, poll_interval_seconds=0.01))
    worker = Worker(outbox, {DELIVER: sender.deliver}, threads=threads)
    started_at = utcnow()
    t0 = time.perf_counter()
    running = worker.start()
    while True:
        c = outbox.counts()
        if c.get("done", 0) + c.get("dead", 0) >= created:
            break
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    worker.stop(running)
    with store.reader(engine) as conn:
        last = conn.execute(sa.select(sa.func.max(outbox_jobs.c.finished_at))
                            .where(outbox_jobs.c.kind == DELIVER)).scalar_one()
        r["ledger"] = dict(conn.execute(sa.select(sent.c.channel, sa.func.count()).group_by(sent.c.channel)).all())
        r["pending"] = conn.execute(sa.select(sa.func.count()).select_from(pending)).scalar_one()
    r["dead"] = c.get("dead", 0)
    r["deliver_s"] = min(wall, (last - started_at).total_seconds()) if last else wall
    r["deliver_per_s"] = created / r["deliver_s"]
    engine.dispose()
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=10000)
    ap.add_argument("--threads", default="1,2", help="worker job threads, comma-separated")
    ap.add_argument("--skip", default="", help="sqlite,postgresql")
    ap.add_argument("--postgres", default=os.environ.get(
        "SPACE_TEST_POSTGRES_URL", "postgresql://space_bridge:space_bridge@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    logs.configure("console", "warning")
    skip = {s for s in args.skip.split(",") if s}
    thread_counts = [int(t) for t in args.threads.split(",") if t]
    pg_name = "space_bridge_bench_notify"
    print(f"notify fan-out: {args.members} members choosing new posts, one new post; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in ("SQLite", "PostgreSQL"):
                if name.lower() in skip:
                    continue
                for threads in thread_counts:
                    url = (f"sqlite:///{tmp}/notify-{threads}.db" if name == "SQLite"
                           else store.create_empty_database(args.postgres, pg_name))
                    r = run(url, args.members, threads)
                    rows.append((name, threads, r))
                    mix = ", ".join(f"{ch}/{fr} {n}" for (ch, fr), n in sorted(r["mix"].items()))
                    print(f"{name}, {threads} thread(s): {r['wanting']} wanting, {r['deliveries']} deliveries "
                          f"({mix}); ledger {r['ledger']}, {r['pending']} pending for digests, {r['dead']} dead; "
                          f"peak RSS {r['maxrss_mb']:.0f} MB after the plan", flush=True)
    finally:
        if "postgresql" not in skip:
            admin = sa.create_engine(store.normalise_url(args.postgres), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))
            admin.dispose()
    print()
    print("| database | threads | deliveries | read wanting ms | plan() ms | enqueue ms | plan total ms "
          "| warm read / plan() ms | plan peak MB (tracemalloc) | deliver s | deliveries/s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, threads, r in rows:
        print(f"| {name} | {threads} | {r['deliveries']:,} | {r['read_ms']:.0f} | {r['plan_ms']:.0f} "
              f"| {r['enqueue_ms']:.0f} | **{r['total_ms']:.0f}** | {r['warm_read_ms']:.0f} / {r['warm_plan_ms']:.0f} "
              f"| {r['peak_mb']:.1f} | {r['deliver_s']:.1f} | **{r['deliver_per_s']:.0f}** |")
    return 0 if all(r["dead"] == 0 and r["created"] == r["deliveries"] for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
