"""The one HMAC-SHA256 the bridge uses for every signature it makes or checks.

DiscourseConnect payloads, Discourse's web hook deliveries, the WordPress mu-plugin's hook
deliveries and the bridge's signed requests to that mu-plugin all sign with hex HMAC-SHA256;
only the message each one signs differs, so the message is the caller's business and the
MAC and its comparison live here, once. Plain SHA-256 hashes (not keyed) are not signatures
and stay with their callers.
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["sign", "verify"]

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def _bytes(value: str | bytes | bytearray | memoryview) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def sign(secret: str | bytes, message: str | bytes) -> str:
    """Hex HMAC-SHA256 of `message` with `secret`, 64 lowercase digits (text is UTF-8)."""
    return hmac.new(_bytes(secret), _bytes(message), hashlib.sha256).hexdigest()


def verify(secret: str | bytes, message: str | bytes, signature: object) -> bool:
    """Whether `signature` (64 hex digits, either case, as the platforms send them) is
    :func:`sign` of `message`. The comparison takes the same time wherever two well-formed
    signatures differ; anything that is not 64 hex digits is refused before comparing."""
    if not isinstance(signature, str) or not _HEX_SHA256.fullmatch(signature):
        return False
    return hmac.compare_digest(sign(secret, message).encode("ascii"), signature.lower().encode("ascii"))
