"""DiscourseConnect, provider side: read a consumer's request, write the signed answer. Pure functions.

The protocol is Discourse's lib/discourse_connect_base.rb (github.com/discourse/discourse):

- a payload is ``Base64.strict_encode64(Rack::Utils.build_query(fields))``: Base64 without line
  breaks of a form-encoded query string, the fields in ``ACCESSORS`` order, ``nil`` fields left
  out, ``custom.NAME`` fields after them; each key and value encoded by Ruby's
  ``URI.encode_www_form_component`` (``*-._``, digits and ASCII letters kept, space ``+``, every
  other UTF-8 byte ``%XX``: bridge/clients/discourse/connect.py), so the bytes, and the signature,
  are the ones Discourse would produce for the same fields;
- ``sig`` is ``OpenSSL::HMAC.hexdigest("sha256", secret, payload)``: lowercase hex HMAC-SHA256 of
  the *Base64 text* (not of the decoded query) with the shared secret;
- ``parse`` refuses an ``sso`` with characters outside ``[a-zA-Z0-9=\\r\\n/+]`` (PayloadParseError)
  and a ``sig`` that is not the payload's (SignatureError);
- booleans (``BOOLS``) are the strings ``"true"`` / ``"false"``; anything else reads as nil;
- ``to_url``: ``return_sso_url`` + ``?`` (or ``&`` when it has a query) + ``sso=CGI.escape(payload)&sig=HEX``.

A consumer's request (app/models/discourse_connect.rb, ``generate_sso``) carries ``nonce`` and
``return_sso_url`` (and ``prompt=none`` for a silent login attempt); the answer repeats the
nonce and adds the member (``external_id``, ``email``, ``username``, ``name``, groups, flags).

    request = parse_request(sso, sig, secret)           # ConnectRequest or a ConnectError
    sso, sig = build_payload({"nonce": ..., ...}, secret)
    url = answer_url(request.return_sso_url, sso, sig)
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote

from bridge import signing
from bridge.clients.discourse import connect

# lib/discourse_connect_base.rb: ACCESSORS and BOOLS (same order: the answer follows it)
ACCESSORS = ("add_groups", "admin", "avatar_force_update", "avatar_url", "bio", "card_background_url",
             "confirmed_2fa", "email", "external_id", "failed", "groups", "locale", "locale_force_update",
             "location", "logout", "moderator", "name", "no_2fa_methods", "nonce", "prompt",
             "profile_background_url", "remove_groups", "require_2fa", "require_activation", "return_sso_url",
             "suppress_welcome_message", "title", "username", "website")
BOOLS = frozenset({"admin", "avatar_force_update", "confirmed_2fa", "failed", "locale_force_update", "logout",
                   "moderator", "no_2fa_methods", "require_2fa", "require_activation", "suppress_welcome_message"})

#: longest `sso` accepted: a consumer's request is a nonce, a return URL and perhaps `prompt`
#: (the whole request URL also has to fit in the login's `next`, sso/wikimedia.py)
MAX_SSO_CHARS = 1500
MAX_NONCE_CHARS = 128
MAX_RETURN_URL_CHARS = 2000
SIG_HEX_CHARS = 64  # SHA-256

_BASE64_REFUSED = re.compile(r"[^a-zA-Z0-9=\r\n/+]")  # discourse_connect_base.rb, parse
_HEX = re.compile(r"[0-9a-fA-F]{64}")


class ConnectError(ValueError):
    """A request that cannot be answered; `code` names the reason (for logs and refusal pages)."""

    code = "invalid"


class MissingParameter(ConnectError):
    code = "missing"


class TooLarge(ConnectError):
    code = "too_large"


class PayloadParseError(ConnectError):
    """`sso` is not Base64 of a UTF-8 query string (Discourse: PayloadParseError)."""

    code = "payload"


class SignatureError(ConnectError):
    """`sig` is not the HMAC of `sso` with the consumer's secret (Discourse: SignatureError)."""

    code = "signature"


class MissingField(ConnectError):
    """The signed payload lacks `nonce` or `return_sso_url`, or they are unusable."""

    code = "fields"


@dataclasses.dataclass(frozen=True)
class ConnectRequest:
    nonce: str
    return_sso_url: str
    prompt: str | None
    fields: Mapping[str, str]

    @property
    def nonce_hash(self) -> str:
        """What the provider stores instead of the nonce itself."""
        return hashlib.sha256(self.nonce.encode()).hexdigest()


