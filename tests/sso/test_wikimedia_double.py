"""The Wikimedia double answers like Wikimedia's OAuth 2.0 server (extension OAuth + league/oauth2-server).

Driven over HTTP by a plain requests session and Authlib's own OAuth2Session, not the bridge.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from doubles.wikimedia import WikimediaDouble  # noqa: E402

CALLBACK = "http://127.0.0.1:9/oauth/callback"  # never reached: redirects are read, not followed
LEAGUE_KEYS = {"error", "error_description", "hint", "message"}


@pytest.fixture(scope="module")
def double():
    with WikimediaDouble(redirect_uri=CALLBACK) as d:
        yield d


@pytest.fixture
def wm(double):
    double.reset()
    return double


def rest(wm, path):
    return f"{wm.url}/w/rest.php/oauth2/{path}"


def authorize_params(wm, **extra):
    verifier = generate_token(48)
    params = {"response_type": "code", "client_id": wm.client_id, "redirect_uri": CALLBACK, "state": "st-123",
              "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"}
    params.update(extra)
    return {k: v for k, v in params.items() if v is not None}, verifier


def get_code(wm, browser, username="Alice Member", *, allow=True, **extra):
    """Browser side: authorize, log in, consent; return (callback query, PKCE verifier)."""
    params, verifier = authorize_params(wm, **extra)
    resp = wm.complete_login(browser, browser.get(rest(wm, "authorize"), params=params, timeout=30), username,
                             allow=allow)
    return parse_qs(urlsplit(_callback_location(resp)).query), verifier


def _callback_location(resp) -> str:
    for r in [*resp.history, resp]:
        location = r.headers.get("Location", "")
        if location.startswith(CALLBACK):
            return location
    raise AssertionError(f"no redirect to the callback; ended at {resp.url} ({resp.status_code})")


class NoFollow(requests.Session):
    """A browser that stops at the callback (it is not served)."""

    def get_redirect_target(self, resp):
        target = super().get_redirect_target(resp)
        return None if target and target.startswith(CALLBACK) else target


@pytest.fixture
def browser():
    with NoFollow() as s:
        yield s


def token_request(wm, code_value, verifier, **overrides):
    data = {"grant_type": "authorization_code", "code": code_value, "redirect_uri": CALLBACK, "client_id": wm.client_id,
            "client_secret": wm.client_secret, "code_verifier": verifier}
    data.update(overrides)
    return requests.post(rest(wm, "access_token"), data={k: v for k, v in data.items() if v is not None}, timeout=30)


# -- the whole flow with a standard OAuth client ------------------------------------------------------------
def test_authlib_client_round_trip(wm, browser):
    client = OAuth2Session(wm.client_id, wm.client_secret, redirect_uri=CALLBACK, scope="mwoauth-authonlyprivate",
                           code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
    verifier = generate_token(48)
    url, state = client.create_authorization_url(rest(wm, "authorize"), code_verifier=verifier)
    resp = wm.complete_login(browser, browser.get(url, timeout=30), "Alice Member")
    callback = _callback_location(resp)
    token = client.fetch_token(rest(wm, "access_token"), authorization_response=callback, code_verifier=verifier,
                               state=state)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["access_token"]
    assert set(token) - {"expires_at"} == {"token_type", "expires_in", "access_token"}
    profile = client.get(rest(wm, "resource/profile")).json()
    assert profile == {
        "sub": 1001, "username": "Alice Member", "editcount": 1500, "confirmed_email": True, "email_verified": True,
        "blocked": False, "registered": "20150312104500", "groups": ["*", "user", "autoconfirmed"],
        "rights": profile["rights"], "grants": ["mwoauth-authonlyprivate"], "realname": "Alice Example",
        "email": "alice@example.org"}
    assert "edit" in profile["rights"]
    assert client.get(rest(wm, "resource/scopes")).json() == {"scopes": ["mwoauth-authonlyprivate"]}


def test_login_page_then_consent_page_then_code_with_state(wm, browser):
    params, _ = authorize_params(wm)
    resp = browser.get(rest(wm, "authorize"), params=params, timeout=30)
    assert wm.is_login_page(resp) and resp.history[0].status_code == 307
    assert 'name="wpName"' in resp.text and "Blocked Bob" in resp.text  # the test users are listed
    bad = wm.log_in(browser, resp, "Alice Member", password="wrong")
    assert wm.is_login_page(bad) and "Incorrect username or password" in bad.text
    assert wm.is_login_page(wm.log_in(browser, resp, "Alice member"))  # case matters after the first letter
    resp = wm.log_in(browser, resp, "alice_Member")  # MediaWiki's spelling rules: this is "Alice Member"
    assert wm.is_consent_page(resp)
    assert 'name="accept"' in resp.text and 'name="cancel"' in resp.text and "Wikimedia Space (local)" in resp.text
    query = parse_qs(urlsplit(_callback_location(wm.consent(browser, resp))).query)
    assert query["state"] == ["st-123"] and len(query["code"][0]) >= 40


def test_approval_is_remembered_for_identity_grants(wm, browser):
    get_code(wm, browser)
    assert wm.approvals() == [{"sub": 1001, "client_id": wm.client_id, "grants": ["mwoauth-authonlyprivate"]}]
    params, _ = authorize_params(wm)
    resp = browser.get(rest(wm, "authorize"), params=params, timeout=30)
    assert "code" in parse_qs(urlsplit(_callback_location(resp)).query), "no dialog the second time"
    wm.forget_approvals()
    resp = browser.get(rest(wm, "authorize"), params=params, timeout=30)
    assert wm.is_consent_page(resp)


def test_cancel_redirects_with_unauthorized_client_and_no_state(wm, browser):
    query, _ = get_code(wm, browser, allow=False)
    assert query["error"] == ["unauthorized_client"] and "state" not in query and "code" not in query
    assert set(query) == {"error", "error_description", "message"}


def test_cancel_without_redirect_uri_shows_an_error_page(wm, browser):
    params, _ = authorize_params(wm, redirect_uri=None)
    resp = wm.complete_login(browser, browser.get(rest(wm, "authorize"), params=params, timeout=30),
                             "Alice Member", allow=False)
    assert resp.status_code == 400 and "unauthorized_client" in resp.text and resp.url.startswith(wm.url)


# -- token endpoint -----------------------------------------------------------------------------------------
def test_code_is_single_use_with_wikimedias_error(wm, browser):
    query, verifier = get_code(wm, browser)
    code = query["code"][0]
    assert token_request(wm, code, verifier).status_code == 200
    again = token_request(wm, code, verifier)
    assert again.status_code == 400 and again.headers["Content-Type"].startswith("application/json")
    body = again.json()
    assert set(body) == LEAGUE_KEYS
    assert body["error"] == "invalid_request" and body["hint"] == "Authorization code has been revoked"
    assert body["message"] == body["error_description"]


def test_expired_code(wm, browser):
    query, verifier = get_code(wm, browser)
    wm.expire_codes()
    body = token_request(wm, query["code"][0], verifier).json()
    assert (body["error"], body["hint"]) == ("invalid_request", "Authorization code has expired")


@pytest.mark.parametrize("overrides, status, error, hint", [
    ({"code": "made-up"}, 400, "invalid_request", "Cannot decrypt the authorization code"),
    ({"code_verifier": "x" * 43}, 400, "invalid_grant", "Failed to verify `code_verifier`."),
    ({"code_verifier": None}, 400, "invalid_request", "Check the `code_verifier` parameter"),
    ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, 400, "invalid_request", "Invalid redirect URI"),
    ({"client_secret": "wrong"}, 401, "invalid_client", None),
    ({"grant_type": "password"}, 400, "unsupported_grant_type", None),
])
def test_token_errors_look_like_league(wm, browser, overrides, status, error, hint):
    query, verifier = get_code(wm, browser)
    resp = token_request(wm, query["code"][0], verifier, **overrides)
    assert resp.status_code == status
    body = resp.json()
    assert body["error"] == error and body["message"] == body["error_description"]
    if hint:
        assert body["hint"] == hint
    if not overrides.get("code"):
        assert token_request(wm, query["code"][0], verifier).status_code == 200, "a failed attempt does not use the code"


def test_token_endpoint_takes_form_bodies_only(wm, browser):
    query, verifier = get_code(wm, browser)
    resp = requests.post(rest(wm, "access_token"), json={"grant_type": "authorization_code", "code": query["code"][0]},
                         timeout=30)
    assert resp.status_code == 415


# -- authorize errors -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, status, error", [
    ({"redirect_uri": "http://127.0.0.1:9/other"}, 401, "invalid_client"),
    ({"client_id": "nobody"}, 401, "invalid_client"),
    ({"response_type": "token"}, 400, "invalid_request"),
    ({"response_type": None}, 400, "invalid_request"),
    ({"code_challenge_method": "S512"}, 400, "invalid_request"),
])
def test_authorize_errors_are_html_pages_on_wikimedia(wm, browser, changes, status, error):
    params, _ = authorize_params(wm, **changes)
    wm.complete_login(browser, browser.get(rest(wm, "authorize"), params=params, timeout=30), "Alice Member")
    resp = browser.get(rest(wm, "authorize"), params=params, timeout=30)  # now logged in at the double
    assert resp.status_code == status and resp.headers["Content-Type"].startswith("text/html")
    assert f"<code>{error}</code>" in resp.text


def test_scopes_outside_the_consumers_grants_are_trimmed_and_unknown_ones_refused(wm, browser):
    query, verifier = get_code(wm, browser, scope="mwoauth-authonlyprivate editpage")
    token = token_request(wm, query["code"][0], verifier).json()["access_token"]
    profile = requests.get(rest(wm, "resource/profile"), headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    assert profile["grants"] == ["mwoauth-authonlyprivate"]
    params, _ = authorize_params(wm, scope="no-such-grant")
    resp = browser.get(rest(wm, "authorize"), params=params, timeout=30)
    assert parse_qs(urlsplit(_callback_location(resp)).query)["error"] == ["invalid_scope"]


# -- the profile -----------------------------------------------------------------------------------------------
def profile_for(wm, browser, username):
    query, verifier = get_code(wm, browser, username)
    token = token_request(wm, query["code"][0], verifier).json()["access_token"]
    resp = requests.get(rest(wm, "resource/profile"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 200
    return resp.json()


def fresh_browser():
    return NoFollow()


@pytest.mark.parametrize("username, check", [
    ("Blocked Bob", lambda p: p["blocked"] is True),
    ("Unconfirmed Uma", lambda p: p["confirmed_email"] is False and p["email"] == "uma@example.org"),
    ("Newbie Nell", lambda p: p["editcount"] == 3 and dt.datetime.strptime(p["registered"], "%Y%m%d%H%M%S")
     > dt.datetime.utcnow() - dt.timedelta(days=2)),
    ("Sysop Sam", lambda p: {"sysop", "bureaucrat"} <= set(p["groups"]) and "block" in p["rights"]),
    ("Ziko van Dijk", lambda p: p["username"] == "Ziko van Dijk"),
    ("Женя", lambda p: p["username"] == "Женя" and p["sub"] == 1007),
    ("No Mail Nora", lambda p: p["email"] == "" and p["confirmed_email"] is False),
    ("Old Timer", lambda p: p["registered"] is None),
    ("Hidden Hank", lambda p: p == {"sub": 1010, "blocked": True}),
])
def test_test_users(wm, username, check):
    with fresh_browser() as browser:
        profile = profile_for(wm, browser, username)
    assert check(profile), profile
    if username != "Hidden Hank":
        assert isinstance(profile["sub"], int) and isinstance(profile["editcount"], int)


def test_identity_only_grant_has_no_email():
    with WikimediaDouble(redirect_uri=CALLBACK, grants=["mwoauth-authonly"]) as wm, fresh_browser() as browser:
        profile = profile_for(wm, browser, "Alice Member")
    assert profile["grants"] == ["mwoauth-authonly"] and "email" not in profile and "realname" not in profile


def test_admin_changes_show_in_the_next_profile(wm):
    assert wm.block("Alice Member")["blocked"] is True
    wm.set_user(1001, editcount=2)
    with fresh_browser() as browser:
        profile = profile_for(wm, browser, "Alice Member")
    assert profile["blocked"] is True and profile["editcount"] == 2
    with pytest.raises(requests.HTTPError):
        wm.set_user("Alice Member", sub=5)  # the id is not editable
    wm.reset()
    assert wm.user("Alice Member")["blocked"] is False


@pytest.mark.parametrize("headers, hint", [
    ({}, 'Missing "Authorization" header'),
    ({"Authorization": "Bearer not-a-token"}, "Access token could not be verified"),
])
def test_profile_without_a_valid_token(wm, headers, hint):
    resp = requests.get(rest(wm, "resource/profile"), headers=headers, timeout=30)
    assert resp.status_code == 401
    assert resp.json()["error"] == "access_denied" and resp.json()["hint"] == hint


def test_tokens_expire(wm, browser):
    query, verifier = get_code(wm, browser)
    token = token_request(wm, query["code"][0], verifier).json()["access_token"]
    wm.expire_tokens()
    resp = requests.get(rest(wm, "resource/profile"), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code == 401 and resp.json()["hint"] == "Access token could not be verified"


def test_command_line_prints_ready_and_serves(tmp_path):
    import subprocess

    d = WikimediaDouble(redirect_uri=CALLBACK, client_id="cid", client_secret="csecret")
    cmd = d.command()
    assert cmd[1].endswith("deploy/dev/wikimedia_double/__main__.py")
    assert ["--client-id", "cid"] == cmd[cmd.index("--client-id"):cmd.index("--client-id") + 2]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready http://127.0.0.1:")
        url = line.split()[1]
        config = requests.get(url + "/__double__/config", timeout=30).json()
        assert config["client_id"] == "cid" and config["redirect_uris"] == [CALLBACK] and config["base_url"] == url
    finally:
        proc.terminate()
        proc.wait(10)
