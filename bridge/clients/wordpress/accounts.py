"""WordPress admin client: signed requests to the space-bridge mu-plugin's REST routes.

The mu-plugin (deploy/wordpress/space-bridge/sso.php) exposes, under ``/wp-json/space-bridge/v1``:

- ``POST /logout {"external_id"}``: destroys every session of the user linked to that
  external_id (``WP_Session_Tokens::destroy_all``);
- ``POST /demote {"external_id", "role"}``: sets the role (``""``: none) and destroys the sessions.

Each request is signed with the site's DiscourseConnect secret (``wordpress.sites[].connect_secret``,
the mu-plugin's ``SPACE_BRIDGE_SSO_SECRET``), domain-separated from the handshake's signatures:

    X-Space-Bridge-Timestamp: <unix seconds>
    X-Space-Bridge-Nonce: <32 hex digits, new for every request>
    X-Space-Bridge-Signature: hex HMAC-SHA256(secret,
        "space-bridge-rest-v2\n{ts}\n{nonce}\n{METHOD}\n{route}[?{query}]\n{body}")

``route`` is the REST route (``/space-bridge/v1/logout``) followed by ``?`` and the query string
exactly as sent when there is one; ``body`` the raw JSON body, from which alone the plugin reads
the parameters. A signature made for one method, route, query or body fails on any other. The
plugin refuses a timestamp more than 300 s away and records each nonce with one INSERT that
fails for a nonce already seen, so a request is accepted once even when replayed concurrently.

The external_id is the member's Wikimedia `sub` (what the bridge's DiscourseConnect answer
carries as ``external_id``).

The mirror mu-plugin (deploy/wordpress/space-bridge-mirror.php) has one route of the same kind,
signed the same way but with the site's web hook secret (``wordpress.sites[].webhook_secret``, its
``SPACE_BRIDGE_MIRROR_SECRET``), since a mirrored blog need not log members in:

- ``POST /test-hook {"nonce"}`` (:func:`send_test_hook`): the blog sends its web hook
  ``{"event": "test", "nonce"}`` to the bridge at once and answers what came back
  (``{"sent", "status", "error", "nonce_echo", "url", "version"}``).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

import requests

from bridge import signing
from bridge.clients.errors import PlatformError

__all__ = ["CONTEXT", "DEFAULT_TIMEOUT", "NAMESPACE", "RETRY_SECONDS", "TEST_HOOK_TIMEOUT", "WordPressSSOError", "call",
           "signature", "send_test_hook", "signed_headers"]

NAMESPACE = "/space-bridge/v1"
CONTEXT = "space-bridge-rest-v2"
DEFAULT_TIMEOUT = 5.0
#: Seconds to wait for the test-hook route: the blog itself waits up to 5 s for the bridge
#: (TEST_HOOK_TIMEOUT in space-bridge-mirror.php).
TEST_HOOK_TIMEOUT = 15.0
#: When a request that may succeed later is tried again.
RETRY_SECONDS = 30.0
#: Answers that repeating the same request cannot change: a malformed or unsigned request
#: (400, 401), a refused one (403), a route the site does not have (404).
_FINAL_STATUSES = (400, 401, 403, 404)


class WordPressSSOError(PlatformError):
    """The mu-plugin refused or could not be reached; `status` is the HTTP status (0: no answer).

    Retryable after :data:`RETRY_SECONDS` unless the status is one of the final refusals
    (400, 401, 403, 404): no answer, a 5xx or a 429 may go away.
    """

    def __init__(self, message: str, status: int = 0):
        retryable = status not in _FINAL_STATUSES
        super().__init__(message, status=status, retryable=retryable,
                         retry_after=RETRY_SECONDS if retryable else None)


def signature(secret: str, timestamp: int | str, method: str, target: str, body: bytes | str, nonce: str) -> str:
    """The mu-plugin's request signature; `target` is the route with "?query" when there is one."""
    if isinstance(body, str):
        body = body.encode()
    return signing.sign(secret, f"{CONTEXT}\n{timestamp}\n{nonce}\n{method.upper()}\n{target}\n".encode() + body)


def signed_headers(secret: str, method: str, target: str, body: bytes, *, now: float | None = None,
                   nonce: str | None = None) -> dict[str, str]:
    """The headers of one signed request (a fresh nonce unless one is given)."""
    ts = int(now if now is not None else time.time())
    nonce = nonce or secrets.token_hex(16)
    return {"Content-Type": "application/json",
            "X-Space-Bridge-Timestamp": str(ts),
            "X-Space-Bridge-Nonce": nonce,
            "X-Space-Bridge-Signature": signature(secret, ts, method, target, body, nonce)}


def call(site_url: str, secret: str, name: str, fields: Mapping[str, Any], *,
         timeout: float = DEFAULT_TIMEOUT, now: float | None = None,
         session: requests.Session | None = None) -> dict:
    """POST a signed request to the mu-plugin route `name`; the JSON answer, or WordPressSSOError."""
    route = f"{NAMESPACE}/{name}"
    body = json.dumps(dict(fields), separators=(",", ":")).encode()
    headers = signed_headers(secret, "POST", route, body, now=now)
    url = str(site_url).rstrip("/") + "/wp-json" + route
    try:
        resp = (session or requests).post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        raise WordPressSSOError(f"{url}: {type(exc).__name__}") from exc
    try:
        data = resp.json()
    except ValueError:
        data = None
    if resp.status_code != 200 or not isinstance(data, dict):
        code = data.get("code") if isinstance(data, dict) else None
        raise WordPressSSOError(f"{url}: HTTP {resp.status_code} {code or ''}".strip(), resp.status_code)
    return data


def send_test_hook(site_url: str, webhook_secret: str, nonce: str, *, timeout: float = TEST_HOOK_TIMEOUT,
              session: requests.Session | None = None) -> dict:
    """Ask the blog to send its web hook ``{"event": "test", "nonce"}`` to the bridge now.

    The answer says what the bridge answered the blog: ``status`` (0: no answer, ``error`` says
    why) and ``nonce_echo`` (the bridge echoes a test hook's nonce once it verified the signature,
    sync/wordpress_hooks.py). WordPressSSOError when the blog refuses: 404 without the route,
    401 for a secret that differs, 503 when its web hook is not configured."""
    return call(site_url, webhook_secret, "test-hook", {"nonce": nonce}, timeout=timeout, session=session)
