"""The mu-plugin's Wikimedia login (DiscourseConnect client) and signed REST routes, on the real
WordPress of the local stack. The provider is played by the test itself: it reads the plugin's
signed request from the redirect and sends the browser (a requests.Session) back with a signed
answer, so each refusal can be provoked precisely."""

from __future__ import annotations

import html
import json
import re
import threading
import time
import types
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from pydantic import SecretStr

from bridge.clients.wordpress import accounts as wp_admin
from bridge.clients.wordpress.accounts import WordPressSSOError
from sso.consumers import wordpress as wp_consumer

from wp_helpers import WpAdmin, answer, consumer_request, logged_in, sso_override, user_meta_external_id

pytestmark = pytest.mark.stack

SECRET = "test-wp-connect-secret-0123456789"
SSO_URL = "http://127.0.0.1:9/sso/wordpress/test"
ROLES = '{"space-editors":"editor","space-authors":"author","space-admins":"administrator"}'


@pytest.fixture(scope="module")
def wp(stack):
    with sso_override({"SPACE_BRIDGE_SSO_URL": SSO_URL, "SPACE_BRIDGE_SSO_SECRET": SECRET,
                       "SPACE_BRIDGE_ROLES": ROLES, "SPACE_BRIDGE_LOGOUT_URL": "http://127.0.0.1:9/logout"}):
        admin = WpAdmin(stack)
        yield types.SimpleNamespace(url=stack["wordpress"]["url"], admin=admin, stack=stack)
        admin.cleanup()


def member(**fields) -> dict:
    tag = uuid.uuid4().hex[:10]
    data = {"external_id": f"9{int(tag, 16) % 10**9}", "email": f"sb-{tag}@space-bridge.test",
            "username": f"Member {tag}", "name": f"Member {tag.upper()}"}
    data.update(fields)
    return data


def start(browser, wp, redirect_to: str | None = None) -> dict:
    params = {"action": "space-bridge-login"}
    if redirect_to:
        params["redirect_to"] = redirect_to
    r = browser.get(f"{wp.url}/wp-login.php", params=params, allow_redirects=False, timeout=20)
    assert r.status_code == 302, r.text[:300]
    assert r.headers["Location"].startswith(SSO_URL + "?")
    return consumer_request(r.headers["Location"], SECRET)


def come_back(browser, request: dict, fields: dict, secret: str = SECRET) -> requests.Response:
    url = answer(request["return_sso_url"], {"nonce": request["nonce"], **fields}, secret)
    return browser.get(url, allow_redirects=False, timeout=20)


def error_of(response: requests.Response) -> str | None:
    q = parse_qs(urlsplit(response.headers.get("Location", "")).query)
    return q.get("space_bridge_error", [None])[0]


def login(wp, fields: dict, redirect_to: str | None = None) -> tuple[requests.Session, requests.Response]:
    browser = requests.Session()
    r = come_back(browser, start(browser, wp, redirect_to), fields)
    return browser, r


def wp_user(wp, email: str) -> dict:
    u = wp.admin.by_email(email)
    assert u is not None, f"no WordPress user {email}"
    if u["id"] not in wp.admin.created:
        wp.admin.created.append(u["id"])
    return u


# -- the handshake ------------------------------------------------------------------------------
def test_login_page_offers_the_wikimedia_login(wp):
    page = requests.get(f"{wp.url}/wp-login.php", timeout=20).text
    assert "Log in with your Wikimedia account" in page
    assert "action=space-bridge-login" in page


def test_request_is_a_signed_nonce_and_the_callback(wp):
    req = start(requests.Session(), wp)
    assert set(req) == {"nonce", "return_sso_url"}
    assert len(req["nonce"]) == 32
    assert req["return_sso_url"] == f"{wp.url}/wp-login.php?action=space-bridge-sso"


def test_first_login_creates_a_linked_subscriber_and_returns_to_the_page(wp):
    fields = member()
    browser, r = login(wp, fields, redirect_to=f"{wp.url}/?p=1")
    assert r.status_code == 302 and r.headers["Location"] == f"{wp.url}/?p=1"
    assert logged_in(browser, wp.url)
    u = wp_user(wp, fields["email"])
    assert u["roles"] == ["subscriber"]
    assert u["name"] == fields["name"]
    assert user_meta_external_id(wp.stack, u["id"]) == fields["external_id"]


