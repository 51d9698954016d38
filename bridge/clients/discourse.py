"""Discourse client: every request the bridge sends to the forum goes through this module.

Built on pydiscourse 1.7 (:class:`pydiscourse.DiscourseClient`): its methods shape the requests
(form fields, ``post[raw]``, ``tags[]``, ``permissions[everyone]``), and a subclass,
:class:`_PyDiscourse`, replaces its one transport method ``_request`` and adds the few
endpoints it lacks or reaches only through an undocumented Rails alias (topic by id,
user by external id, web hook admin, ``sync_sso`` with the payload in the body).
Flows use only the narrow class :class:`DiscourseClient`, whose results are frozen
dataclasses (:class:`Topic`, :class:`Post`, :class:`Category`, :class:`User`,
:class:`SiteSetting`, :class:`WebHook`).

The route table
---------------
:data:`ROUTES` lists every (method, path template) the client may send, each with where it is
described: Discourse's official OpenAPI description, or, for the admin endpoints it does not
cover, the Discourse source file the behaviour was read from. The single request function
refuses any other route (:class:`UnlistedRoute`) before anything is sent, so a new operation
cannot be added without being listed (and ``tests/bridge/clients/test_discourse_contract.py``
then checks the entry against the description). Paths are always sent with their ``.json``
suffix, as documented, rather than through Rails' format-less aliases.

Rate limits and pacing
----------------------
Discourse counts every API-key request of a site against ``max_admin_api_reqs_per_minute``
(default 60) in one bucket per site, not per key (lib/auth/default_current_user_provider.rb,
``admin_api_key_limiter``: ``RateLimiter.new(nil, "admin_api_min", limit, 60)``), and answers
``429`` with ``extras.wait_seconds`` and ``Retry-After`` when it is spent. The client:

* **paces itself** under ``discourse.requests_per_minute`` with :class:`Pacer`, one per forum
  URL shared by every client and thread of the process, so a long backfill never meets the
  limit. Pacer is a small GCRA ("virtual scheduling") limiter with no bursts: each request
  reserves the next free slot, ``60 / (requests_per_minute * HEADROOM)`` seconds after the
  previous one. ``HEADROOM`` (0.98) covers Discourse's limiter counting whole seconds
  (lib/rate_limiter.rb: a request passes when the oldest of the last ``max`` is *more than*
  ``secs`` whole seconds old, so 60 a minute really means 60 per 61 s at worst) plus a little
  network jitter. Why not pyrate-limiter: it would be a new dependency whose API changed
  between majors, and the bridge needs two things it does not offer directly: asking for the
  next-free-slot delay without taking it, and pushing every thread back after a 429.
* **waits out a 429** (``extras.wait_seconds``, else ``Retry-After``, at least 1 s): the wait
  is put on the shared pacer, so every thread holds off, then the request is repeated, up to
  ``max_rate_limit_retries`` times; then :class:`DiscourseRateLimited` (``retryable=True``,
  ``retry_after`` set).
* **lets a job decide instead of sleeping**: with ``max_wait`` set, a request whose slot is
  further away than that raises :class:`DiscourseRateLimited` at once (nothing sent) with
  ``retry_after`` = the delay; :meth:`DiscourseClient.next_request_delay` tells the delay
  beforehand; :func:`outbox_failure` turns any client error into the outbox's
  ``RetryLater(seconds)`` or ``PermanentFailure``. The CLI and backfills use the default
  (``max_wait=None``: sleep as long as needed); a job handler that should not hold a worker
  thread builds its client with a small ``max_wait`` and re-queues itself.

The pacer is per process: N worker processes sharing one forum should each get
``requests_per_minute / N`` (the 429 handling covers the rest).

Errors and retries
------------------
Network errors and 5xx answers are retried with exponential back-off and jitter (tenacity),
``max_retries`` times, then :class:`DiscourseUnavailable` (``retryable=True``). A request that
is not idempotent (a POST that creates something) is retried only when it surely was not
processed (the connection was never made), unless the operation makes a repeat harmless:
creating a topic with an ``external_id`` (Discourse refuses a second topic with the same
external id, and :meth:`DiscourseClient.create_topic` then returns the topic its first
attempt created). 400/422 raise :class:`DiscourseValidationError` with Discourse's ``errors``
messages, 403 :class:`DiscourseAuthError`, 404 :class:`NotFound`; none of these is retried.
The API key and the DiscourseConnect secret never appear in exception texts, logs or reprs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import pydiscourse
import requests
import tenacity

from bridge.clients import DEFAULT_USER_AGENT

__all__ = [
    "HEADROOM",
    "OPENAPI",
    "ROUTES",
    "Category",
    "DiscourseAuthError",
    "DiscourseClient",
    "DiscourseError",
    "DiscourseRateLimited",
    "DiscourseUnavailable",
    "DiscourseValidationError",
    "Group",
    "NotFound",
    "Pacer",
    "Post",
    "Route",
    "SiteSetting",
    "Topic",
    "UnlistedRoute",
    "User",
    "WebHook",
    "WebHookEventType",
    "WebHooks",
    "outbox_failure",
    "pacer_for",
    "route_for",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 30.0
HEADROOM = 0.98

# ----------------------------------------------------------------------------------------
# The route table

#: ``source`` of a route described by Discourse's official OpenAPI description
#: (discourse/discourse_api_docs, openapi.json).
OPENAPI = "openapi"


@dataclass(frozen=True)
class Route:
    """One request the client may send. ``idempotent``: repeating it after a lost answer is
    harmless, so it may be retried after a read time-out or a 5xx."""

    method: str
    template: str
    idempotent: bool
    source: str = OPENAPI

    @property
    def pattern(self) -> re.Pattern:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.template)) + "$")


# Source-reproduced routes: "<Discourse source file>#<action>"; the paths are those of
# config/routes.rb (admin namespace; web hooks under its `scope "/api"`), with `.json`.
_USERS = "app/controllers/admin/users_controller.rb"
_SITE_SETTINGS = "app/controllers/admin/site_settings_controller.rb"
_WEB_HOOKS = "app/controllers/admin/web_hooks_controller.rb"

#: Every operation of the client: name -> route. Nothing else can be sent.
ROUTES: dict[str, Route] = {
    # topics and posts
    "create_post": Route("POST", "/posts.json", idempotent=False),
    "get_post": Route("GET", "/posts/{id}.json", idempotent=True),
    "update_post": Route("PUT", "/posts/{id}.json", idempotent=True),
    "get_topic": Route("GET", "/t/{id}.json", idempotent=True),
    "get_topic_by_external_id": Route("GET", "/t/external_id/{external_id}.json", idempotent=True),
    "update_topic": Route("PUT", "/t/-/{id}.json", idempotent=True),
    "update_topic_status": Route("PUT", "/t/{id}/status.json", idempotent=True),
    # categories
    "list_categories": Route("GET", "/categories.json", idempotent=True),
    "create_category": Route("POST", "/categories.json", idempotent=False),
    # groups
    "get_group": Route("GET", "/groups/{name}.json", idempotent=True),
    "create_group": Route("POST", "/admin/groups.json", idempotent=False),
    # users
    "get_user": Route("GET", "/u/{username}.json", idempotent=True),
    "get_user_by_external_id": Route("GET", "/u/by-external/{external_id}.json", idempotent=True),
    "log_out_user": Route("POST", "/admin/users/{id}/log_out.json", idempotent=True),
    "suspend_user": Route("PUT", "/admin/users/{id}/suspend.json", idempotent=True),
    "sync_sso": Route("POST", "/admin/users/sync_sso.json", idempotent=True, source=f"{_USERS}#sync_sso"),
    # site settings
    "list_site_settings": Route("GET", "/admin/site_settings.json", idempotent=True,
                                source=f"{_SITE_SETTINGS}#index"),
    "update_site_setting": Route("PUT", "/admin/site_settings/{name}.json", idempotent=True,
                                 source=f"{_SITE_SETTINGS}#update"),
    # web hooks
    "list_web_hooks": Route("GET", "/admin/api/web_hooks.json", idempotent=True, source=f"{_WEB_HOOKS}#index"),
    "create_web_hook": Route("POST", "/admin/api/web_hooks.json", idempotent=False, source=f"{_WEB_HOOKS}#create"),
    "update_web_hook": Route("PUT", "/admin/api/web_hooks/{id}.json", idempotent=True, source=f"{_WEB_HOOKS}#update"),
}

_COMPILED = [(name, r.method, r.pattern) for name, r in ROUTES.items()]


class UnlistedRoute(RuntimeError):
    """A programming error: the client was asked to send a request that :data:`ROUTES` does
    not list. Nothing was sent."""


def route_for(method: str, path: str) -> str:
    """The name of the listed route for (method, path), or :class:`UnlistedRoute`."""
    method = method.upper()
    for name, m, rx in _COMPILED:
        if m == method and rx.match(path):
            return name
    raise UnlistedRoute(f"{method} {path} is not in bridge.clients.discourse.ROUTES; list it (with its source) "
                        "before using it")


# ----------------------------------------------------------------------------------------
# Errors


class DiscourseError(Exception):
    """A Discourse request failed.

    ``status``: the HTTP status (None for network errors); ``errors``: Discourse's messages
    (its ``errors`` list, or ``message``/``error``); ``error_type`` (``invalid_access``,
    ``rate_limit``, ...); ``operation``: the :data:`ROUTES` name; ``retryable``: whether the
    same request may succeed later; ``retry_after``: seconds to wait first, when known.
    The text never contains the API key or the DiscourseConnect secret.
    """

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, errors: Sequence[str] = (),
                 error_type: str | None = None, operation: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.errors = tuple(errors)
        self.error_type = error_type
        self.operation = operation
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message + (f" [HTTP {self.status}]" if self.status is not None else "")


class DiscourseValidationError(DiscourseError):
    """Discourse refused the request's content (400/422): ``errors`` says why. Not retried."""


