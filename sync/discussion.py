"""The editor's "Discussion" panel, bridge side: a post's discussion state, and re-attaching a
post to an existing forum topic.

The panel (deploy/wordpress/space-bridge-discussion.php) asks WordPress, which asks the bridge
server-side with the site's mirror web hook secret. Both routes live beside the mirror's web hook
receiver (`/webhooks/wordpress/<site>`, sync/wordpress_hooks.py), so the mu-plugin finds them from
the one URL it is configured with, and they are signed exactly as its web hooks are::

    X-Space-Bridge-Signature: t=<unix time>,v1=<hex HMAC-SHA256(webhook_secret, "<t>." + raw body)>

checked by the same function (`wordpress_hooks.verify`: constant-time comparison through
bridge/signing.py, the time within `mirror.webhook_max_age_seconds` either way). A signature
replayed inside that window can only ask again what was asked: the status route reads, and the
link route is idempotent (the same post and topic a second time change nothing and queue nothing).

`POST /webhooks/wordpress/<site>/discussion/status` ``{"post_id"}``
    What the panel shows beyond the post's meta: ``state`` (published, unlisted, pending, failed,
    not_yet), the mapping row's ``note`` (e.g. "title padded"), and the post's latest mirror job
    (state, attempts, last error). The meta holds only the topic and the last sync time; the
    state and note are the bridge's (mapping table and outbox).

`POST /webhooks/wordpress/<site>/discussion/link` ``{"post_id", "topic_id", "user"?}``
    An operator re-attaches a post to a forum topic after a migration. The topic is read through
    the Discourse client: an unknown or deleted topic is refused (404, naming it), as is a topic
    that is already another post's discussion (409, naming that post). Otherwise the mapping row
    is written (fingerprint empty, as when the mirror adopts a topic by external id in
    sync/mirror.py `_recover`, so the next mirror job brings the topic in step with the post) and
    two jobs are queued: `mirror.replies`, which writes the post's meta (topic id and URL, reply
    count, latest replies, last sync) from the topic, and `mirror.post`, which updates the topic.
    The meta is written by the worker and not inside this request: WordPress is waiting for the
    answer, and a write back to it from here would hold one of its PHP workers on another.

"Sync now" needs no route here: the mu-plugin sends its ordinary signed web hook
(space-bridge-mirror.php `send`), which the receiver turns into the mirror job.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
import structlog
from flask import Blueprint, current_app, jsonify

from bridge import platforms
from bridge.clients.discourse import DiscourseClient, DiscourseError
from bridge.config import Settings
from bridge.outbox import enqueue
from bridge.store import outbox_jobs, reader
from sync import mapping, render, webhooks
from sync.mirror import KIND_POST
from sync.replies import KIND_REPLIES
from sync.wordpress_hooks import signed_request

log = structlog.get_logger(__name__)

bp = Blueprint("discussion", __name__)

#: How long the route may wait for the forum's pacing slot: the operator is waiting on the page.
FORUM_MAX_WAIT = 5.0
#: Who asked (a WordPress user_login: sanitize_user keeps these, wp-includes/formatting.php), for logs and the note.
_USER = re.compile(r"[A-Za-z0-9 _.@-]{0,60}", re.ASCII)

STATES = ("published", "unlisted", "pending", "failed", "not_yet")


def forum_client(settings: Settings) -> DiscourseClient:
    """The forum's client of this app (one per app, so its requests share one pacing)."""
    ext = current_app.extensions["space_bridge"]
    client = ext.get("discussion_forum")
    if client is None:
        client = ext["discussion_forum"] = platforms.discourse(settings, max_wait=FORUM_MAX_WAIT)
    return client


