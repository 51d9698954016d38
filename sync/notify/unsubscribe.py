"""Signed unsubscribe links: leaving takes one click, without logging in (issue 16, RFC 8058).

A token names the member (`sub`), what to stop (one event, or everything) and when it was
issued, and carries an HMAC-SHA256 of all three (bridge/signing.py, compared in constant time):

    base64url("v1\\n<sub>\\n<event or *>\\n<issued, Unix seconds>") "." <64 hex digits>

The key is derived from `bridge.secret_key` with a purpose label (`secret`), so a token is no
use as any other signature the bridge makes, and the session key itself never signs one. A
token is refused when it is malformed, its signature does not match (tampered, or made with
another key), it names an unknown event, or it is older than `notify.unsubscribe_link_days`.

`headers` gives the email channel's `List-Unsubscribe` (the https link, RFC 2369) and
`List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058 section 3.1): a mail client then
POSTs that body to the link, and the bridge unsubscribes at once (sync/notify/web.py).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from bridge import signing
from sync.notify.schema import EVENTS

PURPOSE = "space-bridge notify unsubscribe v1"
VERSION = "v1"
ALL = "*"
PATH = "/me/notifications/unsubscribe"
MAX_TOKEN_LENGTH = 400  # a 64-character sub and the longest event make about 200
MAX_CLOCK_SKEW_SECONDS = 300  # a token issued this far in the future was not issued by this bridge's clock
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1: the POST body, and List-Unsubscribe-Post's value
_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,340})\.([0-9a-f]{64})", re.ASCII)


class BadToken(ValueError):
    """A token that does not unsubscribe anyone; `reason` is "malformed", "signature" or "expired"."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"unsubscribe token refused: {reason}")


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid token asks: stop `event` (None: everything) for member `sub`."""

    sub: str
    event: str | None
    issued_at: int  # Unix seconds


def secret(secret_key) -> str:
    """The key of the unsubscribe tokens, derived from `bridge.secret_key` (a str or SecretStr)
    with this module's purpose label."""
    raw = secret_key.get_secret_value() if hasattr(secret_key, "get_secret_value") else secret_key
    if not raw:
        raise ValueError("bridge.secret_key is empty")
    return signing.sign(raw, PURPOSE)


def _seconds(moment) -> int:
    if isinstance(moment, dt.datetime):
        # naive datetimes are UTC in the bridge (bridge.store.utcnow)
        return int((moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).timestamp())
    return int(moment)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def link_token(secret: str, sub: str, event: str | None, issued_at) -> str:
    """The token of a link that stops `event` (None: everything) for `sub`; `issued_at` a datetime
    (naive is UTC) or Unix seconds."""
    sub = str(sub)
    if not sub or "\n" in sub or len(sub) > 64:
        raise ValueError("sub must be 1 to 64 characters on one line")
    if event is not None and event not in EVENTS:
        raise ValueError(f"'{event}' is not one of {', '.join(EVENTS)}")
    payload = _b64(f"{VERSION}\n{sub}\n{event or ALL}\n{_seconds(issued_at)}")
    return f"{payload}.{signing.sign(secret, PURPOSE + chr(10) + payload)}"


def verify(secret: str, token, now, max_age) -> Unsubscribe:
    """What `token` asks, if this bridge signed it at most `max_age` (seconds or a timedelta) before
    `now` (a datetime or Unix seconds); else BadToken."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise BadToken("malformed")
    found = _TOKEN.fullmatch(token.strip())
    if found is None:
        raise BadToken("malformed")
    payload, mac = found.groups()
    if not signing.verify(secret, PURPOSE + "\n" + payload, mac):
        raise BadToken("signature")
    try:
        text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadToken("malformed") from None
    parts = text.split("\n")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1] or not parts[3].isascii() or not parts[3].isdigit():
        raise BadToken("malformed")
    _, sub, event, issued = parts
    if event != ALL and event not in EVENTS:
        raise BadToken("malformed")
    age = max_age.total_seconds() if isinstance(max_age, dt.timedelta) else float(max_age)
    now_s = _seconds(now)
    if int(issued) > now_s + MAX_CLOCK_SKEW_SECONDS:
        raise BadToken("malformed")
    if now_s - int(issued) > age:
        raise BadToken("expired")
    return Unsubscribe(sub=sub, event=None if event == ALL else event, issued_at=int(issued))


def link(secret: str, public_url: str, sub: str, event: str | None, issued_at, *, uselang: str | None = None) -> str:
    """The unsubscribe page's address for `sub` and `event` under the bridge's `public_url`."""
    args = {"t": link_token(secret, sub, event, issued_at), **({"uselang": uselang} if uselang else {})}
    return str(public_url).rstrip("/") + PATH + "?" + urlencode(args)


def headers(secret: str, public_url: str, sub: str, event: str | None, issued_at) -> dict[str, str]:
    """The `List-Unsubscribe` and `List-Unsubscribe-Post` headers of an email to `sub` about `event`
    (RFC 8058: one https URI in angle brackets, and the one-click POST body)."""
    return {"List-Unsubscribe": f"<{link(secret, public_url, sub, event, issued_at)}>",
            "List-Unsubscribe-Post": ONE_CLICK}


def for_settings(settings, sub: str, event: str | None, issued_at) -> tuple[str, dict[str, str]]:
    """The link and the email headers for `sub` and `event`, from the loaded configuration."""
    key = secret(settings.bridge.secret_key)
    base = str(settings.bridge.public_url)
    return link(key, base, sub, event, issued_at), headers(key, base, sub, event, issued_at)
