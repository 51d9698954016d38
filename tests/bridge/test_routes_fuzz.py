"""No public route of the bridge answers 5xx, whatever a client sends (issue 11, point 6).

Hypothesis sends every route the bridge answers arbitrary query strings, headers, cookies and
bodies: binary and invalid UTF-8, huge numbers, digits from other scripts ("²", "٣"), malformed
URLs ("http://["), bad JSON, wrong content types. Part of the requests are *validly signed*
(web hooks, DiscourseConnect) or carry a valid login session and the right CSRF token, so the
code behind each check is reached too. The app is the one `create_app` builds from a
configuration with every feature on; the Wikimedia double answers the OAuth token requests.

The first inputs are the reported cases (`@example`); the rest is derandomized, so CI runs the
same examples every time (run with HYPOTHESIS_SEED / a changed derandomize setting to explore).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `doubles`

from doubles.wikimedia import WikimediaDouble  # noqa: E402

from bridge import config  # noqa: E402
from bridge.app import SESSION_COOKIE, create_app  # noqa: E402
from sso import accounts, sessions, wikimedia  # noqa: E402
from sync import webhooks, wordpress_hooks  # noqa: E402

BRIDGE_URL = "http://localhost"
FORUM_URL = "http://127.0.0.1:9"      # nothing listens: a forum call fails at once (and is queued)
BLOG_URL = "http://127.0.0.2:9"
FORUM_CONNECT = "fuzz-forum-connect-secret-0123456789abcdef"
FORUM_WEBHOOK = "fuzz-forum-webhook-secret-0123456789abcdef"
BLOG_CONNECT = "fuzz-blog-connect-secret-0123456789abcdefgh"
BLOG_WEBHOOK = "fuzz-blog-webhook-secret-0123456789abcdefgh"
MEMBER = {"sub": 1001, "username": "Alice Member", "editcount": 1500, "confirmed_email": True, "blocked": False,
          "registered": "20150312104500", "groups": ["*", "user"], "email": "alice@example.org",
          "realname": "Alice Example"}

ROUTES = [
    ("POST", "/webhooks/wordpress/blog"),
    ("POST", "/webhooks/discourse"),
    ("GET", "/sso/discourse"),
    ("GET", "/sso/wordpress/blog"),
    ("GET", "/login"),
    ("GET", "/login/refused"),
    ("GET", "/oauth/callback"),
    ("GET", "/logout"),
    ("POST", "/logout"),
    ("GET", "/whoami"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/search.json"),
    ("GET", "/search"),
    ("GET", "/opensearch.xml"),
]


# -- the app -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wikimedia_double():
    with WikimediaDouble(redirect_uri=BRIDGE_URL + "/oauth/callback") as double:
        yield double


@pytest.fixture
def app(wikimedia_double, engine, tmp_path):
    data = {
        "bridge": {"public_url": BRIDGE_URL, "secret_key": "fuzz-secret-key-0123456789abcdef0123456789",
                   "state_dir": str(tmp_path), "log_format": "console"},
        "wikimedia": {"oauth_base_url": wikimedia_double.url, "client_id": wikimedia_double.client_id,
                      "client_secret": wikimedia_double.client_secret, "timeout_seconds": 5},
        "discourse": {"url": FORUM_URL, "api_key": "fuzz-api-key-0123456789abcdef0123456789",
                      "connect_secret": FORUM_CONNECT, "webhook_secret": FORUM_WEBHOOK,
                      "requests_per_minute": 1_000_000},  # the log-out calls the (absent) forum: no throttle
        "wordpress": {"sites": [{"name": "blog", "url": BLOG_URL, "username": "bridge",
                                 "password": "fuzz-app-password-0123456789abcdef",
                                 "webhook_secret": BLOG_WEBHOOK, "connect_secret": BLOG_CONNECT}]},
        "relay": {"targets": [{"name": "wiki-news", "kind": "wiki", "options": {"page": "Space/News"}},
                              {"name": "irc-mods", "kind": "irc", "private": True}],
                  "rules": [{"events": ["*"], "targets": ["wiki-news", "irc-mods"]}]},
        "search": {"enabled": True},
    }
    application = create_app(config.parse(data, "<fuzz>"), engine)
    accounts.upsert_from_profile(engine, MEMBER)
    return application


# -- what a client may send -------------------------------------------------------------------------------
UNICODE_DIGITS = ["²", "٣", "१२", "𝟗", "Ⅻ", "①", "¹⁰", "߃", "٠١٢٣٤٥٦٧٨٩"]
BAD_URLS = ["http://[", "https://[::1", "http://[zz]/", "//[", "http://[::1]:99999/", "http://a:-1/", "http://a:x/",
            "http://user@[", "javascript:alert(1)", "https://localhost\\@evil.example/", "/\x00", "http://%ff/",
            "http://[::ffff:127.0.0.1]/", "\u2028//evil.example", "http://localhost:0/", "ftp://[/"]
HUGE = ["9" * 30, "-1", "1e400", "Infinity", "-Infinity", "NaN", "0", "1" * 5000, "0x10", "1_000"]
ODD = st.sampled_from(UNICODE_DIGITS + BAD_URLS + HUGE + ["", " ", "%", "%zz", "%ff%fe", "\x7f", "ÿ", "\r\n"])

latin1_text = st.text(st.characters(min_codepoint=1, max_codepoint=255, blacklist_characters="\r\n"), max_size=80)
some_text = st.one_of(st.text(max_size=80), ODD, latin1_text)

PARAMS = ["next", "sso", "sig", "uselang", "state", "code", "error", "error_description", "csrf_token", "t", "v1",
          "prompt", "return_sso_url", "q", "page", "tags", "category", "author", "after", "before", "in", "lang",
          "order"]


@st.composite
def query_strings(draw) -> str:
    """A raw QUERY_STRING: parameters the routes read with odd values (UTF-8, Latin-1 or raw), or junk."""
    pieces = []
    for _ in range(draw(st.integers(0, 5))):
        key = draw(st.one_of(st.sampled_from(PARAMS), st.text(max_size=10)))
        value = draw(some_text)
        how = draw(st.sampled_from(["utf-8", "latin-1", "raw"]))
        if how == "raw":
            pieces.append(f"{key}={value}".encode("utf-8", "surrogatepass").decode("latin-1"))
        else:
            pieces.append(quote(key) + "=" + quote(value.encode(how, "replace")))
    if draw(st.booleans()):
        pieces.append(draw(st.sampled_from(["%", "%zz", "&&==&", "next", "=x", "a=%ff%fe", "%00=%00", ";;"])))
    return "&".join(pieces)


HEADER_NAMES = ["X-Space-Bridge-Signature", "X-Discourse-Event-Signature", "X-Discourse-Event", "X-Discourse-Event-Type",
                "X-Discourse-Event-Id", "X-Discourse-Instance", "Accept-Language", "Content-Type", "Accept",
                "Authorization", "X-Forwarded-For", "Referer", "Origin", "Content-Encoding", "Cookie", "Host",
                "Transfer-Encoding", "Content-Length", "X-Forwarded-Proto", "X-Forwarded-Host"]
HEADER_NAME = st.one_of(st.sampled_from(HEADER_NAMES), st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True))
HEADER_VALUES = st.one_of(
    latin1_text, ODD.map(lambda v: v.encode("utf-8").decode("latin-1").replace("\r\n", "")),
    st.builds(lambda t, mac: f"t={t},v1={mac}", st.one_of(st.sampled_from(UNICODE_DIGITS + HUGE), latin1_text),
              st.one_of(st.just("a" * 64), latin1_text)),
    st.builds(lambda d: f"sha256={d}", st.one_of(st.just("0" * 64), latin1_text)),
    st.sampled_from(["en;q=nan", "*;q=1e999", "ar-;q=", "es-419,es;q=0.9", "zz-ZZ-x-y;q=-1", ";;;", "en;q=0.5x",
                     "de, ;q=1, ar", "Bearer \xff", "application/json; charset=utf-7", "multipart/form-data",
                     "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1",
                     f"{SESSION_COOKIE}=junk", f"{SESSION_COOKIE}=eyJ4Ijoie30ifQ.bad.sig", "gzip", "text/html; q=x"]),
)
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
                 "multipart/form-data", "text/plain; charset=utf-8", "application/octet-stream",
                 "application/json; charset=latin-1", "text/html; charset=\xff", ""]

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), ODD),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def bodies(draw, path: str = "") -> bytes:
    import json

    kind = draw(st.sampled_from(["binary", "json", "shaped", "shaped", "shaped", "deep", "junk"]))
    if kind == "binary":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(json_values), allow_nan=True).encode()
    if kind == "shaped":  # what the web hooks expect, with odd values (or plausible ones)
        value = draw(st.one_of(json_values, ODD, st.integers(min_value=-2**70, max_value=2**70),
                               st.integers(1, 2**63 - 1), st.integers(1, 2**63 - 1).map(str)))
        shapes = [{"post_id": value, "modified_gmt": draw(some_text), "status": draw(some_text), "event": value},
                  {"post": {"topic_id": value, "id": value, "updated_at": draw(some_text)}},
                  {"post": value}, {"topic": {"id": value, "category_id": value}}]
        shape = shapes[0] if "wordpress" in path else draw(st.sampled_from(shapes[1:] if "discourse" in path else shapes))
        text = json.dumps(shape, allow_nan=True)
        return text.encode() if draw(st.booleans()) else text.replace(": ", ":").encode("utf-16")
    if kind == "deep":
        return b"[" * draw(st.integers(900, 5000)) + b"]"
    return draw(st.sampled_from([b"{", b'{"post_id": 1e400}', b'{"post_id": Infinity}', b'{"post": NaN}',
                                 b"\xff\xfe{}", b'{"post_id": "\xd9\xa3"}', b'{"post":{"topic_id":' + b"9" * 25 + b"}}",
                                 b'{"post_id": ' + b"1" * 5000 + b"}", b"\x00" * 50, b"null", b"[]", b'"x"']))


@st.composite
def requests_(draw, method: str, path: str) -> dict:
    headers = draw(st.lists(st.tuples(HEADER_NAME, HEADER_VALUES), max_size=6))
    body = draw(bodies(path)) if method == "POST" or draw(st.integers(0, 9)) == 0 else b""
    return {
        "query": draw(query_strings()),
        "headers": headers,
        "body": body,
        "content_type": draw(st.sampled_from(CONTENT_TYPES)),
        "sign": draw(st.booleans()),  # a valid signature (web hooks, DiscourseConnect) for what was drawn
        "logged_in": draw(st.booleans()),
        "real_state": draw(st.booleans()),  # /oauth/callback: a state this browser really started
        "right_token": draw(st.booleans()),  # POST /logout: this session's CSRF token
        "signed_payload": draw(st.one_of(
            st.text(max_size=200),
            st.builds(lambda n, u, p: f"nonce={quote(n)}&return_sso_url={quote(u)}&prompt={quote(p)}",
                      st.one_of(some_text, st.text(min_size=1, max_size=40)),
                      st.one_of(some_text, st.just((BLOG_URL if "wordpress" in path else FORUM_URL) + "/sso_login"),
                                st.builds(lambda q: (BLOG_URL if "wordpress" in path else FORUM_URL) + "/x?" + quote(q),
                                          some_text)),
                      st.sampled_from(["", "none", "login", "²"])))),
    }


# -- sending one --------------------------------------------------------------------------------------------
def _log_in(app, client) -> str:
    """Put a valid login session (and a CSRF token) into `client`'s cookie; returns the token."""
    engine = app.extensions["space_bridge"]["engine"]
    token = "fuzz-csrf-token-0123456789"
    data = {wikimedia.SESSION_KEY: "1001", wikimedia.SESSION_LOGIN_AT: int(time.time()),
            wikimedia.SESSION_GENERATION: sessions.generation(engine, "1001"), sessions.CSRF_KEY: token}
    cookie = app.session_interface.get_signing_serializer(app).dumps(data)
    client.set_cookie(SESSION_COOKIE, cookie, domain="localhost")
    return token


