"""The double per Discourse version (deploy/dev/discourse_double/profiles.py): each test runs
against `stable-2025` and `main-2026` (the `profile_forum` fixture) and names the Discourse file
whose behaviour it checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

BODY = "A first post that is long enough for Discourse."
SECRET = "connect-secret-0123456789"


def new_topic(forum, title="A topic about the local stand-in", **extra):
    r = forum.request("POST", "/posts.json", data={"title": title, "raw": BODY, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def signed(fields: dict, secret: str = SECRET) -> tuple[str, str]:
    sso = base64.b64encode(urlencode(fields).encode()).decode()
    return sso, hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()


def fields_with_plus(**fields) -> dict:
    """Fields whose Base64 payload contains a "+" (most real ones do: "~", ">" or "?" in a value)."""
    for pad in range(64):
        f = dict(fields, name=fields.get("name", "Member") + "~" * pad)
        if "+" in signed(f)[0]:
            return f
    raise AssertionError("no payload with a +")


def test_profile_is_reported(profile_forum):
    info = profile_forum._double("GET", "health")
    assert info["profile"]["name"] == profile_forum.profile


# -- a. app/controllers/admin/users_controller.rb#sync_sso (PR #42024) --------------------------------------
def test_sync_sso_payload_with_a_plus(profile_forum):
    forum = profile_forum
    forum.enable_discourse_connect("http://127.0.0.1:9/sso", SECRET)
    sso, sig = signed(fields_with_plus(external_id="plus-1", email="plus@example.org", username="plus"))
    assert "+" in sso
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    if forum.profile == "stable-2025":
        # the action rebuilds "sso=...&sig=..." and parses it again: "+" becomes a space
        assert r.status_code == 422
        assert r.json() == {"failed": "FAILED", "message": "Login Error"}
        assert forum.request("GET", "/u/by-external/plus-1.json").status_code == 404
    else:
        assert r.status_code == 200, r.text
        assert r.json()["username"] == "plus"
    # a payload without "+" works on both
    for pad in range(64):
        sso, sig = signed({"external_id": "plain-1", "email": "plain@example.org", "username": "plain",
                           "name": "P" + "x" * pad})
        if "+" not in sso:
            break
    r = forum.request("POST", "/admin/users/sync_sso", data={"sso": sso, "sig": sig})
    assert r.status_code == 200, r.text