def test_second_login_finds_the_same_user_by_external_id_and_updates_it(wp):
    fields = member()
    login(wp, fields)
    first = wp_user(wp, fields["email"])
    new_email = "new-" + fields["email"]
    browser, r = login(wp, {**fields, "email": new_email, "name": "Renamed"})
    assert r.status_code == 302 and logged_in(browser, wp.url)
    again = wp_user(wp, new_email)
    assert again["id"] == first["id"] and again["name"] == "Renamed"


def test_groups_map_to_roles_first_rule_wins_and_never_administrator(wp):
    f1, f2, f3 = member(groups="space-authors,space-editors"), member(groups="space-admins"), member(groups="other")
    for f in (f1, f2, f3):
        login(wp, f)
    assert wp_user(wp, f1["email"])["roles"] == ["editor"]      # the map's order, not the payload's
    assert wp_user(wp, f2["email"])["roles"] == ["subscriber"]  # administrator is never granted
    assert wp_user(wp, f3["email"])["roles"] == ["subscriber"]
    login(wp, {**f1, "groups": ""})
    assert wp_user(wp, f1["email"])["roles"] == ["subscriber"]  # a lost group lowers the role


def test_the_bridges_custom_role_wins_over_groups_but_never_administrator(wp):
    f1 = member(groups="space-editors", **{"custom.role": "author"})
    f2 = member(**{"custom.role": "administrator"})
    f3 = member(**{"custom.role": "no-such-role", "groups": "space-editors"})
    for f in (f1, f2, f3):
        login(wp, f)
    assert wp_user(wp, f1["email"])["roles"] == ["author"]
    assert wp_user(wp, f2["email"])["roles"] == ["subscriber"]
    assert wp_user(wp, f3["email"])["roles"] == ["editor"]


def test_a_local_administrator_is_not_lowered_by_a_login(wp):
    fields = member()
    login(wp, fields)
    u = wp_user(wp, fields["email"])
    wp.admin.s.post(f"{wp.url}/wp-json/wp/v2/users/{u['id']}", json={"roles": ["administrator"]}, timeout=20).raise_for_status()
    login(wp, {**fields, "groups": ""})
    assert wp_user(wp, fields["email"])["roles"] == ["administrator"]


def test_forged_signature_is_refused_with_a_message(wp):
    browser = requests.Session()
    req = start(browser, wp)
    fields = member()
    r = come_back(browser, req, fields, secret="not-the-secret-at-all")
    assert r.status_code == 302 and error_of(r) == "signature"
    page = browser.get(r.headers["Location"], timeout=20).text
    assert "could not be verified" in page and "Warning" not in page
    assert not logged_in(browser, wp.url)
    assert wp.admin.by_email(fields["email"]) is None


def test_tampered_payload_is_refused(wp):
    browser = requests.Session()
    req = start(browser, wp)
    url = answer(req["return_sso_url"], {"nonce": req["nonce"], **member()}, SECRET)
    r = browser.get(url.replace("sso=", "sso=A"), allow_redirects=False, timeout=20)
    assert error_of(r) == "signature"


def test_replayed_answer_is_refused(wp):
    browser = requests.Session()
    req = start(browser, wp)
    fields = member()
    url = answer(req["return_sso_url"], {"nonce": req["nonce"], **fields}, SECRET)
    assert error_of(browser.get(url, allow_redirects=False, timeout=20)) is None
    again = requests.Session()
    again.cookies.update(browser.cookies)
    assert error_of(browser.get(url, allow_redirects=False, timeout=20)) == "nonce"


def test_unknown_nonce_is_refused(wp):
    browser = requests.Session()
    start(browser, wp)
    r = come_back(browser, {"nonce": "0" * 32, "return_sso_url": f"{wp.url}/wp-login.php?action=space-bridge-sso"},
                  member())
    assert error_of(r) == "nonce"


def test_answer_carried_to_another_browser_is_refused(wp):
    req = start(requests.Session(), wp)
    other = requests.Session()
    r = come_back(other, req, member())
    assert error_of(r) == "browser"
    assert not logged_in(other, wp.url)


