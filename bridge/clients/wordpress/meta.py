"""The bridge's own post meta: the key names and how each value is stored as text.

Both transports carry the same strings (see the package's docstring for the table of keys
and why they are single ``string`` meta starting with ``_``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import structlog

from bridge.clients.wordpress.errors import BridgeMetaUnavailable
from bridge.clients.wordpress.models import BridgeMeta, Post

__all__ = ["META_FIELDS", "META_PREFIX", "check_meta_names", "check_meta_written", "decode_meta", "encode_meta",
           "format_utc", "meta_from_strings", "meta_key"]

log = structlog.get_logger(__name__)

#: Prefix of every post meta key the bridge owns.
META_PREFIX = "_space_bridge_"

#: Bridge meta fields (the :class:`BridgeMeta` attribute names) and their Python types.
#: The WordPress key is ``META_PREFIX + name``.  Mirrors ``meta_fields()`` in the mu-plugin.
META_FIELDS: dict[str, str] = {
    "topic_id": "int",
    "topic_url": "str",
    "reply_count": "int",
    "replies": "json",
    "synced_at": "datetime",
}


def meta_key(name: str) -> str:
    return META_PREFIX + name


def format_utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_meta(name: str, value: Any) -> str | None:
    """Python value -> stored string; None means "delete the key"."""
    if value is None:
        return None
    kind = META_FIELDS[name]
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"bridge meta {name!r} must be an int, not {type(value).__name__}")
        return str(value)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"bridge meta {name!r} must be a str, not {type(value).__name__}")
        if value == "":
            return None  # "" means unset on both transports
        return value
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    if kind == "datetime":
        if not isinstance(value, datetime):
            raise TypeError(f"bridge meta {name!r} must be a datetime, not {type(value).__name__}")
        return format_utc(value)
    raise AssertionError(kind)


def decode_meta(name: str, raw: Any) -> Any:
    """Stored string -> Python value; "" / missing -> None.  A malformed value is logged and
    reported as None (it can only come from someone editing the meta by hand)."""
    if raw is None or raw == "":
        return None
    kind = META_FIELDS[name]
    try:
        if kind == "int":
            return int(raw)
        if kind == "str":
            return str(raw)
        if kind == "json":
            return json.loads(raw)
        if kind == "datetime":
            parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
    except (TypeError, ValueError):
        log.warning("wordpress.meta_malformed", key=meta_key(name), value=repr(raw)[:200], action="ignored")
        return None
    raise AssertionError(kind)


def meta_from_strings(values: Mapping[str, Any]) -> BridgeMeta:
    """``{wordpress_key: stored string}`` -> BridgeMeta."""
    return BridgeMeta(**{name: decode_meta(name, values.get(meta_key(name))) for name in META_FIELDS})


def check_meta_names(values: Mapping[str, Any]) -> None:
    unknown = sorted(set(values) - set(META_FIELDS))
    if unknown:
        raise ValueError(f"unknown bridge meta field(s) {unknown}; known: {sorted(META_FIELDS)}")



def check_meta_written(post: Post, encoded: Mapping[str, str | None]) -> None:
    """Raise :class:`BridgeMetaUnavailable` unless `post` holds the `encoded` meta just written.
    The REST API drops meta it does not know without an error; make sure it took."""
    for name, value in encoded.items():
        if encode_meta(name, getattr(post.meta, name)) != value:
            raise BridgeMetaUnavailable(
                f"WordPress did not store bridge meta {meta_key(name)} on post {post.id}"
            )