class DiscourseAuthError(DiscourseError):
    """403: the API key or username is not accepted, or may not do this."""


class NotFound(DiscourseError):
    """404: no such topic, post, user, category or web hook (or not visible to the API user)."""


class DiscourseRateLimited(DiscourseError):
    """Still rate-limited after the allowed waits, or the next free slot is further away than
    the client may wait: try again after ``retry_after`` seconds."""

    retryable = True


class DiscourseUnavailable(DiscourseError):
    """Network failure, time-out or 5xx after the retries. ``maybe_applied`` is True when the
    forum may have carried out the request (the answer was lost, not the request)."""

    retryable = True

    def __init__(self, message: str, *, maybe_applied: bool = False, **kw):
        super().__init__(message, **kw)
        self.maybe_applied = maybe_applied


def outbox_failure(exc: DiscourseError) -> Exception:
    """The outbox exception for a failed Discourse call, for a job handler to raise:
    ``RetryLater(retry_after)`` when the forum said when to come back, the error itself
    (the outbox's own back-off) when it is retryable without a time, ``PermanentFailure``
    when repeating cannot help."""
    from bridge.outbox import PermanentFailure, RetryLater

    if exc.retryable:
        return RetryLater(exc.retry_after, str(exc)) if exc.retry_after is not None else exc
    return PermanentFailure(str(exc))


class _Hidden:
    """A secret that does not show in repr/str (pydiscourse keeps the key as an attribute)."""

    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __repr__(self) -> str:
        return "'[redacted]'"

    __str__ = __repr__


