"""Small real HTTP servers the Discourse double's tests talk to: a web hook receiver and a
minimal DiscourseConnect provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit


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


class ConnectProvider(_Server):
    """A DiscourseConnect provider: GET /sso?sso=..&sig=.. checks the signature, reads nonce and
    return_sso_url, and redirects back with the fields of `self.user` signed with the secret."""

    def __init__(self, secret: str):
        self.secret = secret
        self.user: dict = {}
        self.requests: list[dict] = []
        self.last_redirect: str | None = None

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                owner = self.server.owner
                q = parse_qs(urlsplit(self.path).query)
                sso, sig = q.get("sso", [""])[0], q.get("sig", [""])[0]
                expected = hmac.new(owner.secret.encode(), sso.encode(), hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, sig):
                    self.send_response(403)
                    self.end_headers()
                    return
                fields = {k: v[0] for k, v in parse_qs(base64.b64decode(sso).decode()).items()}
                owner.requests.append(fields)
                payload = dict(owner.user, nonce=fields["nonce"])
                out_sso, out_sig = sign_payload(payload, owner.secret)
                location = fields["return_sso_url"] + "?" + urlencode({"sso": out_sso, "sig": out_sig})
                owner.last_redirect = location
                self.send_response(302)
                self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *a):
                pass

        super().__init__(Handler)


def sign_payload(fields: dict, secret: str) -> tuple[str, str]:
    raw = urlencode({k: ("true" if v is True else "false" if v is False else v) for k, v in fields.items()})
    sso = base64.b64encode(raw.encode()).decode()
    return sso, hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()


def load_spec() -> dict:
    from discourse_double.spec import find_spec_path

    return json.loads(find_spec_path().read_text())