def test_existing_account_with_the_same_email_is_not_taken_over(wp):
    fields = member()
    local = wp.admin.create("local-" + fields["external_id"], fields["email"])
    browser, r = login(wp, fields)
    assert error_of(r) == "email_taken"
    page = browser.get(r.headers["Location"], timeout=20).text
    assert "not linked to a Wikimedia account" in page
    assert not logged_in(browser, wp.url)
    assert user_meta_external_id(wp.stack, local["id"]) is None
    assert [u["id"] for u in wp.admin.users(search=fields["email"])] == [local["id"]]


# -- an address Wikimedia has not confirmed (require_activation) ----------------------------------
def _by_external_id(wp, fields: dict) -> dict:
    tag = fields["name"].split()[-1].lower()  # member(): unique tag in login and name
    [u] = [u for u in wp.admin.users(search=tag)
           if user_meta_external_id(wp.stack, u["id"]) == fields["external_id"]]
    if u["id"] not in wp.admin.created:
        wp.admin.created.append(u["id"])
    return u


def test_an_unconfirmed_address_is_not_given_to_a_new_account(wp):
    fields = member(require_activation="true")
    browser, r = login(wp, fields)
    assert r.status_code == 302 and error_of(r) is None and logged_in(browser, wp.url)
    u = _by_external_id(wp, fields)
    assert u["email"] == ""
    assert wp.admin.by_email(fields["email"]) is None


def test_an_unconfirmed_address_never_replaces_the_one_an_account_has(wp):
    fields = member()
    login(wp, fields)
    before = wp_user(wp, fields["email"])
    browser, r = login(wp, {**fields, "email": "unconfirmed-" + fields["email"], "require_activation": "true"})
    assert logged_in(browser, wp.url)
    assert wp.admin.get(before["id"])["email"] == fields["email"]
    # once Wikimedia confirms the new address, the next login brings it
    login(wp, {**fields, "email": "unconfirmed-" + fields["email"]})
    assert wp.admin.get(before["id"])["email"] == "unconfirmed-" + fields["email"]


def test_an_unconfirmed_address_of_someone_else_is_neither_taken_nor_refused(wp):
    fields = member(require_activation="true")
    local = wp.admin.create("local-" + fields["external_id"], fields["email"])
    browser, r = login(wp, fields)
    assert error_of(r) is None and logged_in(browser, wp.url)
    assert user_meta_external_id(wp.stack, local["id"]) is None
    assert _by_external_id(wp, fields)["id"] != local["id"]


def test_redirect_outside_the_site_is_refused(wp):
    _, r = login(wp, member(), redirect_to="https://evil.example/steal")
    assert r.status_code == 302
    assert r.headers["Location"] == f"{wp.url}/wp-admin/"


def test_payload_without_external_id_is_refused(wp):
    browser = requests.Session()
    req = start(browser, wp)
    fields = member()
    del fields["external_id"]
    assert error_of(come_back(browser, req, fields)) == "payload"


# -- signed REST routes ---------------------------------------------------------------------------
def site(wp, secret: str = SECRET):
    return types.SimpleNamespace(name="local", url=wp.url, connect_secret=SecretStr(secret))


def test_rest_logout_destroys_every_session_of_the_member(wp):
    fields = member()
    b1, _ = login(wp, fields)
    b2, _ = login(wp, fields)
    assert logged_in(b1, wp.url) and logged_in(b2, wp.url)
    assert wp_consumer.logout(site(wp), fields["external_id"])["found"] is True
    assert not logged_in(b1, wp.url) and not logged_in(b2, wp.url)
    assert wp_consumer.logout(site(wp), "no-such-member")["found"] is False


def test_rest_refuses_a_bad_signature_and_a_stale_timestamp(wp):
    with pytest.raises(WordPressSSOError) as bad:
        wp_consumer.logout(site(wp, "wrong-secret-0123456789"), "1")
    assert bad.value.status == 401
    with pytest.raises(WordPressSSOError) as stale:
        wp_admin.call(wp.url, SECRET, "logout", {"external_id": "1"}, now=time.time() - 3600)
    assert stale.value.status == 401


