"""Unsubscribe tokens: only this bridge makes them, each stops what it names for whom it names.

A token whose any part was changed, one made with another key, one past its age, one from the
future and anything that is not a token are refused; the email headers are the ones RFC 8058
asks for.
"""

from __future__ import annotations

import base64
import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.notify import unsubscribe as u

KEY = u.secret("test-secret-key-0123456789abcdef0123")
DAY = 86400
NOW = 1_790_000_000


def test_a_token_names_the_member_and_what_to_stop():
    for event in (None, "mentions", "first_reply_to_my_blog_post"):
        token = u.link_token(KEY, "1001", event, NOW - DAY)
        assert u.verify(KEY, token, NOW, 365 * DAY) == u.Unsubscribe("1001", event, NOW - DAY)


def test_a_naive_datetime_is_utc():
    issued = dt.datetime(2026, 12, 2, 8, 0)
    token = u.link_token(KEY, "7", None, issued)
    assert u.verify(KEY, token, issued + dt.timedelta(days=1), dt.timedelta(days=2)).issued_at == int(
        issued.replace(tzinfo=dt.timezone.utc).timestamp())


def _payload(sub, event, issued):
    return base64.urlsafe_b64encode(f"v1\n{sub}\n{event}\n{issued}".encode()).decode().rstrip("=")


def test_another_member_or_event_cannot_be_swapped_in():
    token = u.link_token(KEY, "1001", "mentions", NOW)
    _, mac = token.split(".")
    forgeries = (_payload("1002", "mentions", NOW), _payload("1001", "*", NOW), _payload("1001", "mentions", NOW + DAY))
    for forged in forgeries:
        with pytest.raises(u.BadToken) as raised:
            u.verify(KEY, f"{forged}.{mac}", NOW, 365 * DAY)
        assert raised.value.reason == "signature"


@pytest.mark.parametrize("position", [0, 5, -1, -30])
def test_any_changed_character_is_refused(position):
    token = u.link_token(KEY, "1001", None, NOW)
    position %= len(token)
    other = {"A": "B", "0": "1", ".": "-"}.get(token[position], "A" if token[position] != "." else "-")
    if token[position] in "0123456789abcdef" and position > token.index("."):  # in the signature: another hex digit
        other = "0" if token[position] != "0" else "1"
    changed = token[:position] + other + token[position + 1:]
    assert changed != token
    with pytest.raises(u.BadToken):
        u.verify(KEY, changed, NOW, 365 * DAY)


def test_another_key_is_refused():
    token = u.link_token(u.secret("another-secret-key-0123456789abcdef"), "1001", None, NOW)
    with pytest.raises(u.BadToken) as raised:
        u.verify(KEY, token, NOW, 365 * DAY)
    assert raised.value.reason == "signature"


def test_age_limits():
    token = u.link_token(KEY, "1001", None, NOW - 10 * DAY)
    assert u.verify(KEY, token, NOW, 10 * DAY).sub == "1001"
    with pytest.raises(u.BadToken) as raised:
        u.verify(KEY, token, NOW + 1, 10 * DAY)
    assert raised.value.reason == "expired"
    future = u.link_token(KEY, "1001", None, NOW + DAY)  # not made by this bridge's clock
    with pytest.raises(u.BadToken):
        u.verify(KEY, future, NOW, 365 * DAY)


def test_the_key_is_derived_for_this_purpose_only():
    """Neither the session key itself nor any other signature the bridge makes is an unsubscribe key."""
    secret_key = "test-secret-key-0123456789abcdef0123"
    assert KEY != secret_key and len(KEY) == 64
    assert u.secret(secret_key) == KEY and u.secret("x" * 32) != KEY


@given(st.one_of(st.text(max_size=500), st.binary(max_size=100).map(lambda b: base64.urlsafe_b64encode(b).decode()
                                                                      + "." + "0" * 64), st.none(), st.integers()))
def test_anything_else_is_refused_quietly(token):
    with pytest.raises(u.BadToken):
        u.verify(KEY, token, NOW, 365 * DAY)


def test_email_headers_follow_rfc_8058():
    headers = u.headers(KEY, "https://space.example/bridge/", "1001", "mentions", NOW)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    value = headers["List-Unsubscribe"]
    assert value.startswith("<https://space.example/bridge/me/notifications/unsubscribe?t=") and value.endswith(">")
    token = parse_qs(urlsplit(value[1:-1]).query)["t"][0]
    assert u.verify(KEY, token, NOW, DAY) == u.Unsubscribe("1001", "mentions", NOW)
