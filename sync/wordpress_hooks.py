"""`POST /webhooks/wordpress/<site>`: a WordPress site says one of its posts changed.

The site's space-bridge-mirror.php mu-plugin signs each web hook with the site's
`webhook_secret`::

    X-Space-Bridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>

The bridge checks the signature in constant time and the time against
`mirror.webhook_max_age_seconds` (both ways, for clock skew), then only records a
`mirror.post` job (idempotency key: site + post id + modified time + status, so a replayed or
repeated web hook queues nothing new; the event, e.g. status:trash>publish, is
part of the key because `modified` has one-second precision) and answers 202. Forged, unsigned or stale web hooks get
401 and queue nothing. The body (``{"post_id", "modified_gmt", "status", "event"}``) is a hint:
the job reads the post from WordPress.

A test hook (``{"event": "test", "nonce": "<32 lowercase hex>"}``), which the mu-plugin sends when
`space-bridge doctor` asks it to (its route POST /space-bridge/v1/test-hook), is verified the
same way, then queues and publishes nothing and is answered 200 ``{"nonce": <its nonce>}``: the
echo tells the doctor the hook arrived and its signature was accepted. Each doctor run sends a new
nonce; a replay within the window gets the same harmless echo.
"""

from __future__ import annotations

import re
import time

import structlog
from flask import Blueprint, current_app, jsonify, request

from bridge import events, signing
from sync import webhooks
from sync.mirror import enqueue_post

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Space-Bridge-Signature"

# The body's hints, in the alphabets the mu-plugin sends them (space-bridge-mirror.php `send`):
# a post_modified_gmt ("Y-m-d H:i:s"), a post_status (wp_insert_post stores it through
# sanitize_key, in a varchar(20): wp-includes/post.php) or "deleted", and the event it remembered
# ("edit", "terms", "deleted", "status:OLD>NEW").
_MODIFIED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z?|", re.ASCII)
_STATUS = re.compile(r"[a-z0-9_-]{0,20}", re.ASCII)
_EVENT = re.compile(r"[a-z]{0,10}(:[a-z0-9_-]{0,20}>[a-z0-9_-]{0,20})?", re.ASCII)
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_HEX_MAC = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
#: The test hook's nonce, as the mu-plugin accepts it (space-bridge-mirror.php rest_test_hook).
_TEST_NONCE = re.compile(r"[0-9a-f]{32}", re.ASCII)
TEST_EVENT = "test"

bp = Blueprint("wordpress_hooks", __name__)


class BadSignature(Exception):
    pass


def _signed_text(t: int | str, body: bytes) -> bytes:
    """What the mu-plugin signs: the timestamp, a dot, the raw body."""
    return f"{t}.".encode("ascii") + body


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    t = int(time.time() if timestamp is None else timestamp)
    return f"t={t},v1={signing.sign(secret, _signed_text(t, body))}"


def verify(body: bytes, header: str | None, secret: str, max_age: float, now: float | None = None) -> int:
    """The signed timestamp, or BadSignature (missing, malformed, stale, mismatch)."""
    if not header:
        raise BadSignature("missing")
    parts = dict(p.strip().partition("=")[::2] for p in header.split(",") if "=" in p)
    t, mac = parts.get("t", ""), parts.get("v1", "")
    # ASCII digits only: str.isdigit() and int() also take "²" or "٣", which the signed text cannot hold
    if not _TIMESTAMP.fullmatch(t) or not _HEX_MAC.fullmatch(mac):
        raise BadSignature("malformed")
    if not signing.verify(secret, _signed_text(t, body), mac):
        raise BadSignature("mismatch")
    if abs((time.time() if now is None else now) - int(t)) > max_age:
        raise BadSignature("stale")
    return int(t)


def signed_request(site_name: str, refused_event: str = "mirror.webhook_refused"):
    """(settings, engine, site, body) of a request the blog signed with its web hook secret, or
    the answer refusing it (404 unknown site, 401 bad signature). Every route a blog calls on the
    bridge checks the same way (this receiver, sync/discussion.py)."""
    ext = current_app.extensions["space_bridge"]
    settings, engine = ext["settings"], ext["engine"]
    try:
        site = settings.site(site_name)
    except KeyError:
        return jsonify(error="unknown site"), 404
    body = request.get_data(cache=False)  # at most bridge.max_body_bytes (bridge/app.py)
    try:
        verify(body, request.headers.get(SIGNATURE_HEADER), site.webhook_secret.get_secret_value(),
               settings.mirror.webhook_max_age_seconds)
    except BadSignature as exc:
        log.warning(refused_event, site=site.name, reason=str(exc), remote=request.remote_addr)
        return jsonify(error="invalid signature", reason=str(exc)), 401
    return settings, engine, site, body


@bp.post("/webhooks/wordpress/<site_name>")
def wordpress_webhook(site_name: str):
    signed = signed_request(site_name)
    if len(signed) != 4:
        return signed
    settings, engine, site, body = signed
    try:
        data = webhooks.json_object(body)
    except ValueError as exc:
        return jsonify(error="expected a JSON object {post_id, modified_gmt, status, event}", detail=str(exc)), 400
    if data.get("event") == TEST_EVENT:
        return _test_hook(site.name, data)
    try:
        post_id = webhooks.positive_id(data.get("post_id"), "post_id")
        modified = webhooks.hint_text(data.get("modified_gmt"), "modified_gmt", _MODIFIED)
        status = webhooks.hint_text(data.get("status"), "status", _STATUS)
        event = webhooks.hint_text(data.get("event"), "event", _EVENT)
    except ValueError as exc:
        return jsonify(error="expected a JSON object {post_id, modified_gmt, status, event}", detail=str(exc)), 400
    with engine.begin() as conn:
        job_id, created = enqueue_post(conn, site.name, post_id, modified, status, source="webhook", event=event)
    events.publish(settings, engine, "blog.post_changed", site=site.name, post_id=post_id, status=status,
                   modified=modified, mirrored=settings.discourse is not None)
    log.info("mirror.webhook", site=site.name, post_id=post_id, status=status, wp_event=event,
             job_id=job_id, queued=created)
    return jsonify(queued=created, job_id=job_id), 202 if created else 200


def _test_hook(site_name: str, data: dict):
    """The doctor's test hook: echo its nonce, touch nothing."""
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not _TEST_NONCE.fullmatch(nonce):
        return jsonify(error="a test hook needs a nonce of 32 lowercase hexadecimal digits"), 400
    log.info("mirror.webhook_test", site=site_name)
    return jsonify(nonce=nonce), 200
