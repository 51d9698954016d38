"""Whatever arrives at /sso/discourse and /sso/wordpress/<site>, the bridge never answers 500.

Hypothesis feeds arbitrary `sso`, `sig` and raw query strings (and, for good measure, validly
signed payloads with arbitrary fields) through Flask's test client, logged out and logged in.
"""

from __future__ import annotations

import base64
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge import config, store
from bridge.app import create_app
from sso import discourse_connect, wikimedia

SECRET = "connect-secret-123"
WP_SECRET = "wp-connect-secret-456"
FORUM = "http://forum.test:8080"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    path = tmp_path_factory.mktemp("props") / "bridge.db"
    data = {
        "bridge": {"public_url": "http://bridge.test", "secret_key": "test-secret-key-0123456789abcdef0123",
                   "database_url": f"sqlite:///{path}", "log_format": "console", "log_level": "error"},
        "wikimedia": {"oauth_base_url": "http://wm.test", "client_id": "c", "client_secret": "s"},
        "discourse": {"url": FORUM, "api_key": "k", "connect_secret": SECRET, "webhook_secret": "webhook-secret-123"},
        "wordpress": {"sites": [{"name": "blog", "url": "http://blog.test", "username": "u", "password": "p",
                                 "webhook_secret": "w", "connect_secret": WP_SECRET}]},
    }
    settings_ = config.parse(data, "<props>")
    engine = store.make_engine(settings_.bridge.database_url)
    store.upgrade(engine)
    application = create_app(settings_, engine)
    application.testing = False  # exceptions become 500s, which is what is looked for
    from sso import accounts

    accounts.upsert_from_profile(engine, {"sub": 7, "username": "Prop Tester", "email": "p@example.org",
                                          "confirmed_email": True, "blocked": False, "groups": ["*", "user"]})
    yield application
    engine.dispose()


PATHS = st.sampled_from(["/sso/discourse", "/sso/wordpress/blog", "/sso/wordpress/other"])
TEXT = st.text(max_size=300)
B64ISH = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n%", max_size=400)
HEXISH = st.text(alphabet="0123456789abcdefABCDEFxyz", max_size=130)


def check(response):
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    assert response.status_code in (302, 400, 404), response.status_code


def client_for(app, logged_in: bool):
    client = app.test_client()
    if logged_in:
        with client.session_transaction() as sess:
            sess[wikimedia.SESSION_KEY] = "7"
    return client


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, sso=st.one_of(TEXT, B64ISH), sig=st.one_of(TEXT, HEXISH), logged_in=st.booleans())
def test_arbitrary_sso_and_sig(app, path, sso, sig, logged_in):
    check(client_for(app, logged_in).get(path + "?" + urlencode({"sso": sso, "sig": sig})))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, query=st.text(max_size=500), logged_in=st.booleans())
def test_arbitrary_query_strings(app, path, query, logged_in):
    check(client_for(app, logged_in).get(path + "?" + quote(query, safe="=&+%/?;")))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/sso/discourse", "/sso/wordpress/blog"]),
       fields=st.dictionaries(st.sampled_from(["nonce", "return_sso_url", "prompt", "external_id", "admin", "x"]),
                              st.text(max_size=80), max_size=6),
       return_url=st.one_of(st.none(), st.sampled_from([FORUM + "/session/sso_login", "http://blog.test/wp-login.php",
                                                        "http://evil.test/", "javascript:x", "http://forum.test:9/x"])),
       logged_in=st.booleans())
def test_validly_signed_arbitrary_payloads(app, path, fields, return_url, logged_in):
    secret = SECRET if path == "/sso/discourse" else WP_SECRET
    if return_url is not None:
        fields["return_sso_url"] = return_url
    sso = base64.b64encode(urlencode(fields).encode("utf-8")).decode()
    sig = discourse_connect.sign(sso, secret)
    check(client_for(app, logged_in).get(path + "?" + urlencode({"sso": sso, "sig": sig})))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300), logged_in=st.booleans())
def test_validly_signed_arbitrary_bytes(app, raw, logged_in):
    sso = base64.b64encode(raw).decode()
    check(client_for(app, logged_in).get("/sso/discourse?" + urlencode({"sso": sso,
                                                                          "sig": discourse_connect.sign(sso, SECRET)})))
