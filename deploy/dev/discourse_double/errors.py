"""Discourse's error responses and their texts (config/locales/server.en.yml; the shapes come
from ApplicationController#render_json_error and its rescue_from handlers)."""

from __future__ import annotations

import json
import math

from flask import Response

JSON_CT = "application/json; charset=utf-8"

# server.en.yml
MSG = {
    "invalid_access": "You are not permitted to view the requested resource.",
    "invalid_api_credentials": "You are not permitted to view the requested resource. The API username or key is invalid.",
    "not_logged_in": "You need to be logged in to do that.",
    "not_found": "The requested URL or resource could not be found.",
    "invalid_parameters": "You supplied invalid parameters to the request: %s",
    "param_missing": "param is missing or the value is empty: %s",
    "too_many_requests": "You\u2019ve performed this action too many times. Please wait %s before trying again.",
    "topic_not_found": "Something has gone wrong. Perhaps this topic was closed or deleted while you were looking at it?",
    "bad_csrf": "BAD CSRF",
}


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, content_type=JSON_CT)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def json_error(errors, status: int = 422, error_type: str | None = None, extras: dict | None = None,
               headers: dict | None = None, **more) -> Response:
    body: dict = {"errors": errors if isinstance(errors, list) else [errors]}
    if error_type:
        body["error_type"] = error_type
    if extras is not None:
        body["extras"] = extras
    body.update(more)
    return json_response(body, status, headers)


def not_found() -> Response:
    # ApplicationController rescue_from Discourse::NotFound (JSON requests)
    return json_error(MSG["not_found"], 404, "not_found")


def invalid_access(custom: str | None = None) -> Response:
    return json_error(MSG[custom] if custom else MSG["invalid_access"], 403, "invalid_access")


def not_logged_in() -> Response:
    return json_error(MSG["not_logged_in"], 403, "not_logged_in")


def invalid_parameters(name: str, extra: list[str] | None = None) -> Response:
    return json_error([MSG["invalid_parameters"] % name] + (extra or []), 400, "invalid_parameters")


def time_left(seconds: float) -> str:
    """RateLimiter::LimitExceeded#time_left: seconds below a minute, then minutes, then hours."""
    s = int(math.ceil(seconds))
    if s < 60:
        return f"{s} second" if s == 1 else f"{s} seconds"
    if s < 3600:
        m = int(math.ceil(s / 60))
        return f"{m} minute" if m == 1 else f"{m} minutes"
    h = int(math.ceil(s / 3600))
    return f"{h} hour" if h == 1 else f"{h} hours"


def rate_limited(wait_seconds: float, error_code: str | None = None) -> Response:
    wait = max(1, int(math.ceil(wait_seconds)))
    tl = time_left(wait)
    headers = {"Retry-After": str(wait)}
    if error_code:
        headers["Discourse-Rate-Limit-Error-Code"] = error_code
    return json_error(MSG["too_many_requests"] % tl, 429, "rate_limit",
                      extras={"wait_seconds": wait, "time_left": tl}, headers=headers)