class _Scrubber:
    def __init__(self, *secrets: str | None):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


# ----------------------------------------------------------------------------------------
# Pacing


class Pacer:
    """Spaces requests at least ``interval`` seconds apart, whichever thread sends them.

    GCRA without burst: ``_next`` is the earliest time the next request may start. Reserving
    a slot moves it on by ``interval``; :meth:`hold_off` pushes it back after a 429. Thread
    safe; the sleeping happens outside the lock.
    """

    def __init__(self, requests_per_minute: float, *, headroom: float = HEADROOM,
                 clock: Callable[[], float] = time.monotonic):
        self._lock = threading.Lock()
        self._clock = clock
        self._next = float("-inf")
        self.set_rate(requests_per_minute, headroom=headroom)

    def set_rate(self, requests_per_minute: float, *, headroom: float = HEADROOM) -> None:
        if requests_per_minute <= 0 or not 0 < headroom <= 1:
            raise ValueError("requests_per_minute must be positive and headroom in (0, 1]")
        with self._lock:
            self.requests_per_minute = float(requests_per_minute)
            self.headroom = headroom
            self.interval = 60.0 / (self.requests_per_minute * headroom)

    def delay(self) -> float:
        """Seconds until the next request may start (0: now). Reserves nothing."""
        with self._lock:
            return max(0.0, self._next - self._clock())

    def reserve(self, max_wait: float | None = None) -> float:
        """Take the next free slot and return how long to wait for it; when that is more than
        `max_wait`, take nothing and raise :class:`SlotTooFar`."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            wait = start - now
            if max_wait is not None and wait > max_wait:
                raise SlotTooFar(wait)
            self._next = start + self.interval
            return wait

    def hold_off(self, seconds: float) -> None:
        """No request before `seconds` from now (the forum said so)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class SlotTooFar(Exception):
    def __init__(self, wait: float):
        super().__init__(f"next free slot in {wait:.1f} s")
        self.wait = wait


_PACERS: dict[str, Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(url: str, requests_per_minute: float) -> Pacer:
    """The process-wide pacer of the forum at `url` (Discourse limits all API keys of a site
    together). A later call with another rate changes the shared pacer's rate."""
    key = url.rstrip("/").lower()
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = Pacer(requests_per_minute)
        elif pacer.requests_per_minute != requests_per_minute:
            pacer.set_rate(requests_per_minute)
        return pacer


# ----------------------------------------------------------------------------------------
# Results


def _tag_names(tags: Any) -> tuple[str, ...]:
    # Discourse serializes a topic's tags as names, or (3.4 and later) as {id, name, slug}.
    out = []
    for t in tags or []:
        name = t.get("name") if isinstance(t, dict) else t
        if isinstance(name, str):
            out.append(name)
    return tuple(out)


@dataclass(frozen=True)
class Topic:
    """A topic as the bridge sees it. ``url`` is absolute; ``deleted`` is True for a topic
    staff can still see after deletion."""

    id: int
    title: str
    slug: str
    category_id: int | None
    tags: tuple[str, ...]
    visible: bool
    closed: bool
    archived: bool
    posts_count: int
    first_post_id: int | None
    created_at: str | None
    deleted: bool
    url: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str) -> Topic:
        stream = (data.get("post_stream") or {})
        posts = stream.get("posts") or []
        first = next((p.get("id") for p in posts if p.get("post_number") == 1), None)
        if first is None and stream.get("stream"):
            first = stream["stream"][0]
        slug = data.get("slug") or "topic"
        return cls(id=int(data["id"]), title=data.get("title") or "", slug=slug,
                   category_id=data.get("category_id"), tags=_tag_names(data.get("tags")),
                   visible=bool(data.get("visible", True)), closed=bool(data.get("closed")),
                   archived=bool(data.get("archived")), posts_count=int(data.get("posts_count") or 0),
                   first_post_id=first, created_at=data.get("created_at"), deleted=bool(data.get("deleted_at")),
                   url=f"{base_url}/t/{slug}/{data['id']}")


@dataclass(frozen=True)
class Post:
    """A post. ``raw`` is its Markdown (None where Discourse did not include it)."""

    id: int
    topic_id: int
    post_number: int
    username: str | None
    raw: str | None
    cooked: str | None
    version: int
    topic_slug: str | None
    created_at: str | None
    url: str

    @property
    def topic_url(self) -> str:
        return self.url.rsplit("/", 1)[0]

    @classmethod
    def from_json(cls, data: Mapping[str, Any], base_url: str) -> Post:
        slug = data.get("topic_slug") or "topic"
        return cls(id=int(data["id"]), topic_id=int(data["topic_id"]), post_number=int(data.get("post_number") or 1),
                   username=data.get("username"), raw=data.get("raw"), cooked=data.get("cooked"),
                   version=int(data.get("version") or 1), topic_slug=data.get("topic_slug"),
                   created_at=data.get("created_at"),
                   url=f"{base_url}/t/{slug}/{data['topic_id']}/{data.get('post_number') or 1}")


@dataclass(frozen=True)
class Category:
    """``read_restricted``: only some groups may read it (BasicCategorySerializer); True when
    the answer does not say, so a category is never taken for public by mistake."""

    id: int
    name: str
    slug: str
    color: str | None
    text_color: str | None
    parent_category_id: int | None
    read_restricted: bool = True

    @classmethod
    def from_json(cls, data: Mapping[str, Any], parent_id: int | None = None) -> Category:
        return cls(id=int(data["id"]), name=data.get("name") or "", slug=data.get("slug") or "",
                   color=data.get("color"), text_color=data.get("text_color"),
                   parent_category_id=data.get("parent_category_id") or parent_id,
                   read_restricted=data.get("read_restricted") is not False)


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    full_name: str | None
    automatic: bool

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Group:
        return cls(id=int(data["id"]), name=data.get("name") or "", full_name=data.get("full_name"),
                   automatic=bool(data.get("automatic")))


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str | None
    external_id: str | None
    admin: bool
    moderator: bool
    active: bool
    suspended_till: str | None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], external_id: str | None = None) -> User:
        record = data.get("single_sign_on_record") or {}
        ext = external_id or data.get("external_id") or record.get("external_id")
        return cls(id=int(data["id"]), username=data.get("username") or "", name=data.get("name"),
                   external_id=str(ext) if ext is not None else None, admin=bool(data.get("admin")),
                   moderator=bool(data.get("moderator")), active=bool(data.get("active", True)),
                   suspended_till=data.get("suspended_till"))