def _sign_query(query: str, payload: str, secret: str) -> str:
    sso = base64.b64encode(payload.encode("utf-8", "surrogatepass")).decode()
    sig = hmac.new(secret.encode(), sso.encode(), hashlib.sha256).hexdigest()
    return f"sso={quote(sso, safe='')}&sig={sig}" + (f"&{query}" if query else "")


def send(app, method: str, path: str, req: dict):
    client = app.test_client()
    query, headers, body = req["query"], list(req["headers"]), req["body"]
    token = _log_in(app, client) if req["logged_in"] else None
    if req["sign"]:
        if path == "/webhooks/wordpress/blog":
            headers.append((wordpress_hooks.SIGNATURE_HEADER, wordpress_hooks.sign(body, BLOG_WEBHOOK)))
        elif path == "/webhooks/discourse":
            headers.append((webhooks.SIGNATURE_HEADER, webhooks.sign(body, FORUM_WEBHOOK)))
            headers.append((webhooks.EVENT_HEADER, "post_created"))
        elif path.startswith("/sso/"):
            query = _sign_query(query, req["signed_payload"], FORUM_CONNECT if "discourse" in path else BLOG_CONNECT)
    if path == "/oauth/callback" and req["real_state"] and token is None:
        start = client.get("/login")
        state = parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]
        query = f"state={state}&" + query
    if path == "/logout" and method == "POST" and token and req["right_token"]:
        body = f"csrf_token={token}".encode() + (b"&" + body if body else b"")
        req = {**req, "content_type": "application/x-www-form-urlencoded"}
    return client.open(path, method=method, headers=headers, data=body, content_type=req["content_type"] or None,
                       environ_overrides={"QUERY_STRING": query})


