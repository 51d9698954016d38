"""Who is asking: API key + username headers, or a browser's `_t` cookie; and the admin API
rate limit.

Follows lib/auth/default_current_user_provider.rb (lookup_api_user; a suspended or inactive API
user is Discourse::InvalidAccess, checked before the limit; admin_api_key_limiter is
`RateLimiter.new(nil, "admin_api_min", ...)`: one bucket for the whole site, shared by every key)
and lib/rate_limiter.rb (a sliding window of `max` requests per `secs`; a refused request is not
counted; LimitExceeded carries `available_in`, rendered as `wait_seconds` and `time_left` with a
Retry-After header by ApplicationController).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from flask import Request

from . import errors

HEADER_API_KEY = "Api-Key"
HEADER_API_USERNAME = "Api-Username"
HEADER_API_USER_ID = "Api-User-Id"
HEADER_API_USER_EXTERNAL_ID = "Api-User-External-Id"
AUTH_COOKIE = "_t"
ADMIN_API_BUCKET = "admin_api_min"
SESSION_COOKIE = "_forum_session"


@dataclass
class Auth:
    user: dict | None = None
    api_key: dict | None = None
    via_cookie: bool = False
    error: object | None = None  # a Flask response to return instead


def authenticate(store, request: Request) -> Auth:
    key = request.headers.get(HEADER_API_KEY)
    if key is not None:
        rec = store.api_key(key)
        user = None
        if rec:
            username = request.headers.get(HEADER_API_USERNAME)
            if rec.get("user_id") is not None:
                owner = store.user(rec["user_id"])
                if owner and (not username or owner["username"].lower() == username.lower()):
                    user = owner
            elif username:
                user = store.user_by_username(username)
            elif request.headers.get(HEADER_API_USER_ID):
                try:
                    user = store.user(int(request.headers[HEADER_API_USER_ID]))
                except ValueError:
                    user = None
            elif request.headers.get(HEADER_API_USER_EXTERNAL_ID):
                user = store.user_by_external_id(request.headers[HEADER_API_USER_EXTERNAL_ID])
        if not user:
            return Auth(error=errors.invalid_access("invalid_api_credentials"))
        if _suspended(user) or not user.get("active"):
            return Auth(error=errors.invalid_access())
        limited = check_rate(store, ADMIN_API_BUCKET)
        if limited is not None:
            return Auth(error=errors.rate_limited(limited, "admin_api_key_rate_limit"))
        return Auth(user=user, api_key=rec)
    token = request.cookies.get(AUTH_COOKIE)
    if token:
        with store.lock:
            uid = store.auth_tokens.get(token)
        user = store.user(uid)
        if user and not _suspended(user) and user.get("active"):
            # "under no conditions do suspended or inactive accounts get current_user"
            return Auth(user=user, via_cookie=True)
    return Auth()


def _suspended(user: dict) -> bool:
    # User#suspended?: suspended_till in the future
    till = user.get("suspended_till")
    return bool(till) and till > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def check_rate(store, key: str) -> float | None:
    """Record one request in bucket `key`; None when allowed, else seconds until the next is."""
    now = time.monotonic()
    with store.lock:
        limit = int(store.rate["max"])
        window = float(store.rate["window"])
        hits = store.rate_hits.setdefault(key, deque())
        while hits and now - hits[0] >= window:
            hits.popleft()
        if limit <= 0:
            return None
        if len(hits) >= limit:
            return window - (now - hits[0])
        hits.append(now)
        return None