def sign(payload: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the Base64 `payload` with `secret` (DiscourseConnectBase.sign)."""
    return signing.sign(secret, payload)


def verify(payload: str, sig: str, secret: str) -> bool:
    """Constant-time check of `sig` (64 hex digits, either case) against `payload`."""
    return signing.verify(secret, payload, sig)


def parse_request(sso: Any, sig: Any, secret: str) -> ConnectRequest:
    """Verify and read a consumer's request; raise a ConnectError subclass when it is not one.

    The signature is checked before the payload is decoded, so nothing from an unsigned payload
    is ever looked at.
    """
    if not secret:
        raise ValueError("the consumer's secret is empty")
    if not isinstance(sso, str) or not sso or not isinstance(sig, str) or not sig:
        raise MissingParameter("both sso and sig are required")
    if len(sso) > MAX_SSO_CHARS or len(sig) > 2 * SIG_HEX_CHARS:
        raise TooLarge(f"sso is limited to {MAX_SSO_CHARS} characters")
    if _BASE64_REFUSED.search(sso):
        raise PayloadParseError("sso is not Base64 (A-Z, a-z, 0-9, +, / and =)")
    if len(sig) != SIG_HEX_CHARS or not _HEX.fullmatch(sig):
        raise SignatureError("sig is not 64 hexadecimal digits")
    if not verify(sso, sig, secret):
        raise SignatureError("sig does not match the payload")
    try:
        decoded = base64.b64decode(sso.replace("\r", "").replace("\n", ""), validate=True).decode("utf-8")
    except (binascii.Error, ValueError) as exc:
        raise PayloadParseError(f"sso is not Base64 of UTF-8 text: {exc}") from None
    fields = dict(parse_qsl(decoded, keep_blank_values=True))
    nonce = fields.get("nonce") or ""
    return_sso_url = fields.get("return_sso_url") or ""
    if not nonce.strip():
        raise MissingField("the payload has no nonce")
    if not return_sso_url.strip():
        raise MissingField("the payload has no return_sso_url")
    if len(nonce) > MAX_NONCE_CHARS or any(ord(c) < 33 or ord(c) == 127 for c in nonce):
        raise MissingField("the nonce is too long or has control characters")
    if len(return_sso_url) > MAX_RETURN_URL_CHARS:
        raise MissingField("return_sso_url is too long")
    return ConnectRequest(nonce=nonce, return_sso_url=return_sso_url, prompt=fields.get("prompt") or None,
                          fields=fields)


def _value(key: str, value: Any) -> str:
    if key in BOOLS:
        if not isinstance(value, bool):
            raise TypeError(f"{key} is a boolean field, got {value!r}")
        return "true" if value else "false"
    if isinstance(value, bool):
        raise TypeError(f"{key} is not a boolean field")
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def payload_pairs(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The fields as DiscourseConnectBase#to_h lists them: ACCESSORS order, None left out, then
    ``custom.*`` fields, values as text; unknown keys are an error (Discourse would ignore them)."""
    unknown = [k for k in fields if k not in ACCESSORS and not k.startswith("custom.")]
    if unknown:
        raise KeyError(f"not DiscourseConnect fields: {', '.join(sorted(unknown))}")
    pairs = [(k, _value(k, fields[k])) for k in ACCESSORS if fields.get(k) is not None]
    pairs += [(k, str(v)) for k, v in fields.items() if k.startswith("custom.") and v is not None]
    return pairs


def unsigned_payload(fields: Mapping[str, Any]) -> str:
    """The query string DiscourseConnectBase#unsigned_payload builds (Rack::Utils.build_query)."""
    return connect.build_query(payload_pairs(fields))


def build_payload(fields: Mapping[str, Any], secret: str) -> tuple[str, str]:
    """(sso, sig): strict Base64 of the unsigned payload and its hex HMAC-SHA256. The Base64
    never contains ``+`` (bridge/clients/discourse/connect.py says why), which consumers that
    url-decode the payload once too often (wp-discourse 2.6.1) need."""
    if not secret:
        raise ValueError("the consumer's secret is empty")
    payload = connect.encode(unsigned_payload(fields))
    return payload, sign(payload, secret)


def answer_url(return_sso_url: str, sso: str, sig: str) -> str:
    """DiscourseConnectBase#to_url: the return URL with ``sso`` (CGI-escaped) and ``sig`` added."""
    joiner = "&" if "?" in return_sso_url else "?"
    return f"{return_sso_url}{joiner}sso={quote(sso, safe='')}&sig={sig}"


def read_payload(sso: str) -> dict[str, Any]:
    """Decode an answer payload (tests, diagnostics): fields with booleans as bool."""
    raw = dict(parse_qsl(base64.b64decode(sso).decode("utf-8"), keep_blank_values=True))
    return {k: (v == "true" if k in BOOLS and v in ("true", "false") else v) for k, v in raw.items()}
