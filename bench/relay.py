"""The relay: EVENTS events x 3 targets through the outbox to local sinks, on SQLite and PostgreSQL.

    python bench/relay.py [--events 1000] [--threads 4] [--skip sqlite,postgresql]

Targets (one relay.deliver job per event and target, as in production):
- irc: the IRC target on the local stack's ngircd (deploy/dev/stack.sh up), one channel, a
  plain-socket listener in it counting the lines; pacing raised to 2000 lines/s burst 100
  (the dev ngircd has MaxPenaltyTime = 0; Libera.Chat would need the default 1 line/s);
- apprise: the Apprise target with a json:// URL to a local HTTP sink (ThreadingHTTPServer);
- wiki: the wiki target on an in-process wiki stub (dict of pages; marker check, prepend,
  subscriber sections as on MediaWiki) with edits_per_minute lifted: the real MediaWiki of the
  stack paces at the configured edit rate and is measured by tests, not here.
One producer thread queues the events one transaction each (relay()), as fast as it can or
at RATE events/s (--rate), while THREADS worker threads deliver. Latency: from the event's relay() call to the return of the
target's deliver() (the IRC line written, the HTTP answer received, the wiki edit made).
Prints deliveries/s (all deliveries over the time from the first relay() to the last
delivery) and p50/p99 latency per database.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bridge import config, store  # noqa: E402
from bridge.clients.mediawiki import PageNotFound, PageRevision  # noqa: E402
from bridge.outbox import Outbox, Worker  # noqa: E402
from sync.relay import targets as targets_mod  # noqa: E402
from sync.relay.deliver import DELIVER, deliver_handler, relay  # noqa: E402
from sync.relay.events import Event  # noqa: E402
from sync.relay.targets import irc as irc_mod  # noqa: E402
from sync.relay.targets.wiki import WikiTarget  # noqa: E402


class WikiStub:
    def __init__(self):
        self.pages: dict[str, str] = {"Subs": "* [[User talk:Bench]]\n"}
        self.edits = 0
        self.lock = threading.Lock()

    def get_wikitext(self, title):
        with self.lock:
            if title not in self.pages:
                raise PageNotFound(title)
            return self.pages[title]

    def page_revision(self, title, redirects=False):  # the wiki target reads pages this way
        return PageRevision(title, 1, 1, "wikitext", self.get_wikitext(title))

    def revision_id(self, title, redirects=False):
        return 1 if title in self.pages else None

    def prepend_text(self, title, text, summary):
        with self.lock:
            self.pages[title] = text + self.pages.get(title, "")
            self.edits += 1

    def append_text(self, title, text, summary):
        with self.lock:
            self.pages[title] = self.pages.get(title, "") + text
            self.edits += 1

    def append_section(self, title, heading, text, summary):
        self.append_text(title, f"\n== {heading} ==\n{text}", summary)

    def close(self):
        pass


class Sink(BaseHTTPRequestHandler):
    count = 0
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with Sink.lock:
            Sink.count += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


class IrcListener(threading.Thread):
    def __init__(self, host, port, channel):
        super().__init__(daemon=True)
        self.sock = socket.create_connection((host, port), timeout=10)
        nick = "bl" + uuid.uuid4().hex[:6]
        self.sock.sendall(f"NICK {nick}\r\nUSER {nick} 0 * :bench\r\nJOIN {channel}\r\n".encode())
        self.channel, self.count, self.joined = channel, 0, threading.Event()
        self.start()

    def run(self):
        buf = b""
        self.sock.settimeout(None)
        while True:
            data = self.sock.recv(65536)
            if not data:
                return
            buf += data
            *lines, buf = buf.split(b"\r\n")
            for line in lines:
                if line.startswith(b"PING"):
                    self.sock.sendall(b"PONG" + line[4:] + b"\r\n")
                elif f" PRIVMSG {self.channel} :".encode() in line:
                    self.count += 1
                elif b" 366 " in line:
                    self.joined.set()


def run(db_url: str, n: int, threads: int, stack: dict, label: str, rate: float = 0.0) -> dict:
    engine = store.make_engine(db_url)
    store.upgrade(engine)
    channel = "#bench" + uuid.uuid4().hex[:6]
    listener = IrcListener(stack["irc"]["host"], stack["irc"]["port"], channel)
    listener.joined.wait(10)
    http = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    Sink.count = 0
    wiki = WikiStub()
    settings = config.parse({
        "bridge": {"public_url": "http://127.0.0.1:8090", "secret_key": "bench-secret-key-0123456789abcdef0123",
                   "database_url": db_url, "state_dir": tempfile.mkdtemp(), "log_level": "warning"},
        "outbox": {"poll_interval_seconds": 0.02, "batch_size": 20, "max_attempts": 5,
                   "backoff_base_seconds": 0.05, "backoff_max_seconds": 0.5},
        "relay": {"targets": [
            {"name": "irc", "kind": "irc", "options": {"server": stack["irc"]["host"], "port": stack["irc"]["port"],
                                                       "nick": "bb" + uuid.uuid4().hex[:6], "channel": channel,
                                                       "lines_per_second": 2000, "burst": 100}},
            {"name": "chat", "kind": "apprise", "options": {"url": f"json://127.0.0.1:{http.server_port}/"}},
            {"name": "wiki", "kind": "wiki", "options": {"page": "Feed", "subscribers_page": "Subs",
                                                         "edits_per_minute": 10 ** 7}}],
            "rules": [{"events": ["*"], "targets": ["irc", "chat", "wiki"]}]},
    })
    started_at: dict[str, float] = {}
    latencies: list[float] = []
    lat_lock = threading.Lock()
    saved = dict(targets_mod.TARGET_KINDS)
    targets_mod.factory_for("irc"), targets_mod.factory_for("apprise")

    def timed(factory):
        def build(s, t):
            inner = factory(s, t)

            class Timed:
                def deliver(self, message, event):
                    inner.deliver(message, event)
                    with lat_lock:
                        latencies.append(time.monotonic() - started_at[event.id])
            return Timed()
        return build

    targets_mod.TARGET_KINDS.update({
        "irc": timed(targets_mod.TARGET_KINDS["irc"]), "apprise": timed(targets_mod.TARGET_KINDS["apprise"]),
        "wiki": timed(lambda s, t: WikiTarget(s, t, client=wiki))})
    outbox = Outbox(engine, settings.outbox)
    worker = Worker(outbox, {DELIVER: deliver_handler(settings)}, threads=threads, name=f"bench-{label}")
    running = worker.start()
    t0 = time.monotonic()
    for i in range(n):
        e = Event(id=f"bench:{label}:{i}:{uuid.uuid4().hex[:6]}", type="topic.created", author="Bench",
                  title=f"Bench topic {i}", url=f"https://space.example/t/{i}", category="news")
        if rate:
            time.sleep(max(0.0, t0 + i / rate - time.monotonic()))
        started_at[e.id] = time.monotonic()
        relay(engine, settings, e)
    produced = time.monotonic() - t0
    deadline = time.monotonic() + 600
    while len(latencies) < 3 * n and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.monotonic() - t0
    worker.stop(running)
    time.sleep(1)
    irc_mod.close_all()
    http.shutdown()
    targets_mod.TARGET_KINDS.clear()
    targets_mod.TARGET_KINDS.update(saved)
    counts = outbox.counts()
    engine.dispose()
    lat = sorted(latencies)
    return {"db": label, "rate": rate or "max", "threads": threads, "events": n, "deliveries": len(lat), "irc_lines_seen": listener.count,
            "http_posts_seen": Sink.count, "wiki_edits": wiki.edits, "jobs": counts,
            "produce_s": round(produced, 2), "elapsed_s": round(elapsed, 2),
            "deliveries_per_s": round(len(lat) / elapsed, 1),
            "p50_ms": round(statistics.median(lat) * 1000, 1) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--skip", default="")
    ap.add_argument("--rate", type=float, default=0.0, help="events queued per second (0: as fast as possible)")
    ap.add_argument("--postgres", default=os.environ.get(
        "SPACE_TEST_POSTGRES_URL", "postgresql://space_bridge:space_bridge@127.0.0.1:5432/postgres"))
    args = ap.parse_args()
    from bridge import logs

    logs.configure("console", "warning")
    stack = json.loads((ROOT / ".dev" / "stack.json").read_text())
    skip = set(args.skip.split(","))
    if "sqlite" not in skip:
        print(json.dumps(run(f"sqlite:///{tempfile.mkdtemp()}/bench.db", args.events, args.threads, stack, "sqlite", args.rate)))
    if "postgresql" not in skip:
        url = store.create_empty_database(args.postgres, "space_bridge_bench_relay")
        print(json.dumps(run(url, args.events, args.threads, stack, "postgresql", args.rate)))


if __name__ == "__main__":
    main()
