"""Discourse web hook signatures: the pure checks, and real deliveries from the Discourse double."""

from __future__ import annotations

import hashlib
import hmac
import sys
from pathlib import Path

import pytest

from bridge import signing
from sync import webhooks
from sync.webhooks import InvalidSignature, event_of, is_valid_signature, sign, verify_request, verify_signature

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`
from doubles.discourse import DiscourseDouble  # noqa: E402
from doubles.webhook_receiver import WebhookReceiver  # noqa: E402

SECRET = "a-web-hook-secret-for-tests"
BODY = b'{"post":{"id":1,"raw":"Caf\xc3\xa9 \xe2\x80\x94 a post"}}'


def reference(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- pure functions --------------------------------------------------------------------------------
def test_signature_is_hmac_sha256_of_the_raw_body():
    assert sign(BODY, SECRET) == reference(BODY, SECRET)
    verify_signature(BODY, reference(BODY, SECRET), SECRET)
    verify_signature(BODY, reference(BODY, SECRET).upper().replace("SHA256=", "sha256="), SECRET)
    verify_signature(BODY, "  " + reference(BODY, SECRET) + " ", SECRET)
    verify_signature(BODY, reference(BODY, SECRET), SECRET.encode())
    assert is_valid_signature(BODY, sign(BODY, SECRET), SECRET)


@pytest.mark.parametrize("header, reason", [
    (None, "missing"),
    ("", "missing"),
    ("   ", "missing"),
    ("0123abcd" * 8, "malformed"),  # no algorithm
    ("sha256=", "malformed"),
    ("sha256=" + "g" * 64, "malformed"),
    ("sha256=" + "ab" * 31, "malformed"),  # too short
    ("sha256=" + "ab" * 33, "malformed"),  # too long
    ("sha1=" + "ab" * 20, "unsupported_algorithm"),
    ("sha256=" + "00" * 32, "mismatch"),
])
def test_bad_headers_are_refused_with_a_reason(header, reason):
    with pytest.raises(InvalidSignature) as info:
        verify_signature(BODY, header, SECRET)
    assert info.value.reason == reason
    assert SECRET not in str(info.value)
    assert not is_valid_signature(BODY, header, SECRET)


def test_wrong_secret_and_changed_body_do_not_verify():
    good = sign(BODY, SECRET)
    with pytest.raises(InvalidSignature, match="does not match") as info:
        verify_signature(BODY, good, SECRET + "x")
    assert info.value.reason == "mismatch"
    assert sign(BODY, SECRET).split("=", 1)[1] not in str(info.value)  # the expected digest is not shown
    changed = bytearray(BODY)
    changed[10] ^= 0x01
    assert not is_valid_signature(bytes(changed), good, SECRET)
    assert not is_valid_signature(BODY + b" ", good, SECRET)


def test_comparison_is_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    verify_signature(BODY, sign(BODY, SECRET), SECRET)
    assert len(calls) == 1


def test_misuse_is_refused():
    with pytest.raises(TypeError, match="raw request body"):
        verify_signature(BODY.decode(), sign(BODY, SECRET), SECRET)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret is empty"):
        verify_signature(BODY, sign(BODY, SECRET), "")
    with pytest.raises(ValueError, match="secret is empty"):
        sign(BODY, b"")


def test_headers_are_found_whatever_their_case():
    headers = {"x-discourse-event-signature": sign(BODY, SECRET), "X-DISCOURSE-EVENT": "post_created",
               "X-Discourse-Event-Type": "post", "x-discourse-event-id": "7",
               "X-Discourse-Instance": "https://forum.example"}
    verify_request(headers, BODY, SECRET)
    assert event_of(headers) == webhooks.WebhookEvent("post", "post_created", "7", "https://forum.example")
    with pytest.raises(InvalidSignature) as info:
        verify_request({}, BODY, SECRET)
    assert info.value.reason == "missing"


# -- deliveries from the Discourse double ------------------------------------------------------------
def test_web_hooks_sent_by_the_double_verify_and_a_changed_byte_does_not():
    with DiscourseDouble() as forum, WebhookReceiver() as receiver:
        forum.add_webhook(receiver.url, SECRET, ["topic_created", "post_created"])
        r = forum.request("POST", "/posts.json", data={"title": "A signed web hook topic",
                                                      "raw": "A first post that is long enough for Discourse."})
        assert r.status_code == 200, r.text
        deliveries = [(r["headers"], r["body"]) for r in receiver.wait_for(lambda got: len(got) >= 2)]
        assert len(deliveries) == 2
        for headers, body in deliveries:
            verify_request(headers, body, SECRET)
            assert event_of(headers).event in ("topic_created", "post_created")
            assert event_of(headers).instance == forum.url
            for i in (0, len(body) // 2, len(body) - 1):
                changed = bytearray(body)
                changed[i] ^= 0x20
                with pytest.raises(InvalidSignature) as info:
                    verify_request(headers, bytes(changed), SECRET)
                assert info.value.reason == "mismatch"
            with pytest.raises(InvalidSignature):
                verify_request(headers, body, "another-secret-entirely")
        assert forum.violations() == []


def test_a_web_hook_without_secret_is_refused_as_unsigned():
    with DiscourseDouble() as forum, WebhookReceiver() as receiver:
        hook = forum.add_webhook(receiver.url, "", ["post_created"])
        forum.request("POST", f"/admin/api/web_hooks/{hook['id']}/ping.json")
        [(headers, body)] = [(r["headers"], r["body"]) for r in receiver.wait_for(lambda got: len(got) >= 1)]
        assert event_of(headers).event_type == "ping"
        with pytest.raises(InvalidSignature) as info:
            verify_request(headers, body, SECRET)
        assert info.value.reason == "missing"
