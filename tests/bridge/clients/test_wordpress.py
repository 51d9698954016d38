"""WordPress client: unit tests against recorded HTTP (responses), then integration tests
against the real WordPress of the local stack (``-m stack``), over both transports."""

from __future__ import annotations

import json
import time
import uuid
import xmlrpc.client
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from bridge.clients.wordpress import (
    META_FIELDS,
    Author,
    BridgeMeta,
    BridgeMetaUnavailable,
    PostNotFound,
    WordPressAuthError,
    WordPressClient,
    WordPressError,
    WordPressPermissionError,
    WordPressUnavailable,
)

SITE = "https://wp.example.test"
REST = f"{SITE}/wp-json/wp/v2"
XMLRPC = f"{SITE}/xmlrpc.php"
SECRET = "s3cr3t Pass w0rd XyZ1"
UA = "space-bridge-tests/1.0 (+https://example.test/contact)"


def _all_meta(**values: str) -> dict[str, str]:
    meta = {f"_space_bridge_{name}": "" for name in META_FIELDS}
    meta.update({f"_space_bridge_{k}": v for k, v in values.items()})
    return meta


def rest_post(post_id: int, modified: str, **overrides) -> dict:
    data = {
        "id": post_id,
        "date_gmt": modified,
        "modified_gmt": modified,
        "status": "publish",
        "link": f"{SITE}/?p={post_id}",
        "title": {"rendered": f"Post &#8220;{post_id}&#8221; &amp; co"},
        "content": {"rendered": "<p>Body</p>\n", "protected": False},
        "excerpt": {"rendered": "<p>Body</p>\n", "protected": False},
        "author": 3,
        "categories": [1],
        "tags": [],
        "meta": _all_meta(),
        "_embedded": {
            "author": [{"id": 3, "name": "Ada Editor", "slug": "ada"}],
            "wp:term": [
                [{"id": 1, "taxonomy": "category", "slug": "news", "name": "News"}],
                [{"id": 9, "taxonomy": "post_tag", "slug": "wiki", "name": "Wiki"}],
            ],
        },
    }
    data.update(overrides)
    return data


def rest_login() -> None:
    """The client checks its Application Password once (GET users/me) before anything else."""
    responses.get(f"{REST}/users/me", json={"id": 2, "name": "Space Bridge"})


def post_calls() -> list:
    return [c for c in responses.calls if "/users/me" not in c.request.url]


def rest_client(**kwargs) -> WordPressClient:
    return WordPressClient(SITE, "bridge", SECRET, timeout=7.5, user_agent=UA, **kwargs)


def assert_secret_free(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), repr(exc.args), str(exc.__context__), str(exc.__cause__)):
        assert SECRET not in text
        assert SECRET.replace(" ", "") not in text


# -- REST, unit ----------------------------------------------------------------------------


@responses.activate
def test_rest_get_post_maps_fields_and_sends_ua_timeout_and_app_password():
    rest_login()
    responses.get(
        f"{REST}/posts/5",
        json=rest_post(5, "2024-03-01T10:20:30", meta=_all_meta(topic_id="77", replies='[{"u":"x"}]',
                                                                  synced_at="2024-03-01T10:20:31Z")),
    )
    post = rest_client().get_post(5)

    assert post.title == "Post \u201c5\u201d & co"
    assert post.modified == datetime(2024, 3, 1, 10, 20, 30, tzinfo=timezone.utc)
    assert (post.categories, post.category_names, post.tags) == (("news",), ("News",), ("wiki",))
    assert (post.author.id, post.author.name) == (3, "Ada Editor")
    assert post.meta == BridgeMeta(topic_id=77, replies=[{"u": "x"}],
                                   synced_at=datetime(2024, 3, 1, 10, 20, 31, tzinfo=timezone.utc))
    for call in responses.calls:
        assert call.request.headers["User-Agent"] == UA
        assert call.request.headers["Authorization"].startswith("Basic ")
        assert call.request.req_kwargs["timeout"] == 7.5
    request = post_calls()[0].request
    assert parse_qs(urlsplit(request.url).query)["_embed"] == ["author,wp:term"]


