"""The bridge's own time per login hop of a DiscourseConnect login, with the upstream answered locally.

    python bench/sso.py [--logins 400] [--clients 4] [--workers 2] [--postgres URL]

What runs:

- the bridge as in production: ``space-bridge serve`` (gunicorn, ``--workers`` processes with 4
  gthread threads each), SQLite in WAL mode (or PostgreSQL with --postgres), log level warning;
- the Wikimedia double (deploy/dev/wikimedia_double, a separate process on loopback) as the
  OAuth 2.0 server: token exchange and profile at loopback speed;
- `--clients` browser threads (requests.Session each, one test member each), every one logging
  in `--logins / --clients` times: the forum's signed request is made by the script itself (as
  the forum would), and the answer is checked but not delivered to any forum.

Per login, three hops at the bridge are timed from the client (so each includes the loopback
HTTP round trip to gunicorn, ~0.3 ms):

1. ``verify``: ``GET /sso/discourse?sso&sig`` logged out: signature, return URL, used-nonce
   lookup, session bookkeeping, redirect to /login; plus ``GET /login`` (state + PKCE, redirect
   to Wikimedia);
2. ``callback``: ``GET /oauth/callback?code&state``: token request and profile request to the
   local double (their time included), policy, account upsert, session;
3. ``answer``: ``GET /sso/discourse?sso&sig`` logged in: nonce marked used, username, payload
   built and signed, platform recorded, redirect to the forum.

The browser's visit to the double's authorize endpoint (an approval remembered, so it answers
at once with a code) is between hops 1 and 2 and not counted. Each login starts with the
bridge's cookie forgotten, so every login is a complete one.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from doubles.wikimedia import DEFAULT_PASSWORD, WikimediaDouble  # noqa: E402

from sso import discourse_connect  # noqa: E402

SECRET = "bench-connect-secret"
FORUM = ""  # set in main(): a stub on loopback that answers 200 to anything (the forum is not measured)
MEMBERS = ["Alice Member", "Sysop Sam", "Ziko van Dijk", "Женя", "Old Timer"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_forum_stub() -> str:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def write_config(path: Path, port: int, wm: WikimediaDouble, db_url: str, workers: int) -> None:
    path.write_text(yaml.safe_dump({
        "bridge": {"public_url": f"http://127.0.0.1:{port}", "secret_key": secrets.token_hex(32),
                   "database_url": db_url, "listen": f"127.0.0.1:{port}", "http_workers": workers,
                   "state_dir": str(path.parent / "state"), "log_level": "warning"},
        "wikimedia": {"oauth_base_url": wm.url, "client_id": wm.client_id, "client_secret": wm.client_secret},
        "discourse": {"url": FORUM, "api_key": "bench", "connect_secret": SECRET,
                      "webhook_secret": "bench-webhook-secret"},
        "sso": {"discourse_groups": {"sysop": "wiki-admins"}, "discourse_admins": {"groups": ["bureaucrat"]}},
    }, allow_unicode=True))


def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def forum_request(bridge: str) -> str:
    sso, sig = discourse_connect.build_payload(
        {"nonce": secrets.token_hex(16), "return_sso_url": FORUM + "/session/sso_login"}, SECRET)
    return f"{bridge}/sso/discourse?" + urlencode({"sso": sso, "sig": sig})


class Member:
    """One browser: logged in at the double once (approval remembered), then logging in at the bridge."""

    def __init__(self, bridge: str, wm: WikimediaDouble, name: str):
        self.bridge, self.wm, self.name = bridge, wm, name
        self.s = requests.Session()
        # first login: log in and approve at the double, following everything
        resp = self.s.get(forum_request(bridge), timeout=30)
        resp = wm.complete_login(self.s, resp, name, DEFAULT_PASSWORD)
        assert resp.url.startswith(FORUM + "/session/sso_login?sso="), resp.url

    def forget_bridge(self) -> None:
        host = urlsplit(self.bridge).hostname
        for c in list(self.s.cookies):
            if c.name == "session" and c.domain.lstrip(".") in (host, f"{host}.local"):
                self.s.cookies.clear(c.domain, c.path, c.name)

    def login(self) -> dict[str, float]:
        self.forget_bridge()
        get = lambda url: self.s.get(url, allow_redirects=False, timeout=30)  # noqa: E731
        t0 = time.perf_counter()
        r = get(forum_request(self.bridge))                    # -> /login?next=...
        assert r.status_code == 302, r.status_code
        r = get(self.bridge + r.headers["Location"] if r.headers["Location"].startswith("/") else r.headers["Location"])
        assert r.status_code == 302 and r.headers["Location"].startswith(self.wm.url), r.headers.get("Location")
        t1 = time.perf_counter()
        r = get(r.headers["Location"])                         # the double: remembered approval -> code
        while r.status_code in (301, 302, 303, 307) and "/oauth/callback" not in r.headers["Location"]:
            r = get(r.headers["Location"] if "://" in r.headers["Location"] else self.wm.url + r.headers["Location"])
        assert r.status_code in (302, 303) and "/oauth/callback" in r.headers["Location"], (r.status_code, r.headers.get("Location"))
        callback = r.headers["Location"]
        t2 = time.perf_counter()
        r = get(callback)                                      # token + profile + policy + upsert
        assert r.status_code == 302, (r.status_code, r.text[:300])
        t3 = time.perf_counter()
        nxt = r.headers["Location"]
        r = get(self.bridge + nxt if nxt.startswith("/") else nxt)   # the signed answer
        t4 = time.perf_counter()
        assert r.status_code == 302 and r.headers["Location"].startswith(FORUM + "/session/sso_login?sso="), r.status_code
        q = parse_qs(urlsplit(r.headers["Location"]).query)
        assert discourse_connect.verify(q["sso"][0], q["sig"][0], SECRET)
        return {"verify": t1 - t0, "callback": t3 - t2, "answer": t4 - t3, "bridge_total": (t1 - t0) + (t4 - t2)}


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--logins", type=int, default=400)
    ap.add_argument("--clients", type=int, default=4, choices=range(1, len(MEMBERS) + 1))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--postgres", default=None, help="admin URL; a fresh database space_bridge_bench_sso is made")
    args = ap.parse_args()
    global FORUM
    FORUM = start_forum_stub()

    tmp = Path(tempfile.mkdtemp(prefix="bench-sso-"))
    port = free_port()
    bridge = f"http://127.0.0.1:{port}"
    if args.postgres:
        from bridge.store import create_empty_database

        db_url = create_empty_database(args.postgres, "space_bridge_bench_sso")
    else:
        db_url = f"sqlite:///{tmp}/bridge.db"
    with WikimediaDouble(redirect_uri=bridge + "/oauth/callback") as wm:
        cfg = tmp / "space.yaml"
        write_config(cfg, port, wm, db_url, args.workers)
        exe = str(Path(sys.executable).with_name("space-bridge"))
        subprocess.run([exe, "--config", str(cfg), "db", "upgrade"], check=True, capture_output=True)
        serve = subprocess.Popen([exe, "--config", str(cfg), "serve"], stdout=subprocess.DEVNULL,
                                 stderr=open(tmp / "serve.err", "w"), env={**os.environ})
        try:
            wait_http(bridge + "/healthz")
            members = [Member(bridge, wm, name) for name in MEMBERS[: args.clients]]
            for m in members:  # warm-up: one login each
                m.login()
            per_client = max(1, args.logins // args.clients)
            results: list[dict[str, float]] = []
            lock = threading.Lock()

            def run(member: Member) -> None:
                for _ in range(per_client):
                    r = member.login()
                    with lock:
                        results.append(r)

            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(run, members))
            elapsed = time.perf_counter() - t0
        finally:
            serve.terminate()
            serve.wait(30)

    db = "PostgreSQL" if args.postgres else "SQLite"
    print(f"{len(results)} logins, {args.clients} clients, bridge: gunicorn {args.workers} workers x 4 threads "
          f"on {os.cpu_count()} cores, {db}")
    print(f"{'hop':<14}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for hop in ("verify", "callback", "answer", "bridge_total"):
        vals = [r[hop] * 1000 for r in results]
        print(f"{hop:<14}{pct(vals, 50):>10.1f}{pct(vals, 99):>10.1f}{statistics.mean(vals):>10.1f}")
    print(f"complete logins/s (incl. the double's authorize step): {len(results) / elapsed:.1f}")


if __name__ == "__main__":
    main()
