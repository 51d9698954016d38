"""DiscourseConnect payloads byte for byte as Discourse writes them, and a `sync_sso` payload that
every Discourse release reads (sso/discourse_connect.py, bridge/clients/discourse/connect.py).

The reference here is written from the rules, not from the code under test:

- Ruby's ``URI.encode_www_form_component`` (lib/uri/common.rb; what ``Rack::Utils.escape`` and so
  ``Rack::Utils.build_query`` use): of the string's UTF-8 bytes, ``*``, ``-``, ``.``, ``0-9``,
  ``A-Z``, ``_`` and ``a-z`` are kept, a space is ``+``, every other byte is ``%`` and two
  upper-case hex digits;
- ``Rack::Utils.parse_query``: pairs split on ``&``, key and value on the first ``=``, ``+`` read as
  a space, then ``%XX`` decoded;
- ``Admin::UsersController#sync_sso`` before Discourse PR #42024 parses
  ``"sso=#{params[:sso]}&sig=#{params[:sig]}"`` again, and ``DiscourseConnectBase.parse`` refuses an
  ``sso`` with a character outside ``[a-zA-Z0-9=\\r\\n/+]`` (a ``+`` read as a space is one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs

import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.clients.discourse import DiscourseClient, Pacer
from bridge.clients.discourse import connect as rack
from sso import discourse_connect as dc

SECRET = "s3cret-of-the-forum"
FORUM = "https://forum.example.test"

_KEPT = frozenset(b"*-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz")


def ruby_encode_www_form_component(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        if byte in _KEPT:
            out.append(chr(byte))
        elif byte == 0x20:
            out.append("+")
        else:
            out.append("%" + format(byte, "02X"))
    return "".join(out)


def rack_build_query(pairs) -> str:
    return "&".join(ruby_encode_www_form_component(k) + "=" + ruby_encode_www_form_component(v) for k, v in pairs)


def _unescape(text: str) -> str:
    raw, i = bytearray(), 0
    data = text.replace("+", " ").encode("utf-8")
    while i < len(data):
        if data[i] == 0x25 and i + 2 < len(data) and all(c in b"0123456789abcdefABCDEF" for c in data[i + 1:i + 3]):
            raw.append(int(data[i + 1:i + 3], 16))
            i += 3
        else:
            raw.append(data[i])
            i += 1
    return raw.decode("utf-8")


def rack_parse_query(query: str) -> dict[str, str]:
    found = {}
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            found[_unescape(key)] = _unescape(value)
    return found


def old_sync_sso_reads(sso: str, sig: str) -> str | None:
    """The sso an old release's sync_sso sees (None: it answers 422)."""
    seen = rack_parse_query(f"sso={sso}&sig={sig}")["sso"]
    if any(c not in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789=\r\n/+" for c in seen):
        return None
    return seen


# any text without lone surrogates (which no UTF-8 string can hold)
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
TEXT_FIELDS = [k for k in dc.ACCESSORS if k not in dc.BOOLS]
FIELDS = st.fixed_dictionaries({}, optional={
    **{k: TEXT for k in TEXT_FIELDS}, **{k: st.booleans() for k in dc.BOOLS},
}).flatmap(lambda fixed: st.dictionaries(st.builds(lambda s: "custom." + s, TEXT), TEXT, max_size=3)
           .map(lambda custom: {**fixed, **custom}))


def expected_pairs(fields: dict) -> list[tuple[str, str]]:
    pairs = [(k, ("true" if fields[k] else "false") if k in dc.BOOLS else fields[k])
             for k in dc.ACCESSORS if k in fields]
    return pairs + [(k, v) for k, v in fields.items() if k.startswith("custom.")]


@given(TEXT)
@settings(max_examples=500)
def test_each_value_is_encoded_as_rubys_encode_www_form_component(text):
    assert rack.form_component(text) == ruby_encode_www_form_component(text)


def test_the_characters_python_and_ruby_disagree_on():
    assert rack.form_component("~*") == "%7E*"
    assert rack.form_component("a b+c/é") == "a+b%2Bc%2F%C3%A9"


@given(FIELDS)
@settings(max_examples=300)
def test_every_payload_has_the_bytes_and_signature_discourse_would_write(fields):
    query = rack_build_query(expected_pairs(fields))
    assert dc.unsigned_payload(fields) == query
    sso, sig = dc.build_payload(fields, SECRET)
    assert sso == base64.b64encode(query.encode("utf-8")).decode("ascii")
    assert sig == hmac.new(SECRET.encode(), sso.encode(), hashlib.sha256).hexdigest()
    # and it reads back as the fields (the parse Discourse does)
    assert rack_parse_query(base64.b64decode(sso).decode("utf-8")) == dict(expected_pairs(fields))


@given(FIELDS)
@settings(max_examples=300)
def test_no_payload_has_a_plus_so_old_releases_and_wp_discourse_read_it(fields):
    sso, sig = dc.build_payload(fields, SECRET)
    assert "+" not in sso
    assert old_sync_sso_reads(sso, sig) == sso


def test_a_tilde_that_used_to_put_a_plus_in_the_payload():
    # the return URL of a blog whose path has a `~`: Python's urlencode kept it, and at this
    # alignment its byte 0x7E became the Base64 digit `+`
    fields = {"nonce": "n0nce", "return_sso_url": "https://blog.example/~ada/?sso_login=1", "external_id": "17"}
    sso, sig = dc.build_payload(fields, SECRET)
    assert "%7Eada" in dc.unsigned_payload(fields) and "+" not in sso


@responses.activate
def test_the_forum_sync_payload_survives_the_old_parser():
    """Fails with Python's urlencode: `~~~` puts a 0x7E at a Base64 digit's third byte."""
    responses.post(f"{FORUM}/admin/users/sync_sso.json", json={"id": 3, "username": "grace", "external_id": "wm-5"})
    client = DiscourseClient(FORUM, "k" * 64, "system", connect_secret=SECRET, pacer=Pacer(100000),
                             sleep=lambda s: None)
    for name in ("Grace ~~~ Hopper", "~", "a~", "ab~", "~*~*~"):
        client.sync_sso("wm-5", "grace@example.org", username="grace", name=name)
        form = parse_qs(responses.calls[-1].request.body)
        sso, sig = form["sso"][0], form["sig"][0]
        assert old_sync_sso_reads(sso, sig) == sso, name
        assert rack_parse_query(base64.b64decode(sso).decode())["name"] == name
        assert sig == hmac.new(SECRET.encode(), sso.encode(), hashlib.sha256).hexdigest()


@given(st.dictionaries(st.sampled_from(TEXT_FIELDS), TEXT, max_size=6))
@settings(max_examples=200)
def test_any_sync_payload_survives_the_old_parser(fields):
    sso, sig = rack.signed(list(fields.items()), SECRET)
    assert old_sync_sso_reads(sso, sig) == sso