@responses.activate
def test_language_comes_from_a_lang_field_or_a_language_taxonomy():
    rest_login()
    with_field = rest_post(5, "2024-03-01T10:20:30", lang="fr")
    with_term = rest_post(6, "2024-03-01T10:20:30")
    with_term["_embedded"]["wp:term"].append([{"id": 4, "taxonomy": "language", "slug": "de", "name": "Deutsch"}])
    responses.get(f"{REST}/posts/5", json=with_field)
    responses.get(f"{REST}/posts/6", json=with_term)
    responses.get(f"{REST}/posts/7", json=rest_post(7, "2024-03-01T10:20:30"))
    client = rest_client()
    assert [client.get_post(n).language for n in (5, 6, 7)] == ["fr", "de", None]


@responses.activate
def test_rest_refused_app_password_is_auth_error_before_any_other_request():
    # WordPress 6.1 serves public routes anonymously despite a wrong Application Password,
    # so the client asks users/me first; that answers 401 rest_not_logged_in.
    responses.get(f"{REST}/users/me", status=401,
                  json={"code": "rest_not_logged_in", "message": "You are not currently logged in.",
                        "data": {"status": 401}})
    responses.get(f"{REST}/posts/5", json=rest_post(5, "2024-03-01T10:20:30"))
    with pytest.raises(WordPressAuthError) as caught:
        rest_client().get_post(5)
    assert caught.value.code == "rest_not_logged_in"
    assert caught.value.status == 401
    assert "Application Password" in str(caught.value)
    assert not caught.value.retryable
    assert post_calls() == []
    assert_secret_free(caught.value)


@responses.activate
def test_rest_401_later_is_auth_error_with_wordpress_code_and_no_password():
    rest_login()
    responses.post(
        f"{REST}/posts",
        status=401,
        json={"code": "rest_cannot_create", "message": "Sorry, you are not allowed to create posts as this user.",
              "data": {"status": 401}},
    )
    with pytest.raises(WordPressAuthError) as caught:
        rest_client().create_post("t", "c")
    assert caught.value.code == "rest_cannot_create"
    assert "not allowed to create posts" in str(caught.value)
    assert_secret_free(caught.value)


@responses.activate
def test_rest_whoami_is_checked_once_per_client():
    rest_login()
    responses.get(f"{REST}/posts/5", json=rest_post(5, "2024-03-01T10:20:30"))
    c = rest_client()
    c.get_post(5)
    c.get_post(5)
    assert sum("/users/me" in call.request.url for call in responses.calls) == 1
    assert c.whoami() == Author(2, "Space Bridge")


@responses.activate
def test_rest_error_statuses_map_to_typed_errors():
    rest_login()
    responses.get(f"{REST}/posts/1", status=404, json={"code": "rest_post_invalid_id", "message": "Invalid post ID."})
    responses.get(f"{REST}/posts/2", status=403, json={"code": "rest_forbidden", "message": "Sorry, you are not allowed"})
    responses.get(f"{REST}/posts/3", status=502, body="Bad gateway")
    responses.get(f"{REST}/posts/4", status=404, json={"code": "rest_no_route", "message": "No route was found"})
    client = rest_client()
    with pytest.raises(PostNotFound):
        client.get_post(1)
    with pytest.raises(WordPressPermissionError):
        client.get_post(2)
    with pytest.raises(WordPressUnavailable) as unavailable:
        client.get_post(3)
    assert unavailable.value.retryable
    with pytest.raises(WordPressError) as no_route:
        client.get_post(4)
    assert not isinstance(no_route.value, PostNotFound)  # a wrong rest_url is not a missing post


@responses.activate
def test_rest_connection_failure_is_retryable_and_secret_free():
    responses.get(f"{REST}/posts/5", body=requests.ConnectionError(f"refused while sending {SECRET}"))
    with pytest.raises(WordPressUnavailable) as caught:
        rest_client().get_post(5)
    assert caught.value.retryable
    assert_secret_free(caught.value)
    assert caught.value.__context__ is None


