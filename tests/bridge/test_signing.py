"""The bridge's one HMAC: known answers, both letter cases, and refusals before comparing."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from bridge import signing

# RFC 4231, test case 2 (HMAC-SHA-256)
RFC_KEY, RFC_DATA = "Jefe", "what do ya want for nothing?"
RFC_MAC = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_sign_is_hex_hmac_sha256():
    assert signing.sign(RFC_KEY, RFC_DATA) == RFC_MAC
    assert signing.sign(RFC_KEY.encode(), RFC_DATA.encode()) == RFC_MAC
    text = "Café — ein Beitrag"
    assert signing.sign("clé", text) == hmac.new("clé".encode(), text.encode(), hashlib.sha256).hexdigest()


def test_verify_accepts_the_signature_in_either_case():
    assert signing.verify(RFC_KEY, RFC_DATA, RFC_MAC)
    assert signing.verify(RFC_KEY, RFC_DATA, RFC_MAC.upper())
    assert signing.verify(RFC_KEY.encode(), memoryview(RFC_DATA.encode()), RFC_MAC)


@pytest.mark.parametrize("secret, message", [("Jeff", RFC_DATA), (RFC_KEY, RFC_DATA + " "), (RFC_KEY, "")])
def test_verify_refuses_another_secret_or_message(secret, message):
    assert not signing.verify(secret, message, RFC_MAC)


@pytest.mark.parametrize("signature", [None, b"", "", RFC_MAC[:-1], RFC_MAC + "0", RFC_MAC[:-1] + "g",
                                       " " + RFC_MAC, RFC_MAC + "\n", "sha256=" + RFC_MAC, RFC_MAC.encode(),
                                       RFC_MAC[:-1] + "٣"])
def test_verify_refuses_what_is_not_64_hex_digits(signature, monkeypatch):
    compared = []
    monkeypatch.setattr(signing.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or True)
    assert not signing.verify(RFC_KEY, RFC_DATA, signature)
    assert compared == []


def test_verify_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(signing.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    assert not signing.verify(RFC_KEY, RFC_DATA, "0" * 64)
    assert signing.verify(RFC_KEY, RFC_DATA, RFC_MAC.upper())
    assert len(calls) == 2
