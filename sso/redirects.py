"""Where the bridge may send a browser: the allow list behind every `next` and return URL.

A login (`/login?next=`), a log-out (`/logout?next=`) and a DiscourseConnect answer each end in
a redirect to a URL the request brought. Sending a browser to any URL would make the bridge an
open redirector (and, for a signed DiscourseConnect answer, hand the member's identity to a
stranger), so each of them is checked here against the origins of the bridge, the forum and
the blogs of the configuration. Pure functions of the URL and the settings, apart from
`default_next`, which names a route of this app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flask import url_for

if TYPE_CHECKING:
    from bridge.config import Settings

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: `next` travels in the session cookie (4 KB in all); a DiscourseConnect URL is ~600 characters
MAX_NEXT_LENGTH = 2048


def split_url(url: str):
    """urlsplit, or None for a URL it refuses: it raises ValueError on a bad IPv6 host ("http://[")."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, with the scheme's default port filled in."""
    parts = split_url(url)
    if parts is None:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return scheme, parts.hostname.lower(), port


def allowed_origins(settings: Settings) -> set[tuple[str, str, int]]:
    """(scheme, host, port) of the bridge, the forum and every WordPress site: where `next` may point."""
    urls = [settings.bridge.public_url]
    if settings.discourse is not None:
        urls.append(settings.discourse.url)
    urls += [site.url for site in settings.wordpress.sites]
    return {o for o in map(origin, urls) if o}


def safe_next(value: str | None, settings: Settings) -> str | None:
    """`value` when it is a same-origin path ("/x?y") or an http(s) URL on a configured host."""
    if not value or len(value) > MAX_NEXT_LENGTH:
        return None
    if "\\" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    parts = split_url(value)
    if parts is None:
        return None
    if not parts.scheme and not parts.netloc:
        return value if value.startswith("/") and not value.startswith("//") else None
    if parts.username is not None or parts.password is not None:
        return None
    found = origin(value)
    return value if found and found in allowed_origins(settings) else None


def same_origin(url: str, base_url: str) -> bool:
    """Whether `url` is a plain http(s) URL (no credentials, no control characters) on the host
    and port of `base_url`: where a DiscourseConnect answer may be sent."""
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or parts.username is not None or parts.password is not None:
        return False
    if "\\" in url or any(ord(c) < 32 or ord(c) == 127 for c in url):
        return False
    found = origin(url)
    return found is not None and found == origin(base_url)


def default_next(settings: Settings) -> str:
    """Where a member lands when no (acceptable) `next` was given: the forum, else the first blog."""
    if settings.discourse is not None:
        return settings.discourse.url + "/"
    if settings.wordpress.sites:
        return settings.wordpress.sites[0].url + "/"
    return url_for("wikimedia.whoami")