@dataclass(frozen=True)
class SiteSetting:
    """One entry of ``GET /admin/site_settings.json``. Discourse returns even ``secret``
    settings' values to admins there (lib/site_setting_extension.rb ``all_settings``:
    ``value: value.to_s, secret: ...``; only staff action logs show "[FILTERED]"), so ``value``
    is kept, but out of repr."""

    name: str
    value: str = field(repr=False)
    default: str | None = field(default=None, repr=False)
    type: str | None = None
    secret: bool = False

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SiteSetting:
        return cls(name=data["setting"], value="" if data.get("value") is None else str(data["value"]),
                   default=None if data.get("default") is None else str(data["default"]), type=data.get("type"),
                   secret=bool(data.get("secret")))


@dataclass(frozen=True)
class WebHookEventType:
    id: int
    name: str
    group: int | None = None


@dataclass(frozen=True)
class WebHook:
    """A web hook (AdminWebHookSerializer). ``secret`` is None when Discourse did not send it."""

    id: int
    payload_url: str
    content_type: int
    secret: str | None = field(repr=False)
    active: bool
    wildcard_web_hook: bool
    verify_certificate: bool
    event_type_ids: frozenset[int]
    event_type_names: tuple[str, ...]
    category_ids: tuple[int, ...] = ()
    tag_names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WebHook:
        types = data.get("web_hook_event_types") or []
        cats = data.get("categories")
        if cats is None:
            cats = data.get("category_ids") or []
        return cls(id=int(data["id"]), payload_url=data.get("payload_url") or "",
                   content_type=int(data.get("content_type") or 1),
                   secret=data["secret"] if "secret" in data else None, active=bool(data.get("active")),
                   wildcard_web_hook=bool(data.get("wildcard_web_hook")),
                   verify_certificate=bool(data.get("verify_certificate", True)),
                   event_type_ids=frozenset(int(t["id"]) for t in types),
                   event_type_names=tuple(sorted(t.get("name", "") for t in types)),
                   category_ids=tuple(int(c["id"]) if isinstance(c, dict) else int(c) for c in cats),
                   tag_names=tuple(data.get("tag_names") or ()))


@dataclass(frozen=True)
class WebHooks:
    hooks: tuple[WebHook, ...]
    event_types: tuple[WebHookEventType, ...]


# ----------------------------------------------------------------------------------------
# pydiscourse, with the bridge's transport


class _PyDiscourse(pydiscourse.DiscourseClient):
    """pydiscourse's request shaping; every request goes to :meth:`DiscourseClient._call`.

    Methods defined here are the endpoints pydiscourse lacks, or reaches only through an
    undocumented Rails alias (``/users/by-external/`` for the documented ``/u/by-external/``,
    ``/t/{slug}/{id}`` for ``/t/{id}.json``), or where its way leaks data (``sync_sso`` puts
    the signed payload, with the member's e-mail address, in the URL's query string, which
    proxies log; here it goes in the body, as Admin::UsersController#sync_sso also accepts).
    """

    def __init__(self, owner: DiscourseClient, api_key: str):
        super().__init__(owner.url, api_username=owner.api_username, api_key=_Hidden(api_key), timeout=owner.timeout)
        self._owner = owner

    def __repr__(self) -> str:
        return f"<_PyDiscourse {self.host}>"

    def _request(self, verb, path, params=None, files=None, data=None, json=None, override_request_kwargs=None):
        return self._owner._call(verb, path, params=params, files=files, data=data, json=json)

    # -- endpoints pydiscourse lacks ---------------------------------------------------------
    def topic_by_id(self, topic_id: int):
        return self._get(f"/t/{int(topic_id)}.json")

    def user_by_external_id(self, external_id):
        return self._get(f"/u/by-external/{quote(str(external_id), safe='')}.json")["user"]

    def sync_sso(self, sso_secret, **fields):
        unsigned = urlencode({k: v for k, v in fields.items() if v is not None})
        sso = base64.b64encode(unsigned.encode("utf-8")).decode("ascii")
        sig = hmac.new(sso_secret.encode("utf-8"), sso.encode("ascii"), hashlib.sha256).hexdigest()
        return self._post("/admin/users/sync_sso.json", sso=sso, sig=sig)

    def site_settings(self, **settings):
        # pydiscourse sends the value as a query parameter (`_request(PUT, path, {name: value})`
        # fills `params`), which would put a secret such as discourse_connect_secret in the
        # URL and so in access logs; Admin::SiteSettingsController#update reads params[id]
        # from the body just as well.
        for name, value in settings.items():
            self._put(f"/admin/site_settings/{name}.json", **{name: value})

    def web_hooks(self, offset: int | None = None):
        return self._get("/admin/api/web_hooks.json", **({"offset": offset} if offset else {}))

    def create_web_hook(self, **fields):
        return self._post("/admin/api/web_hooks.json", **_web_hook_form(fields))

    def update_web_hook(self, web_hook_id: int, **fields):
        return self._put(f"/admin/api/web_hooks/{int(web_hook_id)}.json", **_web_hook_form(fields))