def signed_post(wp, route: str, body: bytes, *, signed_route: str | None = None, query: str = "",
                signed_query: str | None = None, signed_body: bytes | None = None, nonce: str | None = None,
                content_type: str = "application/json", headers: dict | None = None) -> requests.Response:
    """POST `body` to `route`?`query`, signed as if for the signed_* values (default: the sent ones)."""
    target = (signed_route or route) + (f"?{q}" if (q := query if signed_query is None else signed_query) else "")
    headers = headers or wp_admin.signed_headers(
        SECRET, "POST", target, body if signed_body is None else signed_body, nonce=nonce)
    url = f"{wp.url}/wp-json{route}" + (f"?{query}" if query else "")
    return requests.post(url, data=body, timeout=20, headers={**headers, "Content-Type": content_type})


def editor(wp) -> dict:
    fields = member(groups="space-editors")
    login(wp, fields)
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]
    return fields


def test_rest_a_signed_request_is_accepted_once(wp):
    body = b'{"external_id":"no-such-member"}'
    headers = wp_admin.signed_headers(SECRET, "POST", "/space-bridge/v1/logout", body)
    first = signed_post(wp, "/space-bridge/v1/logout", body, headers=headers)
    assert first.status_code == 200 and first.json() == {"found": False}
    again = signed_post(wp, "/space-bridge/v1/logout", body, headers=headers)
    assert again.status_code == 401 and again.json()["code"] == "space_bridge_replay"
    # the nonce, not only the signature, is spent: re-signed with a new timestamp it is still refused
    nonce = headers["X-Space-Bridge-Nonce"]
    resigned = signed_post(wp, "/space-bridge/v1/logout", body, nonce=nonce)
    assert resigned.status_code == 401 and resigned.json()["code"] == "space_bridge_replay"


def test_rest_a_request_without_a_nonce_is_refused(wp):
    body = b'{"external_id":"1"}'
    headers = wp_admin.signed_headers(SECRET, "POST", "/space-bridge/v1/logout", body)
    del headers["X-Space-Bridge-Nonce"]
    r = signed_post(wp, "/space-bridge/v1/logout", body, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "space_bridge_nonce"


def test_rest_a_signature_for_logout_does_not_open_demote(wp):
    fields = editor(wp)
    body = json.dumps({"external_id": fields["external_id"], "role": ""}).encode()
    r = signed_post(wp, "/space-bridge/v1/demote", body, signed_route="/space-bridge/v1/logout")
    assert r.status_code == 401 and r.json()["code"] == "space_bridge_signature"
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]


def test_rest_query_parameters_outside_the_signature_are_refused_and_signed_ones_ignored(wp):
    fields = editor(wp)
    body = json.dumps({"external_id": fields["external_id"]}).encode()  # no role: the default, none
    r = signed_post(wp, "/space-bridge/v1/demote", body, query="role=author", signed_query="")
    assert r.status_code == 401 and r.json()["code"] == "space_bridge_signature"
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]
    # covered by the signature, the query still says nothing: parameters come from the JSON body
    r = signed_post(wp, "/space-bridge/v1/demote", body, query="role=author&external_id=other")
    assert r.status_code == 200 and r.json()["found"] is True
    assert wp_user(wp, fields["email"])["roles"] == []


def test_rest_form_fields_are_not_parameters(wp):
    fields = editor(wp)
    body = f"external_id={fields['external_id']}&role=author".encode()
    r = signed_post(wp, "/space-bridge/v1/demote", body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400 and r.json()["code"] == "space_bridge_body"
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]


def test_rest_a_body_changed_after_signing_is_refused(wp):
    fields = editor(wp)
    signed = json.dumps({"external_id": fields["external_id"], "role": "author"}).encode()
    sent = json.dumps({"external_id": fields["external_id"], "role": ""}).encode()
    r = signed_post(wp, "/space-bridge/v1/demote", sent, signed_body=signed)
    assert r.status_code == 401 and r.json()["code"] == "space_bridge_signature"
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]


def test_rest_concurrent_twins_of_one_request_succeed_once(wp):
    body = b'{"external_id":"no-such-member"}'
    for _ in range(3):
        headers = wp_admin.signed_headers(SECRET, "POST", "/space-bridge/v1/logout", body)
        gate = threading.Barrier(6)

        def send(_):
            gate.wait()
            return signed_post(wp, "/space-bridge/v1/logout", body, headers=headers).status_code

        with ThreadPoolExecutor(6) as pool:
            codes = sorted(pool.map(send, range(6)))
        assert codes == [200] + [401] * 5, codes


