"""WordPressClient.post_views(): the blog's privacy-preserving view counter
(deploy/wordpress/space-bridge-views.php), read by the bridge for its search.

Unit tests against recorded HTTP (responses) for what the client accepts and refuses; then the
real WordPress of the local stack (``-m stack``): what counts as a view, what is never stored or
set, who may read the counts, over both transports.
"""

from __future__ import annotations

import json
import subprocess
import uuid
import xmlrpc.client
from datetime import date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from bridge.clients.wordpress import (BridgeMetaUnavailable, WordPressAuthError, WordPressClient, WordPressError,
                                      WordPressPermissionError)

SITE = "https://wp.example.test"
VIEWS = f"{SITE}/wp-json/space-bridge/v1/views"
XMLRPC = f"{SITE}/xmlrpc.php"
SECRET = "s3cr3t Pass w0rd XyZ1"
UA = "space-bridge-tests/1.0 (+https://example.test/contact)"


def page(number: int, pages: int, rows: list[tuple[int, int]], **extra) -> dict:
    """One page as the mu-plugin's totals() answers it."""
    return {"since": None, "page": number, "per_page": 100, "pages": pages, "total": 0, "retention_days": 400,
            "views": [{"post_id": p, "views": v} for p, v in rows], **extra}


def rest_client() -> WordPressClient:
    responses.get(f"{SITE}/wp-json/wp/v2/users/me", json={"id": 2, "name": "Space Bridge"})
    return WordPressClient(SITE, "bridge", SECRET, timeout=7.5, user_agent=UA)


def view_calls() -> list:
    return [c for c in responses.calls if "/space-bridge/v1/views" in c.request.url]


