"""DiscourseConnect's payloads (sso/discourse_connect.py), pure (forum usernames: test_usernames.py).

The double's consumer (deploy/dev/discourse_double/connect.py, a reading of Discourse's
lib/discourse_connect_base.rb) is the other side of every round trip here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from sso import discourse_connect as dc

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "deploy" / "dev"))
from discourse_double import connect as double  # noqa: E402

SECRET = "s3cret-of-the-forum"


def request(fields: dict, secret: str = SECRET) -> tuple[str, str]:
    return double.build_payload(fields, secret)


# -- requests ---------------------------------------------------------------------------------------
def test_a_consumer_request_is_read():
    sso, sig = request({"nonce": "abc123", "return_sso_url": "https://forum.example/session/sso_login"})
    req = dc.parse_request(sso, sig, SECRET)
    assert (req.nonce, req.return_sso_url, req.prompt) == ("abc123", "https://forum.example/session/sso_login", None)
    assert req.nonce_hash == hashlib.sha256(b"abc123").hexdigest()
    assert dc.parse_request(sso, sig.upper(), SECRET).nonce == "abc123"  # hex is hex
    sso, sig = request({"nonce": "n", "return_sso_url": "https://f.example/x", "prompt": "none"})
    assert dc.parse_request(sso, sig, SECRET).prompt == "none"


def test_sig_is_hex_hmac_sha256_of_the_base64_text():
    payload = base64.b64encode(b"nonce=1&return_sso_url=x").decode()
    assert dc.sign(payload, SECRET) == hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert dc.sign(payload, SECRET) == double.sign(payload, SECRET)


@pytest.mark.parametrize("mutate, error", [
    (lambda sso, sig: (sso, sig[:-1] + ("0" if sig[-1] != "0" else "1")), dc.SignatureError),  # forged
    (lambda sso, sig: (sso, sig[:-2]), dc.SignatureError),                                      # too short
    (lambda sso, sig: (sso, sig + "00"), dc.SignatureError),                                    # too long
    (lambda sso, sig: (sso, "z" * 64), dc.SignatureError),                                      # not hex
    (lambda sso, sig: (sso, "é" * 64), dc.SignatureError),
    (lambda sso, sig: (sso, dc.sign(sso, "another-secret")), dc.SignatureError),                # other secret
    (lambda sso, sig: (sso + "%", sig), dc.PayloadParseError),                                  # not Base64
    (lambda sso, sig: ("", sig), dc.MissingParameter),
    (lambda sso, sig: (sso, ""), dc.MissingParameter),
    (lambda sso, sig: (None, sig), dc.MissingParameter),
    (lambda sso, sig: (["x"], sig), dc.MissingParameter),
    (lambda sso, sig: ("A" * (dc.MAX_SSO_CHARS + 1), sig), dc.TooLarge),
    (lambda sso, sig: (sso, "0" * 1000), dc.TooLarge),
])
def test_bad_requests_are_refused_with_typed_errors(mutate, error):
    sso, sig = request({"nonce": "abc", "return_sso_url": "https://forum.example/session/sso_login"})
    with pytest.raises(error) as info:
        dc.parse_request(*mutate(sso, sig), SECRET)
    assert isinstance(info.value, dc.ConnectError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize("raw", [
    b"return_sso_url=https%3A%2F%2Ff.example%2F",          # no nonce
    b"nonce=abc",                                          # no return URL
    b"nonce=&return_sso_url=https%3A%2F%2Ff.example%2F",   # blank nonce
    b"nonce=a%20b&return_sso_url=https%3A%2F%2Ff.example",  # control/space in the nonce
    b"nonce=" + b"a" * 200 + b"&return_sso_url=x",
    b"\xff\xfe",                                           # not UTF-8
])
def test_signed_but_unusable_payloads_are_refused(raw):
    sso = base64.b64encode(raw).decode()
    with pytest.raises((dc.MissingField, dc.PayloadParseError)):
        dc.parse_request(sso, dc.sign(sso, SECRET), SECRET)


def test_signed_payload_with_bad_padding_is_a_parse_error():
    sso = base64.b64encode(b"nonce=abc&return_sso_url=x").decode().rstrip("=") + "==="
    with pytest.raises(dc.PayloadParseError):
        dc.parse_request(sso, dc.sign(sso, SECRET), SECRET)


def test_an_empty_secret_is_a_programming_error():
    with pytest.raises(ValueError):
        dc.parse_request("abc", "0" * 64, "")
    with pytest.raises(ValueError):
        dc.build_payload({"nonce": "x"}, "")


# -- answers ----------------------------------------------------------------------------------------
def test_answer_round_trips_through_the_double_parser():
    fields = {"nonce": "abc", "return_sso_url": "https://forum.example/session/sso_login", "external_id": "1006",
              "email": "ziko@example.org", "username": "Ziko_van_Dijk", "name": "Ziko van Dijk & Co. +1",
              "add_groups": ["wiki-admins", "wiki-x"], "admin": False, "moderator": True, "require_activation": True,
              "custom.role": "editor", "avatar_url": None}
    sso, sig = dc.build_payload(fields, SECRET)
    assert "\n" not in sso
    parsed = double.parse(sso, sig, SECRET)
    assert parsed["name"] == "Ziko van Dijk & Co. +1" and parsed["add_groups"] == "wiki-admins,wiki-x"
    assert parsed["admin"] is False and parsed["moderator"] is True and parsed["require_activation"] is True
    assert parsed["avatar_url"] is None and parsed["custom_fields"] == {"role": "editor"}
    # ACCESSORS order, booleans as true/false, form encoding, custom.* last
    assert dc.unsigned_payload(fields) == (
        "add_groups=wiki-admins%2Cwiki-x&admin=false&email=ziko%40example.org&external_id=1006&moderator=true"
        "&name=Ziko+van+Dijk+%26+Co.+%2B1&nonce=abc&require_activation=true"
        "&return_sso_url=https%3A%2F%2Fforum.example%2Fsession%2Fsso_login&username=Ziko_van_Dijk&custom.role=editor")


def test_answer_fields_are_checked():
    with pytest.raises(KeyError):
        dc.unsigned_payload({"nonce": "x", "emial": "typo@example.org"})
    with pytest.raises(TypeError):
        dc.unsigned_payload({"admin": "yes"})
    with pytest.raises(TypeError):
        dc.unsigned_payload({"username": True})


def test_answer_url_adds_to_an_existing_query():
    sso, sig = dc.build_payload({"nonce": "n", "return_sso_url": "x"}, SECRET)
    url = dc.answer_url("https://blog.example/wp-login.php?action=sso", sso, sig)
    q = parse_qs(urlsplit(url).query)
    assert q["action"] == ["sso"] and q["sso"] == [sso] and q["sig"] == [sig]
    assert dc.answer_url("https://forum.example/session/sso_login", sso, sig).count("?") == 1
