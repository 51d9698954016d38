"""Discourse client: every request the bridge sends to the forum goes through this package.

Built on pydiscourse 1.7 (:class:`pydiscourse.DiscourseClient`): its methods shape the requests
(form fields, ``post[raw]``, ``tags[]``, ``permissions[everyone]``), and a subclass,
:class:`~.pydiscourse_adapter.PyDiscourse`, replaces its one transport method ``_request`` and adds the few
endpoints it lacks or reaches only through an undocumented Rails alias (topic by id,
user by external id, web hook admin, ``sync_sso`` with the payload in the body).
Flows use only the narrow class :class:`DiscourseClient`, whose results are frozen
dataclasses (:class:`Topic`, :class:`Post`, :class:`Category`, :class:`User`,
:class:`SiteSetting`, :class:`WebHook`).

Modules: :mod:`.routes` (the route table), :mod:`.pacer`, :mod:`.errors`, :mod:`.models` (the
results), :mod:`.pydiscourse_adapter` (request shaping), :mod:`.transport` (the one request
function) and :mod:`.client` (the operations). Import everything from this package.

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
  limit. Pacer is a sliding window like Discourse's: at most ``requests_per_minute`` requests
  start in any ``60 + WINDOW_MARGIN`` seconds, so the few requests of one new topic go out at
  once after a quiet spell. ``WINDOW_MARGIN`` (1.25 s) covers Discourse's limiter counting whole
  seconds (lib/rate_limiter.rb: a request passes when the oldest of the last ``max`` is *more
  than* ``secs`` whole seconds old, so 60 a minute really means 60 per 61 s at worst) plus
  network jitter: a long run gets 60 / 61.25 = 98 % of the allowance. Why not pyrate-limiter: it would be a new
  dependency whose API changed between majors, and the bridge needs two things it does not
  offer directly: asking for the next-free-slot delay without taking it, and pushing every
  thread back after a 429.
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

from bridge.clients.discourse.client import DiscourseClient, topic_id_from_location
from bridge.clients.discourse.errors import (DiscourseAuthError, DiscourseError, DiscourseRateLimited,
                                             DiscourseUnavailable, DiscourseValidationError, EmailTaken, NotFound)
from bridge.clients.discourse.models import (Category, Group, Post, SiteSetting, Topic, User, WebHook,
                                             WebHookEventType, WebHooks)
from bridge.clients.discourse.pacer import HEADROOM, Pacer, SlotTooFar, pacer_for
from bridge.clients.discourse.routes import OPENAPI, ROUTES, Route, UnlistedRoute, route_for
from bridge.clients.discourse.transport import DEFAULT_TIMEOUT
from bridge.clients.errors import outbox_failure

__all__ = [
    "HEADROOM",
    "OPENAPI",
    "ROUTES",
    "Category",
    "DEFAULT_TIMEOUT",
    "DiscourseAuthError",
    "DiscourseClient",
    "DiscourseError",
    "DiscourseRateLimited",
    "DiscourseUnavailable",
    "DiscourseValidationError",
    "EmailTaken",
    "Group",
    "NotFound",
    "Pacer",
    "Post",
    "Route",
    "SlotTooFar",
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
    "topic_id_from_location",
]