@responses.activate
def test_rest_modified_since_pages_through_all_results_and_filters_inclusively():
    since = datetime(2024, 3, 1, 12, 0, 0, 900000, tzinfo=timezone.utc)
    pages = {
        1: [rest_post(1, "2024-03-01T11:59:59"), rest_post(2, "2024-03-01T12:00:00")],
        2: [rest_post(3, "2024-03-02T08:00:00"), rest_post(4, "2024-03-01T12:30:00")],
        3: [rest_post(5, "2024-03-01T12:00:05")],
    }

    def callback(request):
        page = int(parse_qs(urlsplit(request.url).query)["page"][0])
        return 200, {"X-WP-Total": "5", "X-WP-TotalPages": "3"}, json.dumps(pages[page])

    rest_login()
    responses.add_callback(responses.GET, f"{REST}/posts", callback=callback)
    posts = rest_client().posts_modified_since(since, statuses=("publish", "draft"), page_size=2)

    # 12:00:00.9 is floored to 12:00:00 (WordPress keeps whole seconds) and is inclusive;
    # post 1, a second earlier, is dropped; the result is ordered by modification time.
    assert [p.id for p in posts] == [2, 5, 4, 3]
    assert len(post_calls()) == 3
    for number, call in enumerate(post_calls(), start=1):
        query = parse_qs(urlsplit(call.request.url).query)
        assert query["modified_after"] == ["2024-03-01T11:59:59Z"]
        assert query["status"] == ["publish,draft"]
        assert query["per_page"] == ["2"]
        assert query["orderby"] == ["id"]
        assert query["page"] == [str(number)]


@responses.activate
def test_rest_without_mu_plugin_refuses_to_report_meta():
    rest_login()
    responses.get(f"{REST}/posts/5", json=rest_post(5, "2024-03-01T10:20:30", meta={}))
    with pytest.raises(BridgeMetaUnavailable):
        rest_client().get_post(5)


@responses.activate
def test_rest_set_meta_detects_a_write_wordpress_dropped():
    rest_login()
    responses.post(f"{SITE}/wp-json/space-bridge/v1/posts/5/meta", json=rest_post(5, "2024-03-01T10:20:30"))  # meta unchanged
    with pytest.raises(BridgeMetaUnavailable):
        rest_client().set_meta(5, topic_id=12)
    body = json.loads(post_calls()[0].request.body)
    assert body == {"meta": {"_space_bridge_topic_id": "12"}}


@responses.activate
def test_rest_set_meta_encodes_values_and_none_deletes():
    rest_login()
    stored = _all_meta(reply_count="3", replies='[{"n":"\\\\"}]', synced_at="2024-01-02T03:04:05Z")
    responses.post(f"{SITE}/wp-json/space-bridge/v1/posts/5/meta", json=rest_post(5, "2024-03-01T10:20:31", meta=stored))
    post = rest_client().set_meta(
        5, topic_id=None, reply_count=3, replies=[{"n": "\\"}],
        synced_at=datetime(2024, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1))),
    )
    body = json.loads(post_calls()[0].request.body)
    assert body["meta"] == {
        "_space_bridge_topic_id": None,
        "_space_bridge_reply_count": "3",
        "_space_bridge_replies": '[{"n":"\\\\"}]',
        "_space_bridge_synced_at": "2024-01-02T03:04:05Z",
    }
    assert post.meta.reply_count == 3 and post.meta.topic_id is None


def test_meta_arguments_are_checked_before_any_request():
    client = rest_client()
    with pytest.raises(ValueError, match="unknown bridge meta"):
        client.set_meta(1, topic=3)
    with pytest.raises(TypeError):
        client.set_meta(1, topic_id="3")
    with pytest.raises(ValueError, match="timezone-aware"):
        client.set_meta(1, synced_at=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        client.posts_modified_since(datetime(2024, 1, 1))


def test_repr_does_not_show_the_password():
    assert SECRET not in repr(rest_client())
    assert SECRET not in repr(WordPressClient(SITE, "bridge", SECRET, transport="xmlrpc"))


# -- XML-RPC, unit -------------------------------------------------------------------------


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
            result = [*self.handlers, "wp.getUsersBlogs", "wp.getAuthors"]
        else:
            try:
                result = self.handlers[method](*params)
            except xmlrpc.client.Fault as fault:
                return 200, {"Content-Type": "text/xml"}, xmlrpc.client.dumps(fault, methodresponse=True)
        return 200, {"Content-Type": "text/xml"}, xmlrpc.client.dumps((result,), methodresponse=True, allow_none=True)

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls if m != "mt.supportedMethods"]


