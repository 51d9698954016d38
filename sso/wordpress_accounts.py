"""Act on a member's WordPress account through the mu-plugin's signed REST routes.

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

Job ``sso.demote_wordpress`` (payload ``{"site": NAME, "sub": SUB}``): a locked member loses
every role on that site (``role``: ``""`` unless the payload names one) and is logged out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

import requests
import structlog

from bridge.outbox import Job, PermanentFailure, RetryLater

log = structlog.get_logger(__name__)

NAMESPACE = "/space-bridge/v1"
CONTEXT = "space-bridge-rest-v2"
DEFAULT_TIMEOUT = 5.0


class WordPressSSOError(Exception):
    """The mu-plugin refused or could not be reached; `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


def signature(secret: str, timestamp: int | str, method: str, target: str, body: bytes | str, nonce: str) -> str:
    """The mu-plugin's request signature; `target` is the route with "?query" when there is one."""
    if isinstance(body, str):
        body = body.encode()
    message = f"{CONTEXT}\n{timestamp}\n{nonce}\n{method.upper()}\n{target}\n".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


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


def _site(settings, name: str):
    wp = getattr(settings, "wordpress", None)
    for site in (wp.sites if wp else []):
        if site.name == name:
            return site
    return None


def _secret(site) -> str | None:
    secret = getattr(site, "connect_secret", None)
    return secret.get_secret_value() if secret is not None else None


def sso_sites(settings) -> list:
    """The WordPress sites that log members in through the bridge (a connect_secret is set)."""
    wp = getattr(settings, "wordpress", None)
    return [s for s in (wp.sites if wp else []) if _secret(s)]


def logout(site, external_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), _secret(site), "logout", {"external_id": str(external_id)}, timeout=timeout)


def demote(site, external_id: str, role: str = "", *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), _secret(site), "demote", {"external_id": str(external_id), "role": role},
                timeout=timeout)


def _run(settings, job: Job, action) -> None:
    name, sub = job.payload.get("site"), job.payload.get("sub")
    if not name or not sub:
        raise PermanentFailure("payload needs site and sub")
    site = _site(settings, name)
    if site is None or not _secret(site):
        raise PermanentFailure(f"no WordPress site {name!r} with a connect_secret")
    try:
        answer = action(site, str(sub))
    except WordPressSSOError as exc:
        if exc.status in (400, 401, 403, 404):
            raise PermanentFailure(str(exc)) from exc
        raise RetryLater(30, str(exc)) from exc
    log.info(f"{job.kind}.done", site=name, found=answer.get("found"), job_id=job.id)


def demote_handler(settings):
    """Handler of ``sso.demote_wordpress`` ({site, sub[, role]})."""
    def handle(job: Job) -> None:
        _run(settings, job, lambda site, sub: demote(site, sub, str(job.payload.get("role") or "")))
    return handle


def logout_handler(settings):
    """Handler of ``sso.logout_wordpress`` ({site, sub}): the retry of a failed single log-out."""
    def handle(job: Job) -> None:
        _run(settings, job, logout)
    return handle


def handlers(settings) -> dict:
    """The job kinds of this module, for bridge/jobs.py."""
    return {"sso.demote_wordpress": demote_handler(settings), "sso.logout_wordpress": logout_handler(settings)}