def _form_bool(value: bool) -> str:
    return "true" if value else "false"


def _web_hook_form(fields: Mapping[str, Any]) -> dict:
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = _form_bool(value)
        if isinstance(value, (list, tuple, set, frozenset)):
            out[f"web_hook[{key}][]"] = [str(v) for v in sorted(value)]
        else:
            out[f"web_hook[{key}]"] = str(value)
    return out


# ----------------------------------------------------------------------------------------
# The client


class _Transient(Exception):
    """An attempt that may succeed if repeated; `error` is raised when the retries are spent."""

    def __init__(self, kind: str, error: DiscourseError):
        super().__init__(str(error))
        self.kind = kind  # "rate_limit", "server" or "network"
        self.error = error


@dataclass
class _CallOptions:
    username: str | None = None
    retry_unsafe: bool = False
    maybe_applied: bool = False


def _not_sent(exc: requests.RequestException) -> bool:
    """True when the request surely never reached the server (no connection was made)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        text = repr(exc.args[0]) if exc.args else repr(exc)
        return "NewConnectionError" in text or "NameResolutionError" in text or "Failed to resolve" in text
    return False


def _messages(body: Any) -> list[str]:
    if isinstance(body, dict):
        errs = body.get("errors")
        if isinstance(errs, list) and errs:
            return [str(e) for e in errs]
        if isinstance(errs, str) and errs:
            return [errs]
        for key in ("message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return [body[key]]
    return []


def _wait_seconds(resp: requests.Response, body: Any) -> float:
    wait = None
    if isinstance(body, dict):
        wait = (body.get("extras") or {}).get("wait_seconds")
    if wait is None:
        try:
            wait = float(resp.headers.get("Retry-After", ""))
        except ValueError:
            wait = None
    try:
        wait = float(wait)
    except (TypeError, ValueError):
        wait = 10.0  # a 429 from a proxy, without Discourse's body or a Retry-After
    # Discourse's seconds_to_wait can be 0 when the oldest request is exactly `secs` old.
    return max(1.0, wait)


class DiscourseClient:
    """The operations the bridge needs on one Discourse forum.

    ``api_key`` should be a global ("all users") admin key: topics are created as their
    authors through the ``Api-Username`` header. ``connect_secret`` (the DiscourseConnect
    secret) is needed for :meth:`sync_sso` only.
    """

    def __init__(self, url: str, api_key: str, api_username: str = "system", *,
                 connect_secret: str | None = None, requests_per_minute: float = 60,
                 user_agent: str = DEFAULT_USER_AGENT, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = 4, max_rate_limit_retries: int = 5, max_wait: float | None = None,
                 backoff_initial: float = 0.5, backoff_max: float = 8.0,
                 sleep: Callable[[float], None] = time.sleep, pacer: Pacer | None = None):
        if not api_key:
            raise ValueError("a Discourse API key is required")
        if not api_username.isascii():
            # another user beyond ASCII is acted as by id, looked up as the API user (_acting_as),
            # which therefore must be nameable in the Api-Username header itself
            raise ValueError(f"the Discourse API username must be ASCII, not {api_username!r}")
        self.url = url.rstrip("/")
        self.api_username = api_username
        self.timeout = timeout
        self.user_agent = user_agent
        self.max_retries = max_retries
        self.max_rate_limit_retries = max_rate_limit_retries
        self.max_wait = max_wait
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._key = _Hidden(api_key)
        self._connect_secret = _Hidden(connect_secret) if connect_secret else None
        self._scrub = _Scrubber(api_key, connect_secret)
        self.pacer = pacer or pacer_for(self.url, requests_per_minute)
        self._api = _PyDiscourse(self, api_key)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self._categories: dict[str, Category] | None = None
        self._user_ids: dict[str, int] = {}  # non-ASCII usernames -> id, for Api-User-Id

    def __repr__(self) -> str:
        return f"<DiscourseClient {self.url} as {self.api_username!r}>"

    def __enter__(self) -> DiscourseClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()

    # -- pacing ------------------------------------------------------------------------------
    def next_request_delay(self) -> float:
        """Seconds until this process may send its next request to the forum (0: now). A job
        handler may raise ``RetryLater(delay)`` instead of waiting."""
        return self.pacer.delay()

    # -- transport ---------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.headers["User-Agent"] = self.user_agent
            self._local.session = s
            with self._sessions_lock:
                self._sessions.append(s)
        return s

    def _opts(self) -> _CallOptions:
        return getattr(self._local, "opts", None) or _CallOptions()

    @contextmanager
    def _options(self, **values):
        """Per-call options for the requests pydiscourse methods send on this thread."""
        saved = getattr(self._local, "opts", None)
        self._local.opts = _CallOptions(**values)
        try:
            yield self._local.opts
        finally:
            self._local.opts = saved

    def _acting_as(self, username: str) -> dict[str, str]:
        """The header naming the user a request acts as. Header values are bytes that Rack hands
        over undecoded, so a username beyond ASCII (Discourse's unicode_usernames: محمد, Женя)
        goes as its id in Api-User-Id, which lib/auth/default_current_user_provider.rb reads too
        (the key must be one for all users, as acting as a member needs anyway)."""
        if username.isascii():
            return {"Api-Username": username}
        uid = self._user_ids.get(username)
        if uid is None:
            with self._options():  # looked up as the API user
                uid = int(self._api._get(f"/u/{quote(username, safe='')}.json")["user"]["id"])
            self._user_ids[username] = uid
        return {"Api-User-Id": str(uid)}

    def _call(self, verb: str, path: str, *, params=None, data=None, json=None, files=None, raw: bool = False):
        """Send one listed request (pacing, retries, typed errors); decoded JSON, or the
        response itself with `raw`."""
        verb = verb.upper()
        path, _, query = path.partition("?")
        if query:
            params = {**dict(parse_qsl(query, keep_blank_values=True)), **(params or {})}
        if not path.endswith(".json"):
            path = path.rstrip("/") + ".json"
        name = route_for(verb, path)
        route = ROUTES[name]
        opts = self._opts()
        headers = {"Api-Key": self._key.value, "Accept": "application/json",
                   **self._acting_as(opts.username or self.api_username)}
        where = f"Discourse {verb} {path} ({name})"
        url = self.url + path

        def attempt() -> requests.Response:
            self._pace(name, where)
            started = time.monotonic()
            try:
                resp = self._session().request(verb, url, params=params or None, data=data, json=json, files=files,
                                               headers=headers, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                not_sent = _not_sent(exc)
                err = DiscourseUnavailable(self._scrub(f"{where} failed: {type(exc).__name__}: {exc}"),
                                           operation=name, maybe_applied=not not_sent)
                log.debug("discourse.request_failed %s %s: %s", verb, path, type(exc).__name__)
                if not_sent or route.idempotent or opts.retry_unsafe:
                    if not not_sent:
                        opts.maybe_applied = True
                    raise _Transient("network", err) from None
                raise err from None
            log.debug("discourse.request %s %s -> %s in %.0f ms", verb, path, resp.status_code,
                      (time.monotonic() - started) * 1000)
            status = resp.status_code
            if status == 429:
                body = _json_or_none(resp)
                wait = _wait_seconds(resp, body)
                self.pacer.hold_off(wait)
                code = resp.headers.get("Discourse-Rate-Limit-Error-Code")
                log.info("discourse.rate_limited %s %s: waiting %.0f s (limit %s)", verb, path, wait, code or "?")
                raise _Transient("rate_limit", DiscourseRateLimited(
                    self._scrub(f"{where}: rate limited by the forum ({code or 'no limit name'}); "
                                f"retry after {wait:.0f} s"),
                    status=429, errors=_messages(body), error_type="rate_limit", operation=name, retry_after=wait))
            if status >= 500:
                err = DiscourseUnavailable(
                    self._scrub(f"{where}: server error: {'; '.join(_messages(_json_or_none(resp))) or resp.reason}"),
                    status=status, operation=name, maybe_applied=True)
                if route.idempotent or opts.retry_unsafe:
                    opts.maybe_applied = True
                    raise _Transient("server", err)
                raise err
            return resp

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=self._stop,
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            resp = retrying(attempt)
        except _Transient as t:
            raise t.error from None
        if raw:
            return resp
        return self._decode(resp, name, where)

    def _pace(self, name: str, where: str) -> None:
        try:
            wait = self.pacer.reserve(self.max_wait)
        except SlotTooFar as far:
            raise DiscourseRateLimited(f"{where}: not sent, the next free request slot is {far.wait:.1f} s away "
                                       f"(over max_wait {self.max_wait:g} s)", operation=name,
                                       retry_after=far.wait) from None
        if wait > 0:
            self._sleep(wait)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        limit = self.max_rate_limit_retries if getattr(exc, "kind", None) == "rate_limit" else self.max_retries
        return state.attempt_number > limit

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if getattr(exc, "kind", None) == "rate_limit":
            return 0.0  # the pacer holds every thread off for the forum's wait_seconds
        # full jitter (as the outbox's own back-off): uniform(0, min(max, initial * 2^(n-1)))
        return tenacity.wait_random_exponential(multiplier=self.backoff_initial, max=self.backoff_max)(state)

    def _decode(self, resp: requests.Response, name: str, where: str) -> Any:
        status = resp.status_code
        body = _json_or_none(resp)
        if 200 <= status < 300:
            if not resp.content.strip():
                return None
            if body is None:
                raise DiscourseError(f"{where}: answer is not JSON ({resp.headers.get('Content-Type')})",
                                     status=status, operation=name)
            msgs = _messages(body) if isinstance(body, dict) and body.get("errors") else []
            if msgs:  # Discourse sometimes answers 200 with errors (as pydiscourse also checks)
                raise DiscourseValidationError(self._scrub(f"{where}: {'; '.join(msgs)}"), status=status,
                                               errors=msgs, error_type=body.get("error_type"), operation=name)
            return body
        msgs = _messages(body)
        error_type = body.get("error_type") if isinstance(body, dict) else None
        text = self._scrub(f"{where}: {'; '.join(msgs) or resp.reason or 'HTTP ' + str(status)}")[:1000]
        kw = dict(status=status, errors=[self._scrub(m) for m in msgs], error_type=error_type, operation=name)
        if 300 <= status < 400:
            raise DiscourseError(f"{where}: unexpected redirect (wrong URL, or http instead of https?)", **kw)
        if status in (400, 422):
            raise DiscourseValidationError(text, **kw)
        if status in (401, 403):
            raise DiscourseAuthError(text, **kw)
        if status == 404:
            raise NotFound(text, **kw)
        raise DiscourseError(text, **kw)

    # -- helpers -----------------------------------------------------------------------------
    def _category_id(self, category: int | str | None) -> int | None:
        if category is None or isinstance(category, int):
            return category
        found = self.category_by_slug(category)
        if found is None:
            raise NotFound(f"no Discourse category with the slug '{category}'", operation="list_categories")
        return found.id

    # -- account -----------------------------------------------------------------------------
    def whoami(self) -> User:
        """The API user (checks the key and username work)."""
        data = self._api._get(f"/u/{quote(self.api_username, safe='')}.json")
        return User.from_json(data["user"])

    # -- topics and posts --------------------------------------------------------------------
    def create_topic(self, title: str, raw: str, *, category: int | str | None = None,
                     tags: Iterable[str] | None = None, external_id: str | None = None,
                     embed_url: str | None = None, username: str | None = None,
                     created_at: datetime | str | None = None) -> Post:
        """Create a topic (its first post) as `username` (default: the API user).

        `category` is an id or a slug. Tags are set with a second request (``PUT /t/-/{id}``,
        as the API user): the API description's ``POST /posts.json`` takes none. A topic with
        an `external_id` is safe to retry: if an earlier attempt of this call created it,
        that topic's first post is returned.
        """
        category_id = self._category_id(category)
        if isinstance(created_at, datetime):
            created_at = created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        fields = {k: v for k, v in {"external_id": external_id, "embed_url": embed_url,
                                     "created_at": created_at}.items() if v is not None}
        try:
            with self._options(username=username, retry_unsafe=external_id is not None) as opts:
                data = self._api.create_post(raw, category_id=category_id, title=title, **fields)
        except DiscourseValidationError as exc:
            # Only when an earlier attempt of this very call may have gone through: Discourse
            # then refuses the repeat with "External has already been taken".
            if not (external_id and opts.maybe_applied and any("External" in e and "taken" in e for e in exc.errors)):
                raise
            topic = self.get_topic_by_external_id(external_id)
            first = self.get_post(topic.first_post_id) if topic and topic.first_post_id else None
            if first is None:
                raise
            post = first
        else:
            post = Post.from_json(data, self.url)
        if tags is not None and list(tags):
            self.update_topic(post.topic_id, tags=tags)
        return post

    def create_reply(self, topic_id: int, raw: str, *, username: str | None = None,
                     reply_to_post_number: int | None = None) -> Post:
        with self._options(username=username):
            data = self._api.create_post(raw, topic_id=int(topic_id), reply_to_post_number=reply_to_post_number)
        return Post.from_json(data, self.url)

    def topic_data(self, topic_id: int) -> dict | None:
        """The topic as Discourse serialises it (GET /t/{id}.json, with its post_stream), or None."""
        try:
            return self._api.topic_by_id(int(topic_id))
        except NotFound:
            return None

    def get_topic(self, topic_id: int) -> Topic | None:
        data = self.topic_data(topic_id)
        return Topic.from_json(data, self.url) if data is not None else None

    def get_topic_by_external_id(self, external_id: str) -> Topic | None:
        """The topic created with this external id, or None. Discourse answers with a redirect
        to the topic (TopicsController#show_by_external_id); the topic is then read by id."""
        path = f"/t/external_id/{quote(str(external_id), safe='')}.json"
        resp = self._call("GET", path, raw=True)
        if resp.status_code == 404:
            return None
        if resp.status_code in (301, 302, 303, 307, 308):
            topic_id = topic_id_from_location(resp.headers.get("Location", ""))
            if topic_id is None:
                raise DiscourseError(f"Discourse GET {path}: redirect to an unexpected place",
                                     status=resp.status_code, operation="get_topic_by_external_id")
            return self.get_topic(topic_id)
        data = self._decode(resp, "get_topic_by_external_id", f"Discourse GET {path}")
        return Topic.from_json(data, self.url)

    def post_data(self, post_id: int) -> dict | None:
        """The post as Discourse serialises it (GET /posts/{id}.json), or None."""
        try:
            return self._api.post_by_id(int(post_id))
        except NotFound:
            return None

    def get_post(self, post_id: int) -> Post | None:
        data = self.post_data(post_id)
        return Post.from_json(data, self.url) if data is not None else None

    def update_post(self, post_id: int, raw: str, *, edit_reason: str | None = None) -> Post:
        data = self._api.update_post(int(post_id), raw, edit_reason=edit_reason or "")
        return Post.from_json(data["post"], self.url)

    def update_first_post(self, topic_id: int, raw: str, *, edit_reason: str | None = None) -> Post:
        topic = self.get_topic(topic_id)
        if topic is None or topic.first_post_id is None:
            raise NotFound(f"no topic {topic_id} (or it has no first post)", operation="get_topic")
        return self.update_post(topic.first_post_id, raw, edit_reason=edit_reason)

    def update_topic(self, topic_id: int, *, title: str | None = None, category: int | str | None = None,
                     tags: Iterable[str] | None = None) -> None:
        """Change a topic's title, category and/or tags (None: leave as is; ``tags=[]``
        removes every tag)."""
        fields: dict[str, Any] = {}
        if category is not None:
            fields["category_id"] = self._category_id(category)
        if tags is not None:
            fields["tags[]"] = list(tags) or [""]  # Rails reads `tags[]=` as "no tags"
        if title is None and not fields:
            return
        self._api.update_topic(f"/t/-/{int(topic_id)}.json", title, **fields)

    def set_visible(self, topic_id: int, visible: bool) -> None:
        """List (True) or unlist (False) a topic."""
        self._api.update_topic_status(int(topic_id), "visible", visible)

    # -- categories --------------------------------------------------------------------------
    def categories(self) -> list[Category]:
        """Every category, subcategories included."""
        out: list[Category] = []
        for c in self._api.categories(include_subcategories="true"):
            out.append(Category.from_json(c))
            for sub in c.get("subcategory_list") or []:
                out.append(Category.from_json(sub))
        self._categories = {c.slug: c for c in out}
        return out

    def category_tree(self) -> dict[int, Category]:
        """Every category the API user may see, by id, each with its parent and whether it is
        read-restricted (GET /categories.json, nested ``subcategory_list`` walked to any depth:
        the documented list item lacks ``parent_category_id``, the nesting gives it)."""
        found: dict[int, Category] = {}

        def walk(items: Any, parent_id: int | None) -> None:
            for c in items or []:
                if isinstance(c, Mapping) and "id" in c:
                    cat = Category.from_json(c, parent_id)
                    if cat.parent_category_id is not None or cat.id not in found:
                        found[cat.id] = cat
                    walk(c.get("subcategory_list"), cat.id)

        walk(self._api.categories(include_subcategories="true"), None)
        return found

    def category_by_slug(self, slug: str) -> Category | None:
        if self._categories is None or slug not in self._categories:
            self.categories()
        return (self._categories or {}).get(slug)

    def create_category(self, name: str, *, slug: str | None = None, color: str = "0088CC",
                        text_color: str = "FFFFFF") -> Category:
        extra = {"slug": slug} if slug else {}
        data = self._api.create_category(name, color, text_color=text_color, **extra)
        cat = Category.from_json(data["category"])
        if self._categories is not None:
            self._categories[cat.slug] = cat
        return cat

    # -- groups ------------------------------------------------------------------------------
    def group(self, name: str) -> Group | None:
        """The group of this name, or None when the forum has none."""
        try:
            data = self._api._get(f"/groups/{quote(name, safe='')}.json")
        except NotFound:
            return None
        return Group.from_json(data["group"])

    def create_group(self, name: str, *, full_name: str | None = None) -> Group:
        # Form fields as Rails reads them (params.require(:group)); pydiscourse's create_group
        # sends fields the documented createGroup body does not have (alias_level, automatic, ...).
        fields = {"group[name]": name, **({"group[full_name]": full_name} if full_name else {})}
        data = self._api._post("/admin/groups.json", **fields)
        return Group.from_json(data["basic_group"])

    # -- users -------------------------------------------------------------------------------
    def user_by_external_id(self, external_id: str) -> User | None:
        try:
            return User.from_json(self._api.user_by_external_id(external_id), external_id=str(external_id))
        except NotFound:
            return None

    def sync_sso(self, external_id: str, email: str, **fields: Any) -> User:
        """Create or update the member with this external id (``POST /admin/users/sync_sso``),
        exactly as a DiscourseConnect login would. `fields`: username, name, avatar_url,
        add_groups, remove_groups, admin, moderator, suppress_welcome_message, ..."""
        if self._connect_secret is None:
            raise ValueError("sync_sso needs the DiscourseConnect secret (connect_secret)")
        payload = {"external_id": str(external_id), "email": email}
        for k, v in fields.items():
            payload[k] = _form_bool(v) if isinstance(v, bool) else v
        data = self._api.sync_sso(self._connect_secret.value, **payload)
        return User.from_json(data, external_id=str(external_id))

    def log_out_user(self, user_id: int) -> None:
        self._api.log_out(int(user_id))

    def suspend_user(self, user_id: int, until: datetime, reason: str, *, message: str | None = None) -> None:
        fields = {"suspend_until": until.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
                  "reason": reason}
        if message:
            fields["message"] = message
        self._api._put(f"/admin/users/{int(user_id)}/suspend.json", **fields)

    # -- site settings -----------------------------------------------------------------------
    def site_settings(self) -> dict[str, SiteSetting]:
        data = self._api.get_site_settings() or {}
        return {s.name: s for s in map(SiteSetting.from_json, data.get("site_settings") or [])}

    def set_site_setting(self, name: str, value: str | bool | int) -> None:
        if not re.fullmatch(r"[a-z0-9_]+", name):
            raise ValueError(f"'{name}' is not a site setting name")
        if isinstance(value, bool):
            value = _form_bool(value)
        self._api.site_settings(**{name: str(value)})

    # -- web hooks ---------------------------------------------------------------------------
    def web_hooks(self) -> WebHooks:
        """Every web hook (all pages) and the event types this Discourse knows."""
        first = self._api.web_hooks() or {}
        hooks = {h["id"]: h for h in first.get("web_hooks") or []}
        total = int(first.get("total_rows_web_hooks") or len(hooks))
        while len(hooks) < total:
            page = (self._api.web_hooks(offset=len(hooks)) or {}).get("web_hooks") or []
            new = [h for h in page if h["id"] not in hooks]
            if not new:
                break
            hooks.update((h["id"], h) for h in new)
        types = [WebHookEventType(int(t["id"]), t.get("name", ""), t.get("group"))
                 for t in (first.get("extras") or {}).get("event_types") or []]
        return WebHooks(tuple(WebHook.from_json(h) for h in sorted(hooks.values(), key=lambda h: h["id"])),
                        tuple(types))

    def create_web_hook(self, payload_url: str, *, secret: str, event_type_ids: Iterable[int],
                        content_type: int = 1, active: bool = True, wildcard: bool = False,
                        verify_certificate: bool = True) -> WebHook:
        data = self._api.create_web_hook(payload_url=payload_url, secret=secret, content_type=content_type,
                                         active=active, wildcard_web_hook=wildcard,
                                         verify_certificate=verify_certificate,
                                         web_hook_event_type_ids=list(event_type_ids))
        return WebHook.from_json(data["web_hook"])

    def update_web_hook(self, web_hook_id: int, *, payload_url: str | None = None, secret: str | None = None,
                        event_type_ids: Iterable[int] | None = None, content_type: int | None = None,
                        active: bool | None = None, wildcard: bool | None = None,
                        verify_certificate: bool | None = None) -> WebHook:
        data = self._api.update_web_hook(
            web_hook_id, payload_url=payload_url, secret=secret, content_type=content_type, active=active,
            wildcard_web_hook=wildcard, verify_certificate=verify_certificate,
            web_hook_event_type_ids=list(event_type_ids) if event_type_ids is not None else None)
        return WebHook.from_json(data["web_hook"])


def _json_or_none(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def topic_id_from_location(location: str) -> int | None:
    """The topic id in a topic URL (``/t/slug/123``, ``/t/123``, with or without ``.json``)."""
    m = re.search(r"/t/(?:[^/]+/)?(\d+)(?:/\d+)?(?:\.json)?/?$", urlsplit(unquote(location)).path)
    return int(m.group(1)) if m else None
