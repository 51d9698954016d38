"""Checking that a web hook really comes from the forum: pure functions, no HTTP.

Discourse signs every delivery of a web hook that has a secret
(app/jobs/regular/emit_web_hook_event.rb, ``WebHook#signature``)::

    X-Discourse-Event-Signature: sha256=<hex of HMAC-SHA256(secret, raw request body)>

The signature covers the exact bytes of the body, so it must be checked on the raw body as
received, before any JSON parsing or re-encoding. :func:`verify_signature` does that in
constant time (:func:`bridge.signing.verify`) and raises :class:`InvalidSignature` with a
``reason`` an endpoint can log and return (the reason never contains the secret or the
expected signature). The HTTP endpoint that uses it is part of the bridge's web server.

Discourse also names the event in headers; :func:`event_of` reads them
(``X-Discourse-Event-Type``: topic, post, user, flag, reviewable, ping ...;
``X-Discourse-Event``: topic_created, post_edited ...; ``X-Discourse-Event-Id``: the id of
the delivery attempt, new for every retry; ``X-Discourse-Instance``: the forum's URL).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge import signing

__all__ = [
    "EVENT_HEADER",
    "EVENT_ID_HEADER",
    "EVENT_TYPE_HEADER",
    "INSTANCE_HEADER",
    "SIGNATURE_HEADER",
    "InvalidSignature",
    "WebhookEvent",
    "event_of",
    "is_valid_signature",
    "json_object",
    "positive_id",
    "sign",
    "verify_request",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Discourse-Event-Signature"
EVENT_TYPE_HEADER = "X-Discourse-Event-Type"
EVENT_HEADER = "X-Discourse-Event"
EVENT_ID_HEADER = "X-Discourse-Event-Id"
INSTANCE_HEADER = "X-Discourse-Instance"

_ALGORITHM = "sha256"
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]{1,19}", re.ASCII)
#: ids are BIGINT columns on PostgreSQL and 64-bit integers on SQLite
MAX_ID = 2**63 - 1


class InvalidSignature(ValueError):
    """The delivery is not signed, or not signed with our secret. ``reason`` says which:
    ``missing``, ``malformed``, ``unsupported_algorithm`` or ``mismatch``."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        # An empty secret would "verify" anything signed with an empty key: refuse outright.
        raise ValueError("the web hook secret is empty")
    return key


def _raw(body: bytes | bytearray | memoryview) -> bytes:
    if isinstance(body, str):
        raise TypeError("verify the raw request body (bytes), not decoded text: the signature covers the exact bytes")
    return bytes(body)


def sign(body: bytes, secret: str | bytes) -> str:
    """The header value Discourse sends for `body`: ``sha256=<64 lowercase hex digits>``."""
    return f"{_ALGORITHM}=" + signing.sign(_key(secret), _raw(body))


def verify_signature(body: bytes, header: str | None, secret: str | bytes) -> None:
    """Raise :class:`InvalidSignature` unless `header` is Discourse's signature of `body` with `secret`.

    `body` is the raw request body; `header` the value of X-Discourse-Event-Signature (None
    when absent). The comparison takes the same time wherever the signatures differ.
    """
    key = _key(secret)
    raw = _raw(body)
    if header is None or not header.strip():
        raise InvalidSignature("missing", f"no {SIGNATURE_HEADER} header: the web hook has no secret, "
                                          "or the request does not come from Discourse")
    algorithm, sep, digest = header.strip().partition("=")
    if not sep:
        raise InvalidSignature("malformed", f"{SIGNATURE_HEADER} is not of the form sha256=<hex digest>")
    if algorithm.strip().lower() != _ALGORITHM:
        raise InvalidSignature("unsupported_algorithm",
                               f"{SIGNATURE_HEADER} uses '{algorithm[:20]}', expected {_ALGORITHM}")
    digest = digest.strip()
    if not _HEX_DIGEST.fullmatch(digest):
        raise InvalidSignature("malformed", f"{SIGNATURE_HEADER} does not hold a 64-digit hex SHA-256 digest")
    if not signing.verify(key, raw, digest):
        raise InvalidSignature("mismatch", f"{SIGNATURE_HEADER} does not match the body: wrong secret, "
                                           "or the body was changed on the way")


def is_valid_signature(body: bytes, header: str | None, secret: str | bytes) -> bool:
    """True when :func:`verify_signature` accepts; never raises for a bad header."""
    try:
        verify_signature(body, header, secret)
    except InvalidSignature:
        return False
    return True


def _header(headers: Mapping[str, str], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:  # plain dicts are case-sensitive; HTTP header names are not
        low = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == low), None)
    return value


def verify_request(headers: Mapping[str, str], body: bytes, secret: str | bytes) -> None:
    """:func:`verify_signature` with the header looked up (case-insensitively) in `headers`."""
    verify_signature(body, _header(headers, SIGNATURE_HEADER), secret)


@dataclass(frozen=True)
class WebhookEvent:
    """What a delivery says about itself in its headers (any may be None when absent)."""

    event_type: str | None  # topic, post, user, flag, reviewable, ping, ...
    event: str | None  # topic_created, post_edited, ... (None for a ping)
    delivery_id: str | None  # X-Discourse-Event-Id: one per delivery attempt
    instance: str | None  # the forum's base URL


def event_of(headers: Mapping[str, str]) -> WebhookEvent:
    return WebhookEvent(
        event_type=_header(headers, EVENT_TYPE_HEADER),
        event=_header(headers, EVENT_HEADER),
        delivery_id=_header(headers, EVENT_ID_HEADER),
        instance=_header(headers, INSTANCE_HEADER),
    )


# -- reading a delivery's body (both web hooks) -----------------------------------------------------
def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or ValueError naming what is wrong with it.

    json.loads raises more than ValueError on hostile input: RecursionError for deep nesting.
    """
    try:
        data = json.loads(body)
    except RecursionError:
        raise ValueError("the body nests too deeply") from None
    except ValueError as exc:  # also UnicodeDecodeError, and integers longer than Python allows
        raise ValueError(f"the body is not JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the body is a JSON {type(data).__name__}, not an object")
    return data


def hint_text(value: Any, name: str, alphabet: re.Pattern[str]) -> str:
    """A short text field of a delivery (a status, a time, an event name) in its closed alphabet,
    else ValueError naming the field: such a value goes into job keys and logs, where a NUL
    (which PostgreSQL cannot store), a line break or markup has no business."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) and not isinstance(value, bool) else None
    if text is None or not alphabet.fullmatch(text):
        raise ValueError(f"{name} is not a valid value")
    return text


def iso_time(value: Any) -> dt.datetime | None:
    """A platform's ISO 8601 time ("2026-01-31T10:00:00.000Z"; a datetime is taken as it is) as
    an aware datetime, naive ones read as UTC; None when absent or malformed."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def json_id(value: Any) -> int | None:
    """A numeric id as a forum web hook's JSON carries it (a number, 1..MAX_ID), else None: for
    subscribers that ignore a delivery naming nothing they can use, rather than refuse it."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID else None


def positive_id(value: Any, name: str = "id") -> int:
    """A platform's numeric id (JSON number or ASCII digits), 1..MAX_ID, else ValueError.

    int() alone would take floats (and fail on Infinity with OverflowError), booleans, and
    non-ASCII digits such as "١٢"; ids beyond 64 bits would fail in the database instead.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{name} must be a whole number")
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value.strip()):
            raise ValueError(f"{name} must be a whole number")
        value = int(value.strip())
    if not 0 < value <= MAX_ID:
        raise ValueError(f"{name} is out of range")
    return value