def xmlrpc_post(post_id: int, modified: str, custom_fields=(), status="publish") -> dict:
    return {
        "post_id": str(post_id),
        "post_title": "raw",
        "post_status": status,
        "post_author": "3",
        "post_modified_gmt": xmlrpc.client.DateTime(modified),
        "link": f"{SITE}/?p={post_id}",
        "terms": [{"term_id": "1", "taxonomy": "category", "slug": "news", "name": "News"}],
        "custom_fields": list(custom_fields),
        "space_bridge": {"version": "0.1.0", "status": status, "title": f"Post {post_id}",
                         "content": "<p>Body</p>\n", "excerpt": "<p>Body</p>\n"},
    }


def xmlrpc_client() -> WordPressClient:
    return WordPressClient(SITE, "bridge", SECRET, transport="xmlrpc", timeout=7.5, user_agent=UA)


def authors(*_):
    return [{"user_id": "3", "user_login": "ada", "display_name": "Ada Editor"}]


@responses.activate
def test_xmlrpc_bad_credentials_is_auth_error_without_password():
    def refuse(*_):
        raise xmlrpc.client.Fault(403, "Incorrect username or password.")

    fake = FakeXmlRpc({"wp.getPost": refuse, "wp.getUsersBlogs": refuse})
    with pytest.raises(WordPressAuthError) as caught:
        xmlrpc_client().get_post(5)
    assert caught.value.code == 403
    assert "Incorrect username or password" in str(caught.value)
    assert_secret_free(caught.value)
    assert fake.methods() == ["wp.getPost", "wp.getUsersBlogs"]
    assert responses.calls[0].request.headers["User-Agent"] == UA
    assert responses.calls[0].request.req_kwargs["timeout"] == 7.5


@responses.activate
def test_xmlrpc_other_403_faults_are_not_mistaken_for_bad_credentials():
    def invalid_term(*_):
        raise xmlrpc.client.Fault(403, "Invalid term ID.")

    fake = FakeXmlRpc({"wp.editPost": invalid_term, "wp.getUsersBlogs": lambda *_: []})
    with pytest.raises(WordPressError) as caught:
        xmlrpc_client().update_post(5, title="New title")
    assert type(caught.value) is WordPressError  # not WordPressAuthError: the login works
    assert fake.methods() == ["wp.editPost", "wp.getUsersBlogs"]
    assert "Invalid term ID." in str(caught.value)


@responses.activate
def test_xmlrpc_missing_post_is_post_not_found():
    def missing(*_):
        raise xmlrpc.client.Fault(404, "Invalid post ID.")

    FakeXmlRpc({"wp.getPost": missing})
    with pytest.raises(PostNotFound):
        xmlrpc_client().get_post(999)


