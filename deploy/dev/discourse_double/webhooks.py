"""Outgoing web hooks, delivered like Discourse does.

Follows:
- config/initializers/012-web_hook_events.rb and app/models/web_hook.rb: which events exist,
  `enqueue_hooks` picks active hooks that are wildcard or subscribed to the event's type
  (topic_*_status_updated counts as topic_edited), and the payload is serialized when the event
  happens (WebHookPostSerializer, WebHookTopicViewSerializer, WebHookUserSerializer, ...).
- app/jobs/regular/emit_web_hook_event.rb: a background job POSTs `{"<type>": payload}` (or
  `{"ping": "OK"}`) with the headers X-Discourse-Instance, X-Discourse-Event-Id (the id of the
  WebHookEvent row written for this attempt), X-Discourse-Event-Type, X-Discourse-Event and,
  when the hook has a secret, X-Discourse-Event-Signature: sha256=HMAC-SHA256(secret, body).
  Every attempt is recorded with its status (-1 when the connection failed). A 2xx is done; a
  404 or 410 is not retried (and deactivates the hook once the retries are used up); any other
  status is retried when the site setting retry_web_hook_events is on, up to MAX_RETRY_COUNT (4)
  times, RETRY_BACKOFF**(retry-1) minutes later (1, 5, 25, 125). A connection error (no response)
  is not retried.
- app/controllers/admin/web_hooks_controller.rb for the admin endpoints (admin.py).

The double's one change: the retry unit (a minute) is configurable so tests can shorten it.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import json
import logging
import threading
import time
from datetime import datetime, timezone
from urllib.parse import urlsplit

import requests

from . import profiles
from .store import now_iso

log = logging.getLogger("discourse_double.webhooks")

MAX_RETRY_COUNT = 4
RETRY_BACKOFF = 5
USER_AGENT = "Discourse/3.5.0 (Discourse double)"

# WebHookEventType::TYPES (granular event types; group id = the legacy type id)
EVENT_TYPES = [
    (101, "topic_created", "topic"), (102, "topic_revised", "topic"), (103, "topic_edited", "topic"),
    (104, "topic_destroyed", "topic"), (105, "topic_recovered", "topic"),
    (201, "post_created", "post"), (202, "post_edited", "post"), (203, "post_destroyed", "post"),
    (204, "post_recovered", "post"),
    (301, "user_logged_in", "user"), (302, "user_logged_out", "user"), (303, "user_confirmed_email", "user"),
    (304, "user_created", "user"), (305, "user_approved", "user"), (306, "user_updated", "user"),
    (307, "user_destroyed", "user"), (308, "user_suspended", "user"), (309, "user_unsuspended", "user"),
    (401, "group_created", "group"), (402, "group_updated", "group"), (403, "group_destroyed", "group"),
    (501, "category_created", "category"), (502, "category_updated", "category"),
    (503, "category_destroyed", "category"),
    (601, "tag_created", "tag"), (602, "tag_updated", "tag"), (603, "tag_destroyed", "tag"),
    (701, "flag_created", "flag"), (702, "flag_agreed", "flag"), (703, "flag_disagreed", "flag"),
    (704, "flag_deferred", "flag"),
    (901, "reviewable_created", "reviewable"), (902, "reviewable_updated", "reviewable"),
]
EVENT_TYPE_BY_ID = {i: (name, group) for i, name, group in EVENT_TYPES}
EVENT_TYPE_BY_NAME = {name: i for i, name, _ in EVENT_TYPES}
GROUP_IDS = {"topic": 1, "post": 2, "user": 3, "group": 4, "category": 5, "tag": 6, "flag": 7, "reviewable": 9}


def event_types_json(store=None) -> list[dict]:
    """WebHookEventType::TYPES of the active profile: main-2026 has no flag_* types
    (profiles.Profile.web_hook_flag_events)."""
    flags = store is None or profiles.of(store).web_hook_flag_events
    return [{"id": i, "name": name, "group": GROUP_IDS[group]} for i, name, group in EVENT_TYPES
            if flags or group != "flag"]


def translate_event_name_to_type(event_name: str) -> str:
    # WebHook::EVENT_NAME_TO_EVENT_TYPE_MAP
    if event_name.startswith("topic_") and event_name.endswith("_status_updated"):
        return "topic_edited"
    if event_name in ("reviewable_score_updated", "reviewable_transitioned_to"):
        return "reviewable_updated"
    return event_name


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Dispatcher:
    def __init__(self, store, retry_unit_seconds: float = 60.0, timeout: float = 10.0, workers: int = 1):
        self.store = store
        self.retry_unit_seconds = retry_unit_seconds
        self.timeout = timeout
        self._heap: list = []
        self._seq = 0
        self._cond = threading.Condition()
        self._stop = False
        self._pending = 0
        self._threads = [threading.Thread(target=self._run, name=f"web-hooks-{i}", daemon=True) for i in range(max(1, workers))]
        for t in self._threads:
            t.start()

    # -- enqueueing (WebHook.enqueue_hooks) ------------------------------------------------------
    def active_hooks(self, event_name: str) -> list[dict]:
        event_type = translate_event_name_to_type(event_name)
        type_id = EVENT_TYPE_BY_NAME.get(event_type)
        if event_type.startswith("flag_") and not profiles.of(self.store).web_hook_flag_events:
            return []  # this release has no such event type
        with self.store.lock:
            hooks = [h for h in sorted(self.store.data["web_hooks"].values(), key=lambda h: h["id"])
                     if h.get("active") and (h.get("wildcard_web_hook") or type_id in h.get("web_hook_event_type_ids", []))]
        return hooks

    def emit(self, event_type: str, event_name: str, payload_fn, *, category_id=None, tag_names=None) -> int:
        """Queue `event_name` (of group `event_type`: topic, post, user, ...) for every matching hook.
        `payload_fn` builds the serialized object; it is called now, as Discourse serializes at
        enqueue time."""
        hooks = self.active_hooks(event_name)
        if not hooks:
            return 0
        payload = json.dumps(payload_fn())
        n = 0
        for hook in hooks:
            if hook.get("category_ids") and category_id not in hook["category_ids"]:
                continue  # category_webhook_invalid?
            if hook.get("tag_names") and not set(hook["tag_names"]) & set(tag_names or []):
                continue  # tag_webhook_invalid?
            self._schedule(0, {"web_hook_id": hook["id"], "event_type": event_type, "event_name": event_name,
                               "payload": payload, "retry_count": 0})
            n += 1
        return n

    def ping(self, hook_id: int) -> None:
        # Jobs::EmitWebHookEvent for a ping: X-Discourse-Event-Type and X-Discourse-Event are both "ping"
        self._schedule(0, {"web_hook_id": hook_id, "event_type": "ping", "event_name": "ping", "payload": None,
                           "retry_count": 0})

    def _schedule(self, delay: float, job: dict) -> None:
        with self._cond:
            self._seq += 1
            self._pending += 1
            heapq.heappush(self._heap, (time.monotonic() + delay, self._seq, job))
            self._cond.notify()

    def idle(self, timeout: float = 10.0) -> bool:
        """True once no delivery is queued or under way (retries scheduled for later count as queued)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self._cond:
            self._pending -= len(self._heap)
            self._heap.clear()
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = (self._heap[0][0] - time.monotonic()) if self._heap else None
                    self._cond.wait(wait if wait is None or wait > 0 else 0)
                if self._stop:
                    return
                _, _, job = heapq.heappop(self._heap)
            try:
                self._deliver(job)
            except Exception:  # noqa: BLE001 - a broken delivery must not stop the worker
                log.exception("web hook delivery failed")
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    # -- Jobs::EmitWebHookEvent ----------------------------------------------------------------------
    def _deliver(self, job: dict) -> None:
        store = self.store
        with store.lock:
            hook = store.data["web_hooks"].get(job["web_hook_id"])
            if hook is None:
                return  # web hook was deleted
            if job["event_type"] != "ping" and not hook.get("active"):
                return
            hook = dict(hook)
        if job["event_type"] == "ping":
            body_obj = {"ping": "OK"}
        else:
            body_obj = {job["event_type"]: json.loads(job["payload"])}
        body = json.dumps(body_obj).encode()
        event_id = store.next_id("web_hook_event")
        url = hook["payload_url"].strip()
        content_type = "application/x-www-form-urlencoded" if hook.get("content_type") == 2 else "application/json"
        headers = {
            "Accept": "*/*",
            "Connection": "close",
            "Content-Length": str(len(body)),
            "Content-Type": content_type,
            "Host": urlsplit(url).netloc,
            "User-Agent": USER_AGENT,
            "X-Discourse-Instance": store.base_url,
            "X-Discourse-Event-Id": str(event_id),
            "X-Discourse-Event-Type": job["event_type"],
        }
        if job.get("event_name"):
            headers["X-Discourse-Event"] = job["event_name"]
        if hook.get("secret"):
            headers["X-Discourse-Event-Signature"] = sign(hook["secret"], body)
        record = {"id": event_id, "web_hook_id": hook["id"], "event_type": job["event_type"],
                  "event_name": job.get("event_name"), "payload": body.decode(), "headers": headers,
                  "status": None, "response_body": None, "response_headers": None, "duration": None,
                  "retry_count": job.get("retry_count", 0), "created_at": now_iso()}
        started = time.monotonic()
        response = None
        try:
            response = requests.post(url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            record.update(status=response.status_code, response_body=response.text[:10000],
                          response_headers=dict(response.headers))
        except requests.RequestException as exc:
            record.update(status=-1, response_headers={"error": str(exc)})
        record["duration"] = int((time.monotonic() - started) * 1000)
        with store.lock:
            store.data["web_hook_events"].append(record)
            del store.data["web_hook_events"][:-5000]
            h = store.data["web_hooks"].get(hook["id"])
            if h is not None:
                # WebHook.last_delivery_statuses: failed 2, successful 3
                h["last_delivery_status"] = 3 if response is not None and 200 <= response.status_code < 300 else 2
            store.touch()
        self._process_response(job, response, hook)

    def _process_response(self, job: dict, response, hook: dict) -> None:
        if response is None:
            return
        status = response.status_code
        if 200 <= status < 300:
            return
        if status in (404, 410):
            if job.get("retry_count", 0) >= MAX_RETRY_COUNT:
                with self.store.lock:
                    h = self.store.data["web_hooks"].get(hook["id"])
                    if h is not None:
                        h["active"] = False
                        h["last_delivery_status"] = 4  # disabled
                    self.store.touch()
            return
        if self.store.setting("retry_web_hook_events"):
            retry = job.get("retry_count", 0) + 1
            if retry > MAX_RETRY_COUNT:
                return
            delay = (RETRY_BACKOFF ** (retry - 1)) * self.retry_unit_seconds
            self._schedule(delay, dict(job, retry_count=retry))


def web_hook_json(hook: dict) -> dict:
    """AdminWebHookSerializer."""
    return {
        "id": hook["id"], "payload_url": hook["payload_url"], "content_type": hook.get("content_type", 1),
        "last_delivery_status": hook.get("last_delivery_status", 1), "secret": hook.get("secret", ""),
        "wildcard_web_hook": bool(hook.get("wildcard_web_hook")), "verify_certificate": bool(hook.get("verify_certificate", True)),
        "active": bool(hook.get("active")),
        "web_hook_event_types": [{"id": i, "name": EVENT_TYPE_BY_ID[i][0], "group": GROUP_IDS[EVENT_TYPE_BY_ID[i][1]]}
                                 for i in hook.get("web_hook_event_type_ids", []) if i in EVENT_TYPE_BY_ID],
        "categories": [{"id": c} for c in hook.get("category_ids", [])],
        "tag_names": hook.get("tag_names", []), "groups": [],
        "created_at": hook.get("created_at"), "updated_at": hook.get("updated_at"),
    }


def web_hook_event_json(ev: dict) -> dict:
    """AdminWebHookEventSerializer."""
    return {"id": ev["id"], "web_hook_id": ev["web_hook_id"], "request_url": None,
            "headers": json.dumps(ev["headers"]), "payload": ev["payload"], "status": ev["status"],
            "response_headers": json.dumps(ev.get("response_headers")), "response_body": ev.get("response_body"),
            "duration": ev.get("duration"), "created_at": ev["created_at"],
            # the double's additions, for tests:
            "event_type": ev["event_type"], "event_name": ev.get("event_name"), "retry_count": ev.get("retry_count", 0)}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)