def check(app, method: str, path: str, req: dict) -> None:
    resp = send(app, method, path, req)
    assert resp.status_code < 500, (resp.status_code, resp.get_data()[:500])
    if resp.status_code >= 400:
        assert resp.get_data().strip(), "an error without a message"


# -- the reported cases, then Hypothesis --------------------------------------------------------------------
def _req(**changes) -> dict:
    return {"query": "", "headers": [], "body": b"", "content_type": "", "sign": False, "logged_in": False,
            "real_state": False, "right_token": False, "signed_payload": "", **changes}


REPORTED = [  # (method, path, request, status the bridge answers)
    ("POST", "/webhooks/wordpress/blog", _req(headers=[("X-Space-Bridge-Signature", "t=²,v1=" + "a" * 64)], body=b"{}"), 401),
    ("POST", "/webhooks/wordpress/blog", _req(headers=[("X-Space-Bridge-Signature", "t=١٧٠٠٠٠٠٠٠٠,v1=" + "a" * 64)]), 401),
    ("GET", "/login", _req(query="next=http://["), 302),
    ("GET", "/logout", _req(query="next=http://[", logged_in=True), 200),
    ("GET", "/logout", _req(query="next=http://["), 303),
    ("POST", "/logout", _req(body=b"next=http://[", logged_in=True, right_token=True), 303),
    ("GET", "/sso/discourse", _req(sign=True, signed_payload="nonce=abc&return_sso_url=http://["), 400),
    ("POST", "/webhooks/discourse", _req(sign=True, body=b'{"post": {"topic_id": 1e400}}'), 400),
    ("POST", "/webhooks/discourse", _req(sign=True, body=b'{"post": {"topic_id": "\xd9\xa3"}}'), 400),
    ("POST", "/webhooks/wordpress/blog", _req(sign=True, body=b'{"post_id": ' + b"9" * 25 + b"}"), 400),
    ("POST", "/webhooks/wordpress/blog", _req(sign=True, body=b'{"post_id": Infinity}'), 400),
    ("POST", "/webhooks/wordpress/blog", _req(sign=True, body=b"[" * 3000), 400),
]


@pytest.mark.parametrize("method, path, req, status", REPORTED, ids=[f"{m} {p}" for m, p, _, _ in REPORTED])
def test_reported_cases_are_answered_without_an_error(app, method, path, req, status):
    resp = send(app, method, path, req)
    assert resp.status_code == status, resp.get_data()[:300]
    if resp.status_code == 400 and path.startswith("/webhooks/"):
        assert resp.json["error"] and resp.json["detail"]  # says what is wrong
    if resp.status_code in (302, 303):
        assert "[" not in resp.headers["Location"].split("?")[0]


@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_no_route_answers_5xx(app, method, path):
    def run(req):
        check(app, method, path, req)

    run = given(req=requests_(method, path))(run)
    for m, p, req, _ in REPORTED:  # tried first, every run
        if (m, p) == (method, path):
            run = example(req=req)(run)
    settings(max_examples=200, deadline=None, derandomize=True, database=None,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.function_scoped_fixture])(run)()