@responses.activate
def test_rest_pages_through_every_post_and_sends_since_and_page_size():
    client = rest_client()
    responses.get(VIEWS, json=page(1, 2, [(5, 3), (9, 1)]))
    responses.get(VIEWS, json=page(2, 2, [(12, 40)]))
    assert client.post_views(since=date(2026, 11, 1), page_size=2) == {5: 3, 9: 1, 12: 40}
    queries = [parse_qs(urlsplit(c.request.url).query) for c in view_calls()]
    assert queries == [{"since": ["2026-11-01"], "page": ["1"], "per_page": ["2"]},
                       {"since": ["2026-11-01"], "page": ["2"], "per_page": ["2"]}]
    assert view_calls()[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_rest_no_views_yet_is_an_empty_answer_not_an_error():
    client = rest_client()
    responses.get(VIEWS, json=page(1, 0, []))
    assert client.post_views() == {}
    assert "since" not in parse_qs(urlsplit(view_calls()[0].request.url).query)


@responses.activate
def test_a_post_seen_twice_while_paging_keeps_its_larger_count():
    """A post viewed for the first time while the bridge pages shifts the others one place: the
    post at the edge comes again, counted once more meanwhile."""
    client = rest_client()
    responses.get(VIEWS, json=page(1, 2, [(5, 3), (9, 1)]))
    responses.get(VIEWS, json=page(2, 2, [(9, 2), (12, 40)]))
    assert client.post_views(page_size=2) == {5: 3, 9: 2, 12: 40}


MALFORMED = {
    "not an object": [["post_id", 5]],
    "another page": page(2, 1, [(5, 3)]),
    "no page count": {k: v for k, v in page(1, 1, [(5, 3)]).items() if k != "pages"},
    "page count as text": page(1, "1", [(5, 3)]),
    "views not a list": {**page(1, 1, []), "views": {"5": 3}},
    "count as text": {**page(1, 1, []), "views": [{"post_id": 5, "views": "3"}]},
    "count as a boolean": {**page(1, 1, []), "views": [{"post_id": 5, "views": True}]},
    "count as a float": {**page(1, 1, []), "views": [{"post_id": 5, "views": 3.5}]},
    "negative count": page(1, 1, [(5, -1)]),
    "absurd count": page(1, 1, [(5, 10**18)]),
    "post id zero": page(1, 1, [(0, 3)]),
    "post id as text": {**page(1, 1, []), "views": [{"post_id": "5", "views": 3}]},
    "row without views": {**page(1, 1, []), "views": [{"post_id": 5}]},
    "more rows than asked": page(1, 1, [(i, 1) for i in range(1, 4)]),
    "absurd page count": page(1, 10**9, [(5, 3)]),
}


@pytest.mark.parametrize("answer", MALFORMED.values(), ids=MALFORMED.keys())
@responses.activate
def test_a_malformed_answer_is_a_wordpress_error_not_numbers(answer):
    client = rest_client()
    responses.get(VIEWS, json=answer)
    with pytest.raises(WordPressError) as caught:
        client.post_views(page_size=2)
    assert type(caught.value) is WordPressError and "view counter" in str(caught.value)
    assert SECRET not in str(caught.value)


@responses.activate
def test_an_answer_that_is_not_json_is_a_wordpress_error():
    client = rest_client()
    responses.get(VIEWS, body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(WordPressError, match="JSON"):
        client.post_views()


@responses.activate
def test_a_site_without_the_counter_says_the_mu_plugin_is_missing():
    client = rest_client()
    responses.get(VIEWS, status=404, json={"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}})
    with pytest.raises(BridgeMetaUnavailable, match="space-bridge-views.php"):
        client.post_views()


@responses.activate
def test_an_account_without_the_capability_is_a_permission_error():
    client = rest_client()
    responses.get(VIEWS, status=403, json={"code": "rest_forbidden", "message": "Sorry, you are not allowed to do that."})
    with pytest.raises(WordPressPermissionError):
        client.post_views()


@pytest.mark.parametrize("kwargs", [{"page_size": 0}, {"page_size": 501}, {"since": "2026-01-01"},
                                    {"since": datetime(2026, 1, 1, tzinfo=timezone.utc)}])
@responses.activate
def test_arguments_are_checked_before_any_request(kwargs):
    client = rest_client()
    with pytest.raises(ValueError):
        client.post_views(**kwargs)
    assert len(responses.calls) == 0


class FakeXmlRpc:
    """A scripted xmlrpc.php: handlers[method](*params) returns a value or raises Fault."""

    def __init__(self, handlers: dict):
        self.handlers = handlers
        self.calls: list[tuple[str, tuple]] = []
        responses.add_callback(responses.POST, XMLRPC, callback=self._respond)

    def _respond(self, request):
        params, method = xmlrpc.client.loads(request.body)
        self.calls.append((method, params))
        if method == "mt.supportedMethods":
            result = list(self.handlers)
        else:
            try:
                result = self.handlers[method](*params)
            except xmlrpc.client.Fault as fault:
                return 200, {"Content-Type": "text/xml"}, xmlrpc.client.dumps(fault, methodresponse=True)
        return 200, {"Content-Type": "text/xml"}, xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)


def xmlrpc_client() -> WordPressClient:
    return WordPressClient(SITE, "bridge", SECRET, transport="xmlrpc", timeout=7.5, user_agent=UA)


@responses.activate
def test_xmlrpc_reads_the_same_answer_and_sends_the_query_as_a_struct():
    answers = iter([page(1, 2, [(5, 3)], since=""), page(2, 2, [(7, 1)], since="")])
    fake = FakeXmlRpc({"spaceBridge.getPostViews": lambda *params: next(answers)})
    assert xmlrpc_client().post_views(since=date(2026, 1, 31), page_size=1) == {5: 3, 7: 1}
    calls = [params for method, params in fake.calls if method == "spaceBridge.getPostViews"]
    assert [c[1:] for c in calls] == [("bridge", SECRET, {"since": "2026-01-31", "page": 1, "per_page": 1}),
                                      ("bridge", SECRET, {"since": "2026-01-31", "page": 2, "per_page": 1})]


@responses.activate
def test_xmlrpc_site_without_the_method_says_the_mu_plugin_is_missing():
    FakeXmlRpc({"wp.getUsersBlogs": lambda *_: []})
    with pytest.raises(BridgeMetaUnavailable, match="spaceBridge.getPostViews"):
        xmlrpc_client().post_views()


@responses.activate
def test_xmlrpc_not_allowed_is_a_permission_error_and_bad_login_an_auth_error():
    def refuse(*_):
        raise xmlrpc.client.Fault(401, "Sorry, you are not allowed to do that.")

    FakeXmlRpc({"spaceBridge.getPostViews": refuse})
    with pytest.raises(WordPressPermissionError):
        xmlrpc_client().post_views()

    responses.reset()

    def bad_login(*_):
        raise xmlrpc.client.Fault(403, "Incorrect username or password.")

    FakeXmlRpc({"spaceBridge.getPostViews": bad_login, "wp.getUsersBlogs": bad_login})
    with pytest.raises(WordPressAuthError) as caught:
        xmlrpc_client().post_views()
    assert SECRET not in str(caught.value)


@responses.activate
def test_xmlrpc_malformed_answer_is_a_wordpress_error():
    FakeXmlRpc({"spaceBridge.getPostViews": lambda *_: page(1, 1, [(5, -3)])})
    with pytest.raises(WordPressError, match="view counter"):
        xmlrpc_client().post_views()


# -- the real WordPress (local stack) ------------------------------------------------------

TRANSPORTS = ["rest", "xmlrpc"]
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
WP_ROOT = "/usr/share/wordpress"


@pytest.fixture(scope="module")
def wp(stack) -> dict:
    return stack["wordpress"]


def make_client(wp: dict, transport: str) -> WordPressClient:
    password = wp["app_password"] if transport == "rest" else wp["admin_password"]
    return WordPressClient(wp["url"], wp["admin_user"], password, transport=transport, timeout=30, user_agent=UA,
                           rest_url=wp["rest_url"], xmlrpc_url=wp["xmlrpc_url"])


@pytest.fixture(scope="module")
def clients(wp):
    made = {t: make_client(wp, t) for t in TRANSPORTS}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def posts(wp, clients):
    """Creates posts for a test and deletes them for good afterwards (their counts with them)."""
    made: list[int] = []

    def create(status: str = "publish") -> tuple[int, str]:
        post = clients["rest"].create_post(f"Counted {uuid.uuid4().hex[:8]}", "<p>Read me.</p>", status=status)
        made.append(post.id)
        return post.id, post.permalink

    yield create
    for post_id in made:
        requests.delete(f"{wp['rest_url']}/wp/v2/posts/{post_id}", params={"force": "true"},
                        auth=(wp["admin_user"], wp["app_password"]), timeout=30)


def reader() -> requests.Session:
    s = requests.Session()
    s.headers["User-Agent"] = BROWSER_UA
    return s


def since_yesterday() -> date:
    return datetime.now(timezone.utc).date() - timedelta(days=1)


def views_of(client: WordPressClient, post_id: int) -> int:
    return client.post_views(since=since_yesterday()).get(post_id, 0)


def wp_php(code: str) -> str:
    """Run PHP inside the stack's WordPress (as wp_helpers.user_meta_external_id does)."""
    boot = ("define('WP_USE_THEMES', false); $_SERVER['HTTP_HOST']='127.0.0.1'; "
            f"require '{WP_ROOT}/wp-load.php'; ")
    out = subprocess.run(["php", "-r", boot + code], capture_output=True, text=True, timeout=60, check=True).stdout
    return out.strip().splitlines()[-1] if out.strip() else ""


@pytest.mark.stack
def test_a_readers_view_counts_once_and_sets_no_cookie(clients, posts):
    post_id, link = posts()
    r = reader().get(link, timeout=30)
    assert r.status_code == 200 and "Read me." in r.text
    assert "Set-Cookie" not in r.headers, r.headers.get("Set-Cookie")
    for transport in TRANSPORTS:
        assert views_of(clients[transport], post_id) == 1, transport
    reader().get(link, timeout=30)
    assert views_of(clients["rest"], post_id) == 2


@pytest.mark.stack
def test_previews_head_robots_feeds_and_editors_are_not_views(wp, clients, posts):
    post_id, link = posts()
    draft_id, draft_link = posts("draft")
    anonymous = reader()
    assert anonymous.head(link, timeout=30).status_code == 200
    assert anonymous.get(link, params={"preview": "true"}, timeout=30).status_code == 200
    assert anonymous.get(f"{link.rstrip('/')}/feed/", timeout=30).status_code == 200
    assert requests.get(link, headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}, timeout=30).ok
    assert requests.get(link, headers={"User-Agent": BROWSER_UA, "Sec-Purpose": "prefetch"}, timeout=30).ok
    assert anonymous.get(f"{wp['url']}/?p={draft_id}", timeout=30).status_code == 404
    # The administrator, logged in with the password form, reads the post and previews the draft.
    editor = reader()
    editor.get(f"{wp['url']}/wp-login.php", timeout=30)  # sets WordPress's test cookie
    r = editor.post(f"{wp['url']}/wp-login.php", data={"log": wp["admin_user"], "pwd": wp["admin_password"],
                                                       "testcookie": "1", "redirect_to": link}, timeout=30)
    assert r.status_code == 200 and "Read me." in r.text and editor.cookies, "the password login failed"
    assert editor.get(f"{wp['url']}/?p={draft_id}&preview=true", timeout=30).status_code == 200
    assert views_of(clients["rest"], post_id) == 0
    assert views_of(clients["rest"], draft_id) == 0
    anonymous.get(link, timeout=30)  # and a reader's view still counts
    assert views_of(clients["rest"], post_id) == 1


@pytest.mark.stack
def test_the_table_holds_post_day_and_count_only(posts):
    reader().get(posts()[1], timeout=30)  # the table is made on the first view
    columns = json.loads(wp_php("global $wpdb; echo json_encode($wpdb->get_col("
                                "\"SHOW COLUMNS FROM {$wpdb->prefix}space_bridge_views\"));"))
    assert columns == ["post_id", "day", "views"]


@pytest.mark.stack
def test_days_past_the_retention_are_pruned_by_the_daily_event(clients, posts):
    post_id, link = posts()
    reader().get(link, timeout=30)
    old = (datetime.now(timezone.utc).date() - timedelta(days=401)).isoformat()
    wp_php("global $wpdb; $wpdb->query($wpdb->prepare(\"INSERT INTO {$wpdb->prefix}space_bridge_views "
           f"(post_id, day, views) VALUES (%d, %s, 7)\", {post_id}, '{old}')); echo 'ok';")
    assert clients["rest"].post_views()[post_id] == 8
    assert wp_php("echo wp_next_scheduled('space_bridge_views_prune') ? 'scheduled' : 'not';") == "scheduled"
    wp_php("do_action('space_bridge_views_prune'); echo 'ok';")
    assert clients["rest"].post_views()[post_id] == 1


@pytest.mark.stack
def test_only_the_bridges_account_reads_the_counts(wp, clients, posts):
    post_id, link = posts()
    reader().get(link, timeout=30)
    anonymous = requests.get(f"{wp['rest_url']}/space-bridge/v1/views", timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "rest_forbidden"
    assert str(post_id) not in anonymous.text
    wrong = requests.get(f"{wp['rest_url']}/space-bridge/v1/views", auth=(wp["admin_user"], "not-the-password"), timeout=30)
    assert wrong.status_code == 401
    answer = requests.get(f"{wp['rest_url']}/space-bridge/v1/views", params={"per_page": 500},
                          auth=(wp["admin_user"], wp["app_password"]), timeout=30)
    assert answer.status_code == 200
    assert {"post_id": post_id, "views": 1} in answer.json()["views"]
    assert requests.get(f"{wp['rest_url']}/space-bridge/v1/views", params={"since": "2026-02-30"},
                        auth=(wp["admin_user"], wp["app_password"]), timeout=30).status_code == 400


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_post_views_pages_through_the_real_counter(clients, posts, transport):
    made = [posts() for _ in range(3)]
    for _, link in made:
        reader().get(link, timeout=30)
    found = clients[transport].post_views(since=since_yesterday(), page_size=1)
    assert {post_id: found.get(post_id) for post_id, _ in made} == {post_id: 1 for post_id, _ in made}
