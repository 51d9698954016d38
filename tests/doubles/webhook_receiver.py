"""A web hook receiver on 127.0.0.1 for tests: records every POST with its exact body bytes."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server:
    def __init__(self, handler_cls):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.httpd.owner = self
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class WebhookReceiver(_Server):
    """Records every POST (headers and the exact body bytes); answers with the next status of
    `statuses` (then 200)."""

    def __init__(self, statuses=None):
        self.received: list[dict] = []
        self.statuses = list(statuses or [])
        self.cond = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                owner = self.server.owner
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    status = owner.statuses.pop(0) if owner.statuses else 200
                    owner.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                           "status": status})
                    owner.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        super().__init__(Handler)

    def wait_for(self, predicate, timeout: float = 10.0) -> list[dict]:
        with self.cond:
            self.cond.wait_for(lambda: predicate(self.received), timeout)
            return list(self.received)

    def events(self) -> list[str]:
        return [r["headers"].get("X-Discourse-Event") for r in self.received]
