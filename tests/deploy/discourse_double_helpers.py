"""Small real HTTP servers the Discourse double's tests talk to: a web hook receiver and a
minimal DiscourseConnect provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from doubles.webhook_receiver import WebhookReceiver, _Server  # noqa: F401 - re-exported for the tests


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