def latest_job(conn: sa.Connection, site: str, post_id: int) -> dict[str, Any] | None:
    """The post's latest `mirror.post` job (every one carries the post's concurrency key)."""
    c = outbox_jobs.c
    row = conn.execute(sa.select(c.id, c.state, c.attempts, c.last_error, c.updated_at)
                       .where(c.kind == KIND_POST, c.concurrency_key == mapping.concurrency_key(site, post_id))
                       .order_by(c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    return {"id": row["id"], "state": row["state"], "attempts": row["attempts"], "last_error": row["last_error"],
            "updated_at": _iso(row["updated_at"])}


def state_of(row, job: dict[str, Any] | None) -> str:
    """One word for the panel: a job waiting or running is `pending`, a dead one `failed`
    (even when an older sync gave the post a topic: its last change did not reach the forum);
    otherwise the mapping row says `published` or `unlisted`, and no row `not_yet`."""
    if job is not None and job["state"] in ("pending", "running"):
        return "pending"
    if job is not None and job["state"] == "dead":
        return "failed"
    if row is None:
        return "not_yet"
    return "published" if row["listed"] else "unlisted"


def status(engine, site: str, post_id: int) -> dict[str, Any]:
    with reader(engine) as conn:
        row = mapping.by_post(conn, site, post_id)
        job = latest_job(conn, site, post_id)
    return {"post_id": post_id, "state": state_of(row, job), "job": job,
            "topic_id": row["topic_id"] if row else None, "topic_url": row["topic_url"] if row else None,
            "note": row["note"] if row else None, "updated_at": _iso(row["updated_at"]) if row else None}


def _iso(value) -> str | None:
    return value.isoformat() + ("Z" if value.tzinfo is None else "") if value is not None else None


class Refused(Exception):
    def __init__(self, status: int, error: str, **detail: Any):
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def link(settings: Settings, engine, forum: DiscourseClient, site: str, post_id: int, topic_id: int,
         user: str = "") -> dict[str, Any]:
    """Make `topic_id` the discussion of the site's post, or raise Refused saying why."""
    with reader(engine) as conn:
        current = mapping.by_post(conn, site, post_id)
        holder = mapping.by_topic(conn, topic_id)
    if holder is not None and (holder["site"], holder["post_id"]) != (site, post_id):
        raise Refused(409, f"topic {topic_id} is already the discussion of post {holder['post_id']} "
                           f"on {holder['site']}", post_id=holder["post_id"], site=holder["site"])
    if current is not None and current["topic_id"] == topic_id:
        return {"linked": True, "changed": False, "topic_id": topic_id, "topic_url": current["topic_url"],
                "jobs": []}
    try:
        topic = forum.get_topic(topic_id)
    except DiscourseError as exc:
        raise Refused(502, f"the forum could not be asked about topic {topic_id}: {exc}") from None
    if topic is None:
        raise Refused(404, f"there is no topic {topic_id} on the forum (or the bridge's account cannot see it)")
    if topic.deleted:
        raise Refused(404, f"topic {topic_id} is deleted on the forum")
    who = f" by {user}" if user else ""
    try:
        row = mapping.put(engine, site=site, post_id=post_id, external_id=render.external_id(site, post_id),
                          topic_id=topic.id, topic_url=topic.url, title=topic.title, fingerprint="",
                          listed=topic.visible, wp_modified=None,
                          note=f"linked to an existing topic{who}" + (f" (was topic {current['topic_id']})"
                                                                      if current is not None else ""))
    except sa.exc.IntegrityError:
        # Another post took the topic between the look-up and the write (topic_id is unique).
        raise Refused(409, f"topic {topic_id} is already the discussion of another post") from None
    stamp = row["updated_at"].isoformat()
    key = mapping.concurrency_key(site, post_id)
    with engine.begin() as conn:
        replies_job, _ = enqueue(conn, KIND_REPLIES, {"topic_id": topic.id, "event": "link"},
                                 key=f"discussion:link:replies:{site}:{post_id}:{topic.id}:{stamp}"[:255],
                                 concurrency_key=key)
        post_job, _ = enqueue(conn, KIND_POST, {"site": site, "post_id": post_id, "source": "link", "hint": {}},
                              key=f"discussion:link:post:{site}:{post_id}:{topic.id}:{stamp}"[:255],
                              concurrency_key=key)
    log.info("discussion.linked", site=site, post_id=post_id, topic_id=topic.id, user=user or None,
             previous_topic_id=current["topic_id"] if current is not None else None)
    return {"linked": True, "changed": True, "topic_id": topic.id, "topic_url": topic.url,
            "jobs": [replies_job, post_job]}


def _signed_request(site_name: str):
    """(settings, engine, site, post_id, fields) of a signed request, or a Flask answer refusing it."""
    signed = signed_request(site_name, "discussion.refused")
    if len(signed) != 4:
        return signed
    settings, engine, site, body = signed
    try:
        fields = webhooks.json_object(body)
        post_id = webhooks.positive_id(fields.get("post_id"), "post_id")
    except ValueError as exc:
        return jsonify(error="expected a JSON object with post_id", detail=str(exc)), 400
    return settings, engine, site, post_id, fields


@bp.post("/webhooks/wordpress/<site_name>/discussion/status")
def discussion_status(site_name: str):
    signed = _signed_request(site_name)
    if not isinstance(signed, tuple) or len(signed) != 5:
        return signed
    settings, engine, site, post_id, _fields = signed
    return jsonify(mirrored=settings.discourse is not None, **status(engine, site.name, post_id)), 200


@bp.post("/webhooks/wordpress/<site_name>/discussion/link")
def discussion_link(site_name: str):
    signed = _signed_request(site_name)
    if not isinstance(signed, tuple) or len(signed) != 5:
        return signed
    settings, engine, site, post_id, fields = signed
    if settings.discourse is None:
        return jsonify(error="this bridge mirrors to no forum (no discourse section)"), 503
    try:
        topic_id = webhooks.positive_id(fields.get("topic_id"), "topic_id")
        user = webhooks.hint_text(fields.get("user"), "user", _USER)
    except ValueError as exc:
        return jsonify(error="expected a JSON object {post_id, topic_id, user}", detail=str(exc)), 400
    try:
        answer = link(settings, engine, forum_client(settings), site.name, post_id, topic_id, user)
    except Refused as exc:
        log.info("discussion.link_refused", site=site.name, post_id=post_id, topic_id=topic_id, error=exc.error)
        return jsonify(error=exc.error, **exc.detail), exc.status
    return jsonify(**answer), 200