@responses.activate
def test_xmlrpc_modified_since_pages_newest_first_and_stops_at_the_first_older_post():
    since = datetime(2024, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    batches = [
        [xmlrpc_post(9, "20240302T08:00:00"), xmlrpc_post(8, "20240301T12:30:00")],
        [xmlrpc_post(7, "20240301T12:00:00"), xmlrpc_post(6, "20240301T11:59:59")],
        [xmlrpc_post(5, "20240301T11:00:00"), xmlrpc_post(4, "20240301T10:00:00")],
    ]
    filters = []

    def get_posts(blog, user, password, filter_):
        filters.append(filter_)
        return batches[filter_["offset"] // filter_["number"]]

    FakeXmlRpc({"wp.getPosts": get_posts, "wp.getAuthors": authors})
    posts = xmlrpc_client().posts_modified_since(since, page_size=2)

    assert [p.id for p in posts] == [7, 8, 9]
    assert [f["offset"] for f in filters] == [0, 2]  # the third page is never asked for
    assert filters[0]["orderby"] == "modified ID" and filters[0]["order"] == "DESC"
    assert filters[0]["post_status"] == ["publish"]


@responses.activate
def test_xmlrpc_set_meta_writes_the_meta_alone_and_never_saves_the_post():
    """wp.editPost would save the whole post (and could undo an editor's concurrent change): the
    mu-plugin's spaceBridge.setPostMeta writes the meta alone; "" deletes."""
    after = [{"id": "11", "key": "_space_bridge_topic_id", "value": "6"},
             {"id": "20", "key": "_space_bridge_reply_count", "value": "2"}]
    calls = []

    def set_meta(blog, user, password, post_id, meta):
        calls.append((post_id, meta))
        return xmlrpc_post(5, "20240301T12:00:00", after)

    FakeXmlRpc({"spaceBridge.setPostMeta": set_meta, "wp.getAuthors": authors,
                "wp.editPost": lambda *_: pytest.fail("wp.editPost saves the whole post")})
    post = xmlrpc_client().set_meta(5, topic_id=6, topic_url=None, reply_count=2)

    assert calls == [(5, {"_space_bridge_topic_id": "6", "_space_bridge_topic_url": "",
                          "_space_bridge_reply_count": "2"})]
    assert post.meta == BridgeMeta(topic_id=6, reply_count=2)


@responses.activate
def test_xmlrpc_trashing_a_trashed_post_does_not_delete_it_for_good():
    fake = FakeXmlRpc({"wp.getPost": lambda *_: xmlrpc_post(5, "20240301T12:00:00", status="trash"),
                       "wp.deletePost": lambda *_: True})
    xmlrpc_client().trash_post(5)
    assert "wp.deletePost" not in fake.methods()


@responses.activate
def test_xmlrpc_without_mu_plugin_refuses_to_report_meta():
    bare = xmlrpc_post(5, "20240301T12:00:00")
    del bare["space_bridge"]
    FakeXmlRpc({"wp.getPost": lambda *_: bare, "wp.getAuthors": authors})
    with pytest.raises(BridgeMetaUnavailable):
        xmlrpc_client().get_post(5)


@responses.activate
def test_xmlrpc_post_maps_fields_like_rest():
    raw = xmlrpc_post(5, "20240301T10:20:30", [{"id": "3", "key": "_space_bridge_topic_id", "value": "77"}])
    raw["terms"].append({"term_id": "4", "taxonomy": "language", "slug": "de", "name": "Deutsch"})
    raw["terms"].append({"term_id": "9", "taxonomy": "post_tag", "slug": "wiki", "name": "Wiki"})
    FakeXmlRpc({"wp.getPost": lambda *_: raw, "wp.getAuthors": authors})
    post = xmlrpc_client().get_post(5)
    assert post.title == "Post 5"  # the mu-plugin's rendered title, not the raw one
    assert post.modified == datetime(2024, 3, 1, 10, 20, 30, tzinfo=timezone.utc)
    assert (post.categories, post.category_names, post.tags) == (("news",), ("News",), ("wiki",))
    assert post.author.name == "Ada Editor"
    assert post.language == "de"
    assert post.meta == BridgeMeta(topic_id=77)


@responses.activate
def test_xmlrpc_non_xml_answer_is_a_wordpress_error():
    responses.post(XMLRPC, body="<html>Maintenance</html>", status=200)
    with pytest.raises(WordPressError, match="did not answer XML-RPC"):
        xmlrpc_client().get_post(5)


# -- the real WordPress (local stack) ------------------------------------------------------

TRANSPORTS = ["rest", "xmlrpc"]


@pytest.fixture(scope="module")
def wp_stack(stack) -> dict:
    return stack["wordpress"]


def make_client(wp: dict, transport: str, password: str | None = None) -> WordPressClient:
    if password is None:
        password = wp["app_password"] if transport == "rest" else wp["admin_password"]
    return WordPressClient(
        wp["url"], wp["admin_user"], password, transport=transport, timeout=30, user_agent=UA,
        rest_url=wp["rest_url"], xmlrpc_url=wp["xmlrpc_url"],
    )


@pytest.fixture(scope="module")
def clients(wp_stack):
    made = {t: make_client(wp_stack, t) for t in TRANSPORTS}
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def created(clients):
    """Ids of posts a test creates; trashed afterwards."""
    ids: list[int] = []
    yield ids
    for post_id in ids:
        try:
            clients["rest"].trash_post(post_id)
        except WordPressError:
            pass


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


def wait_for_next_second(after: datetime) -> None:
    """WordPress keeps modification times to the second."""
    while datetime.now(timezone.utc).replace(microsecond=0) <= after:
        time.sleep(0.1)


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_create_edit_and_trash_a_post(clients, created, transport):
    client = clients[transport]
    title = unique("Bridge & test")
    started = datetime.now(timezone.utc)
    post = client.create_post(
        title,
        "<!-- wp:paragraph -->\n<p>Hello <strong>Space</strong></p>\n<!-- /wp:paragraph -->",
        status="draft",
        categories=["space-bridge-test"],
        tags=["bridge-tag", "another-tag"],
    )
    created.append(post.id)

    fetched = client.get_post(post.id)
    assert fetched == post
    assert fetched.title == title  # plain text: the "&" is not an entity
    assert fetched.status == "draft"
    assert "<p>Hello <strong>Space</strong></p>" in fetched.content
    assert "<!-- wp:" not in fetched.content  # rendered, not the raw block markup
    assert "Hello" in fetched.excerpt  # generated from the content
    assert fetched.categories == ("space-bridge-test",)
    assert fetched.tags == ("another-tag", "bridge-tag")
    assert fetched.author == client.whoami()  # the account we log in as wrote it
    assert fetched.author.name
    assert fetched.permalink.startswith(clients[transport].url)
    assert fetched.modified.tzinfo is timezone.utc
    assert abs(fetched.modified - started) < timedelta(minutes=2)
    assert fetched.language is None
    assert fetched.meta == BridgeMeta()

    wait_for_next_second(fetched.modified)
    edited = client.update_post(post.id, title=title + " (edited)", status="publish", categories=["news-bridge"])
    assert edited.title == title + " (edited)"
    assert edited.status == "publish"
    assert edited.categories == ("news-bridge",)
    assert edited.tags == ("another-tag", "bridge-tag")  # untouched
    assert edited.modified > fetched.modified
    assert client.get_post(post.id) == edited

    client.trash_post(post.id)
    client.trash_post(post.id)  # again: still in the trash, not deleted for good
    assert client.get_post(post.id).status == "trash"


@pytest.mark.stack
def test_both_transports_read_a_post_identically(clients, created):
    post = clients["xmlrpc"].create_post(
        unique("Parity \u201cquotes\u201d & 'ticks'"),
        "<!-- wp:paragraph -->\n<p>One -- two... \"three\"</p>\n<!-- /wp:paragraph -->\n\nplain paragraph",
        status="publish",
        categories=["space-bridge-test", "news-bridge"],
        tags=["bridge-tag"],
        excerpt="A hand-written excerpt",
        meta={"topic_id": 41, "topic_url": "https://discourse.example/t/41", "reply_count": 2,
              "replies": [{"user": "ada", "cooked": "<p>Nice \u00e9 \\ \"quoted\"</p>"}],
              "synced_at": datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)},
    )
    created.append(post.id)

    via_rest = clients["rest"].get_post(post.id)
    via_xmlrpc = clients["xmlrpc"].get_post(post.id)
    assert via_rest == via_xmlrpc == post
    assert via_rest.excerpt.startswith("<p>A hand-written excerpt")
    assert via_rest.meta.replies == [{"user": "ada", "cooked": "<p>Nice \u00e9 \\ \"quoted\"</p>"}]


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_posts_modified_since_finds_new_posts_and_not_older_ones(clients, created, transport):
    client = clients[transport]
    older = client.create_post(unique("Older"), "<p>old</p>", status="publish")
    created.append(older.id)
    wait_for_next_second(older.modified)
    new = []
    for n in range(3):
        new.append(client.create_post(unique(f"Newer {n}"), "<p>new</p>", status="publish"))
        created.append(new[-1].id)
    draft = client.create_post(unique("Newer draft"), "<p>draft</p>", status="draft")
    created.append(draft.id)
    since = new[0].modified

    # page_size=2 makes the client page through at least two pages.
    published = client.posts_modified_since(since, page_size=2)
    ids = [p.id for p in published]
    assert {p.id for p in new} <= set(ids)
    assert older.id not in ids
    assert draft.id not in ids
    assert len(ids) == len(set(ids))
    assert all(p.modified >= since and p.status == "publish" for p in published)
    assert [p.modified for p in published] == sorted(p.modified for p in published)

    with_drafts = {p.id for p in client.posts_modified_since(since, statuses=("publish", "draft"), page_size=2)}
    assert draft.id in with_drafts and older.id not in with_drafts


@pytest.mark.stack
@pytest.mark.parametrize(("writer", "reader"), [("rest", "xmlrpc"), ("xmlrpc", "rest")])
def test_bridge_meta_round_trips_across_transports(clients, created, writer, reader):
    post = clients["rest"].create_post(unique("Meta"), "<p>meta</p>", status="publish")
    created.append(post.id)
    synced = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    replies = [{"id": 1, "user": "ada", "cooked": "<p>caf\u00e9 \u2764 \\o/ \"hi\"</p>"}]

    clients[writer].set_meta(post.id, topic_id=101, topic_url="https://d.example/t/101",
                             reply_count=1, replies=replies, synced_at=synced)
    assert clients[reader].get_meta(post.id) == BridgeMeta(
        topic_id=101, topic_url="https://d.example/t/101", reply_count=1, replies=replies, synced_at=synced
    )

    # A second write replaces the values (over XML-RPC a naive write would add a second row,
    # and the REST API would keep reporting the first).
    written = clients[writer].set_meta(post.id, reply_count=2, replies=replies * 2)
    assert written.meta.reply_count == 2
    assert clients[reader].get_meta(post.id).reply_count == 2
    assert clients[reader].get_meta(post.id).replies == replies * 2

    # None deletes a field and leaves the others.
    clients[writer].set_meta(post.id, topic_url=None)
    seen = clients[reader].get_meta(post.id)
    assert seen.topic_url is None and seen.topic_id == 101

    # And the other way round, on the same post.
    clients[reader].set_meta(post.id, topic_id=102)
    assert clients[writer].get_meta(post.id).topic_id == 102
    assert clients[writer].get_meta(post.id).reply_count == 2


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_writing_meta_leaves_the_post_as_the_editor_left_it(clients, created, transport):
    """The meta is written alone: the post is not saved again, so an editor's change made just
    before (here: unpublished) stands, and the post's modified time is the editor's."""
    post = clients[transport].create_post(unique("Meta alone"), "<p>x</p>", status="publish")
    created.append(post.id)
    edited = clients["rest"].update_post(post.id, status="private", title=unique("Edited"))
    wait_for_next_second(edited.modified)
    after = clients[transport].set_meta(post.id, synced_at=datetime.now(timezone.utc), topic_id=5)
    assert after.meta.topic_id == 5
    now = clients[transport].get_post(post.id)
    assert (now.status, now.title, now.modified) == ("private", edited.title, edited.modified)


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_missing_post_is_post_not_found(clients, transport):
    with pytest.raises(PostNotFound):
        clients[transport].get_post(987654321)


@pytest.mark.stack
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_wrong_password_is_auth_error_and_secret_free(wp_stack, transport):
    wrong = "wrong Pass 1234 abcd " + uuid.uuid4().hex[:6]
    client = make_client(wp_stack, transport, password=wrong)
    with pytest.raises(WordPressAuthError) as caught:
        client.get_post(1)
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.args)
    with pytest.raises(WordPressAuthError):
        client.create_post(unique("never"), "<p>never</p>")
