"""DiscourseConnect payloads byte for byte as Discourse writes them (lib/discourse_connect_base.rb).

Discourse's ``unsigned_payload`` is ``Rack::Utils.build_query(hash)``: ``escape(key)=escape(value)``
joined by ``&``, where ``Rack::Utils.escape`` is Ruby's ``URI.encode_www_form_component``
(lib/uri/common.rb): of the value's UTF-8 bytes, ``*``, ``-``, ``.``, ``0-9``, ``A-Z``, ``_`` and
``a-z`` stay as they are, a space becomes ``+``, every other byte ``%XX`` with upper-case hex.
Python's ``urlencode`` differs on two characters (it keeps ``~`` and escapes ``*``); the same text
must give the same bytes, because consumers sign and check the Base64 text, not the fields, and
some of them (wp-discourse 2.6.1, lib/sso-client/client.php ``is_valid_signature``) url-decode
that text once more before checking it: a ``+`` in it turns into a space and the login fails.

Why the Base64 of such a query never contains ``+``: the query is ASCII without ``>`` and ``~``
(both are escaped). Base64 writes ``+`` for the 6-bit value 62; the four 6-bit groups of three
bytes ``b0 b1 b2`` are ``b0>>2``, ``(b0&3)<<4 | b1>>4``, ``(b1&15)<<2 | b2>>6`` and ``b2&63``;
with every byte below 0x80 only the last can reach 62, and only for ``b2`` = 0x3E (``>``) or
0x7E (``~``). So such a payload also survives the older ``Admin::UsersController#sync_sso``
(before Discourse PR #42024), which rebuilds ``"sso=#{params[:sso]}&sig=..."`` and parses it
again with ``Rack::Utils.parse_query``, turning a ``+`` of the Base64 into a space (422).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from urllib.parse import quote_plus

from bridge import signing

__all__ = ["build_query", "encode", "form_component", "signed"]


def form_component(text: str) -> str:
    """``URI.encode_www_form_component(text)`` (what ``Rack::Utils.escape`` does).

    ``quote_plus`` with ``*`` safe is Ruby's rule except for ``~``, which Python never escapes;
    a raw ``~`` in its output can only come from a ``~`` of the text (escapes are ``%`` and hex
    digits), so replacing it afterwards is exact.
    """
    return quote_plus(text, safe="*").replace("~", "%7E")


def build_query(pairs: Iterable[tuple[str, str]]) -> str:
    """``Rack::Utils.build_query`` of string pairs, in the given order."""
    return "&".join(f"{form_component(k)}={form_component(v)}" for k, v in pairs)


def encode(query: str) -> str:
    """``Base64.strict_encode64``: no line breaks."""
    return base64.b64encode(query.encode("utf-8")).decode("ascii")


def signed(pairs: Iterable[tuple[str, str]], secret: str) -> tuple[str, str]:
    """(sso, sig) for these fields: the Base64 of their Rack query and its hex HMAC-SHA256."""
    sso = encode(build_query(pairs))
    return sso, signing.sign(secret, sso)
