"""`POST /webhooks/discourse`: the forum's web hook (set up by `space-bridge discourse setup`).

The delivery's signature is checked on the raw body (sync/webhooks.py, the discourse
`webhook_secret`); 401 when it does not match. A post event (post_created, post_edited,
post_destroyed, post_recovered) in a topic the mirror made queues `mirror.replies` for that
topic; anything else is acknowledged and ignored. The job reads the topic from the forum.
"""

from __future__ import annotations

import structlog
from flask import Blueprint, current_app, jsonify, request

from bridge import events
from bridge.outbox import enqueue
from bridge.store import reader
from sync import mapping, webhooks
from sync.relay import emit as relay_emit
from sync.replies import KIND_REPLIES

log = structlog.get_logger(__name__)

REPLY_EVENTS = {"post_created", "post_edited", "post_destroyed", "post_recovered"}

bp = Blueprint("discourse_hooks", __name__)


@bp.post("/webhooks/discourse")
def discourse_webhook():
    ext = current_app.extensions["space_bridge"]
    settings, engine = ext["settings"], ext["engine"]
    if settings.discourse is None:
        return jsonify(error="no forum configured"), 404
    body = request.get_data(cache=False)
    try:
        webhooks.verify_request(request.headers, body, settings.discourse.webhook_secret.get_secret_value())
    except webhooks.InvalidSignature as exc:
        log.warning("discourse.webhook_refused", reason=exc.reason, remote=request.remote_addr)
        return jsonify(error="invalid signature", reason=exc.reason), 401
    event = webhooks.event_of(request.headers)
    try:
        data = webhooks.json_object(body)  # every delivery is a JSON object, a ping's too ({"ping": "OK"})
    except ValueError as exc:
        return jsonify(error="the body is not a JSON object", detail=str(exc)), 400
    if settings.relay.rules:
        relay_emit.discourse_event(settings, engine, event.event, data)
    events.publish(settings, engine, "forum.webhook", event=event.event or "", data=data)
    if event.event not in REPLY_EVENTS:
        return jsonify(ignored=event.event or event.event_type), 200
    try:
        post = data.get("post")
        if not isinstance(post, dict):
            raise ValueError("no post object")
        topic_id = webhooks.positive_id(post.get("topic_id"), "post.topic_id")
    except ValueError as exc:
        return jsonify(error="expected a post", detail=str(exc)), 400
    with reader(engine) as conn:
        row = mapping.by_topic(conn, topic_id)
    if row is None:
        return jsonify(ignored="not a mirrored topic"), 200
    key = f"replies:{topic_id}:{post.get('id')}:{event.event}:{post.get('updated_at') or post.get('version')}"
    with engine.begin() as conn:
        job_id, created = enqueue(conn, KIND_REPLIES, {"topic_id": topic_id, "event": event.event,
                                                       "post_id": post.get("id")}, key=key[:255],
                                  concurrency_key=mapping.concurrency_key(row["site"], row["post_id"]))
    return jsonify(queued=created, job_id=job_id), 202
