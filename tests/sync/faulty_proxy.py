"""An HTTP proxy in front of the Discourse double that answers the first requests with
failures (500, then 429 with Retry-After), then forwards everything, each request `delay`
seconds late (a slow forum)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests


class FaultyProxy:
    def __init__(self, target: str, plan: list[int], delay: float = 0.0):
        self.target = target.rstrip("/")
        self.delay = delay
        self.plan = list(plan)  # statuses to answer, in order, before forwarding
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with proxy.lock:
                    fault = proxy.plan.pop(0) if proxy.plan else None
                if fault is not None:
                    proxy.seen.append((self.command, self.path, fault))
                    payload = {"errors": ["fault injected"], "error_type": "rate_limit" if fault == 429 else None,
                               "extras": {"wait_seconds": 1} if fault == 429 else {}}
                    data = json.dumps(payload).encode()
                    self.send_response(fault)
                    self.send_header("Content-Type", "application/json")
                    if fault == 429:
                        self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                time.sleep(proxy.delay)
                r = requests.request(self.command, proxy.target + self.path, headers=headers, data=body,
                                     allow_redirects=False, timeout=30)
                proxy.seen.append((self.command, self.path, r.status_code))
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
