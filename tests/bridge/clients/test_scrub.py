"""One scrubber keeps every client's secrets out of the texts it raises or logs."""

from __future__ import annotations

import pytest
import requests
import responses

from bridge.clients.scrub import REDACTED, Hidden, Scrubber
from bridge.clients.wordpress import WordPressClient, WordPressError


def test_each_secret_is_replaced_wherever_it_occurs():
    scrub = Scrubber("api-key-123456", "connect-secret-7890", None, "")
    text = "GET /x?api_key=api-key-123456 failed; sso sig by connect-secret-7890; again api-key-123456"
    out = scrub(text)
    assert "api-key-123456" not in out and "connect-secret-7890" not in out
    assert out == f"GET /x?api_key={REDACTED} failed; sso sig by {REDACTED}; again {REDACTED}"


def test_a_secret_holding_another_is_hidden_whole():
    # the longest first: replacing "abcd" first would leave "[redacted]efgh" and show half the key
    assert Scrubber("abcd", "abcdefgh")("key=abcdefgh") == f"key={REDACTED}"


def test_short_secrets_are_left_unless_asked_for():
    assert Scrubber("ab")("a tab and a cab") == "a tab and a cab"
    assert Scrubber("ab", min_length=1)("a tab") == f"a t{REDACTED}"


def test_anything_is_turned_into_text():
    assert Scrubber("s3cr3t-value")(ValueError("bad s3cr3t-value")) == f"bad {REDACTED}"
    assert Scrubber("s3cr3t-value")(None) == "None"


def test_a_hidden_secret_shows_in_no_repr():
    hidden = Hidden("an-api-key-0000")
    assert hidden.value == "an-api-key-0000"
    assert "an-api-key" not in repr(hidden) and "an-api-key" not in str(hidden)
    assert "an-api-key" not in repr({"key": hidden})


@responses.activate
@pytest.mark.parametrize("echoed", ["abcd efgh ijkl mnop qrst uvwx", "abcdefghijklmnopqrstuvwx"])
def test_the_wordpress_client_hides_an_application_password_with_or_without_its_spaces(echoed):
    url = "https://blog.example.test"
    responses.get(f"{url}/wp-json/wp/v2/users/me", json={"code": "oops", "message": f"bad password {echoed}"},
                  status=400)
    with WordPressClient(url, "bridge", "abcd efgh ijkl mnop qrst uvwx") as client:
        with pytest.raises(WordPressError) as info:
            client.whoami()
    assert "abcd" not in str(info.value) and REDACTED in str(info.value)


@responses.activate
def test_the_discourse_client_hides_its_key_in_network_errors():
    from bridge.clients.discourse import DiscourseClient, DiscourseUnavailable, Pacer

    key = "a-discourse-api-key-0123456789"
    responses.get("https://forum.example.test/u/system.json",
                  body=requests.ConnectionError(f"refused while sending Api-Key: {key}"))
    client = DiscourseClient("https://forum.example.test", key, max_retries=0, pacer=Pacer(100000),
                             sleep=lambda s: None)
    with client, pytest.raises(DiscourseUnavailable) as info:
        client.whoami()
    assert key not in str(info.value) and REDACTED in str(info.value)
    assert key not in repr(client._api.api_key)