def test_a_member_cannot_link_their_own_account_through_the_rest_api(wp):
    fields, victim = member(), member()
    login(wp, fields)
    u = wp_user(wp, fields["email"])
    wp.admin.s.post(f"{wp.url}/wp-json/wp/v2/users/{u['id']}", json={"roles": ["author"]}, timeout=20).raise_for_status()
    r = wp.admin.s.post(f"{wp.url}/wp-json/wp/v2/users/{u['id']}/application-passwords", json={"name": "t"}, timeout=20)
    r.raise_for_status()
    own = requests.Session()
    own.auth = (wp.admin.get(u["id"])["username"], r.json()["password"])
    r = own.post(f"{wp.url}/wp-json/wp/v2/users/me", json={
        "meta": {"space_bridge_external_id": victim["external_id"]},
        "space_bridge_external_id": victim["external_id"]}, timeout=20)
    assert r.status_code in (200, 400), r.text
    assert user_meta_external_id(wp.stack, u["id"]) == fields["external_id"]
    assert "space_bridge_external_id" not in (r.json().get("meta") or {})


def test_demote_job_removes_the_role_and_logs_the_member_out(wp):
    from bridge.outbox import Job, PermanentFailure

    fields = member(groups="space-editors")
    browser, _ = login(wp, fields)
    assert wp_user(wp, fields["email"])["roles"] == ["editor"]
    settings = types.SimpleNamespace(wordpress=types.SimpleNamespace(sites=[site(wp)]))
    handle = wp_consumer.handlers(settings)["sso.demote_wordpress"]
    now = time.time()
    job = lambda payload: Job(id=1, kind="sso.demote_wordpress", key="k", payload=payload, state="running",  # noqa: E731
                              attempts=1, run_after=now, created_at=now)
    handle(job({"site": "local", "sub": fields["external_id"]}))
    assert wp_user(wp, fields["email"])["roles"] == []
    assert not logged_in(browser, wp.url)
    with pytest.raises(PermanentFailure):
        handle(job({"site": "elsewhere", "sub": fields["external_id"]}))
    with pytest.raises(PermanentFailure):
        handle(job({"site": "local"}))


def test_wordpress_logout_of_a_member_continues_at_the_bridge(wp):
    fields = member()
    browser, _ = login(wp, fields)
    page = browser.get(f"{wp.url}/wp-admin/profile.php", timeout=20).text
    logout = html.unescape(re.search(r'href="([^"]*action=logout[^"]*)"', page).group(1))
    r = browser.get(logout, allow_redirects=False, timeout=20)
    assert r.status_code == 302
    assert r.headers["Location"].startswith("http://127.0.0.1:9/logout?next=")
    assert not logged_in(browser, wp.url)


def test_sso_only_sends_the_login_page_to_the_bridge_but_keeps_a_way_to_the_password_form(wp):
    with sso_override({"SPACE_BRIDGE_SSO_URL": SSO_URL, "SPACE_BRIDGE_SSO_SECRET": SECRET, "SPACE_BRIDGE_SSO_ONLY": "1"}):
        browser = requests.Session()
        r = browser.get(f"{wp.url}/wp-login.php", params={"redirect_to": f"{wp.url}/?p=1"}, allow_redirects=False, timeout=20)
        assert r.status_code == 302 and "action=space-bridge-login" in r.headers["Location"]
        r = browser.get(r.headers["Location"], allow_redirects=False, timeout=20)
        assert r.headers["Location"].startswith(SSO_URL + "?")
        local = requests.get(f"{wp.url}/wp-login.php", params={"space_bridge": "local"}, timeout=20)
        assert local.status_code == 200 and 'name="pwd"' in local.text
    assert 'name="pwd"' in requests.get(f"{wp.url}/wp-login.php", timeout=20).text  # the module's constants again


def test_disabled_sso_shows_no_button_and_the_routes_answer_503(wp):
    with sso_override({"SPACE_BRIDGE_SSO_URL": "", "SPACE_BRIDGE_SSO_SECRET": SECRET}):
        assert "space-bridge-login" not in requests.get(f"{wp.url}/wp-login.php", timeout=20).text
        with pytest.raises(WordPressSSOError) as off:
            wp_admin.call(wp.url, SECRET, "logout", {"external_id": "1"})
        assert off.value.status == 503
