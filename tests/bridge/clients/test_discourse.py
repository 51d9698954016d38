"""Discourse client: operations, errors, rate limits and pacing against the Discourse double
(a real HTTP server process, tests/doubles/discourse.py); client-only behaviour (retry
sequences, network errors, what goes in a URL) against recorded HTTP (responses)."""

from __future__ import annotations

import base64
import logging
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from bridge.clients import user_agent
from bridge.clients.discourse import (
    ROUTES,
    DiscourseAuthError,
    DiscourseClient,
    DiscourseRateLimited,
    DiscourseUnavailable,
    DiscourseValidationError,
    NotFound,
    Pacer,
    SlotTooFar,
    UnlistedRoute,
    outbox_failure,
    pacer_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for `doubles`
from doubles.discourse import DiscourseDouble  # noqa: E402

from bridge.clients.discourse.pacer import WINDOW_MARGIN  # noqa: E402

BODY = "A first post that is long enough for Discourse."
REPLY = "A reply that is long enough for Discourse."
CONNECT_SECRET = "connect-secret-for-the-tests"
UA = user_agent("https://example.test/space-contact")


@pytest.fixture(scope="module")
def double():
    with DiscourseDouble(config={"webhook_retry_unit_seconds": 0.05}) as forum:
        yield forum


@pytest.fixture
def forum(double):
    double.reset()
    double.set_rate_limit(100000, 60)
    yield double


class Counter:
    """Counts the HTTP requests the client really sends (and their statuses)."""

    def __init__(self, monkeypatch):
        self.sent: list[tuple[str, str, int]] = []
        real = requests.Session.request

        def request(session, method, url, *a, **kw):
            resp = real(session, method, url, *a, **kw)
            if not urlsplit(url).path.startswith("/__double__/"):  # the test's own set-up calls
                self.sent.append((method, urlsplit(url).path, resp.status_code))
            return resp

        monkeypatch.setattr(requests.Session, "request", request)

    def statuses(self) -> list[int]:
        return [s for _, _, s in self.sent]


@pytest.fixture
def counter(monkeypatch):
    return Counter(monkeypatch)


def client_for(forum, *, api_key=None, rpm=100000, **kw) -> DiscourseClient:
    kw.setdefault("pacer", Pacer(rpm))
    return DiscourseClient(forum.url, api_key or forum.api_key, "system", connect_secret=CONNECT_SECRET,
                           user_agent=UA, **kw)


def enable_connect(client: DiscourseClient) -> None:
    client.set_site_setting("discourse_connect_url", "http://127.0.0.1:9/sso")
    client.set_site_setting("discourse_connect_secret", CONNECT_SECRET)
    client.set_site_setting("enable_discourse_connect", True)


# -- operations round trip --------------------------------------------------------------------------
def test_topics_posts_and_categories_round_trip(forum):
    with client_for(forum) as client:
        news = client.create_category("Space news", slug="space-news", color="49d9e9", text_color="F0FCFD")
        assert (news.name, news.slug, news.color) == ("Space news", "space-news", "49d9e9")
        assert client.category_by_slug("space-news") == news
        assert [c.slug for c in client.categories()] == ["uncategorized", "space-news"]

        post = client.create_topic("Mirrored from the Space blog", BODY, category="space-news",
                                   tags=["Wiki Loves", "events"], external_id="news-42",
                                   embed_url="https://space.example/2026/11/mirrored",
                                   created_at=datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc))
        assert (post.post_number, post.raw, post.username) == (1, BODY, "system")
        assert post.url == f"{forum.url}/t/mirrored-from-the-space-blog/{post.topic_id}/1"
        assert post.topic_url == f"{forum.url}/t/mirrored-from-the-space-blog/{post.topic_id}"

        topic = client.get_topic(post.topic_id)
        assert (topic.title, topic.category_id, topic.tags) == ("Mirrored from the Space blog", news.id,
                                                                 ("wiki-loves", "events"))
        assert (topic.visible, topic.first_post_id, topic.posts_count) == (True, post.id, 1)
        assert topic.created_at.startswith("2026-11-01T12:00:00")
        assert client.get_topic_by_external_id("news-42") == topic
        assert client.get_topic_by_external_id("news-43") is None
        assert client.get_topic(999999) is None

        edited = client.update_first_post(post.topic_id, "The edited text of the first post.", edit_reason="sync")
        assert (edited.id, edited.raw) == (post.id, "The edited text of the first post.")
        assert client.get_post(post.id).raw == "The edited text of the first post."
        assert client.get_post(999999) is None

        client.update_topic(post.topic_id, title="Mirrored from the Space blog, renamed", category=1, tags=["space"])
        topic = client.get_topic(post.topic_id)
        assert (topic.title, topic.category_id, topic.tags) == ("Mirrored from the Space blog, renamed", 1, ("space",))
        client.update_topic(post.topic_id, tags=[])
        assert client.get_topic(post.topic_id).tags == ()
        client.update_topic(post.topic_id)  # nothing to change: nothing sent

        client.set_visible(post.topic_id, False)
        assert client.get_topic(post.topic_id).visible is False
        anon = forum.request("GET", "/latest.json", auth=False).json()["topic_list"]["topics"]
        assert post.topic_id not in [t["id"] for t in anon]
        client.set_visible(post.topic_id, True)
        assert client.get_topic(post.topic_id).visible is True

        reply = client.create_reply(post.topic_id, REPLY)
        assert (reply.topic_id, reply.post_number, reply.raw) == (post.topic_id, 2, REPLY)
        assert client.get_topic(post.topic_id).posts_count == 2
    assert forum.violations() == []


def test_topic_created_as_its_author_with_a_global_key(forum):
    global_key = forum.create_api_key(all_users=True)
    with client_for(forum, api_key=global_key) as client:
        enable_connect(client)
        author = client.sync_sso("wm-77", "ada@example.org", username="ada", name="Ada Lovelace")
        post = client.create_topic("A topic written by a member", BODY, username="ada", tags=["space"])
        assert post.username == "ada"
        assert client.get_topic(post.topic_id).tags == ("space",)  # tags set as the API user
        reply = client.create_reply(post.topic_id, REPLY, username="ada", reply_to_post_number=1)
        assert reply.username == "ada"
        assert author.username == "ada"
    assert forum.violations() == []


def test_a_member_with_a_name_in_another_script_posts_as_themself(forum):
    """Header values cannot carry محمد or Женя: the client names such a member by id."""
    global_key = forum.create_api_key(all_users=True)
    with client_for(forum, api_key=global_key) as client:
        enable_connect(client)
        client.set_site_setting("unicode_usernames", True)
        for n, name in enumerate(("Женя", "محمد", "José")):
            author = client.sync_sso(f"wm-8{n}", f"member{n}@example.org", username=name, name=name)
            assert author.username == name
            post = client.create_topic(f"A topic written by member number {n}", BODY, username=name)
            assert post.username == name
            assert client.create_reply(post.topic_id, REPLY, username=name).username == name
    assert forum.violations() == []


def test_users_site_settings_and_web_hooks(forum):
    with client_for(forum) as client:
        enable_connect(client)
        settings = client.site_settings()
        assert settings["enable_discourse_connect"].value == "true"
        assert settings["discourse_connect_url"].value == "http://127.0.0.1:9/sso"
        secret = settings["discourse_connect_secret"]
        # Discourse marks it `secret: true` (lib/site_setting_extension.rb all_settings); the
        # double's listing leaves the flag out, so only the value is checked here.
        assert secret.value == CONNECT_SECRET
        assert CONNECT_SECRET not in repr(secret) and CONNECT_SECRET not in repr(settings)

        user = client.sync_sso("wm-5", "grace@example.org", username="grace", name="Grace H.",
                               suppress_welcome_message=True)
        assert (user.username, user.name, user.external_id, user.admin) == ("grace", "Grace H.", "wm-5", False)
        again = client.sync_sso("wm-5", "grace@example.org", username="grace", name="Grace Hopper")
        assert again.id == user.id
        found = client.user_by_external_id("wm-5")
        assert (found.id, found.username, found.external_id) == (user.id, "grace", "wm-5")
        assert client.user_by_external_id("wm-404") is None

        client.log_out_user(user.id)
        client.suspend_user(user.id, datetime.now(timezone.utc) + timedelta(days=3), "spam",
                            message="Your account is suspended.")
        state = forum.state()["users"][str(user.id)]
        assert state["suspended_till"].startswith(str((datetime.now(timezone.utc) + timedelta(days=3)).date()))
        assert state["suspend_reason"] == "spam"
        with pytest.raises(NotFound):
            client.log_out_user(999999)

        hooks = client.web_hooks()
        assert hooks.hooks == ()
        names = {t.name: t.id for t in hooks.event_types}
        created = client.create_web_hook("http://127.0.0.1:9/webhooks/discourse", secret="web-hook-secret-1",
                                         event_type_ids=[names["topic_created"], names["post_created"]])
        assert created.event_type_names == ("post_created", "topic_created")
        assert (created.active, created.content_type, created.secret) == (True, 1, "web-hook-secret-1")
        assert "web-hook-secret-1" not in repr(created)
        updated = client.update_web_hook(created.id, active=False, event_type_ids=[names["post_edited"]])
        assert (updated.active, updated.event_type_names) == (False, ("post_edited",))
        assert client.web_hooks().hooks == (updated,)
        with pytest.raises(DiscourseValidationError, match="Secret is too short"):
            client.create_web_hook("http://127.0.0.1:9/other", secret="short", event_type_ids=[names["post_created"]])
    assert forum.violations() == []


def test_whoami_and_user_agent(forum):
    with client_for(forum) as client:
        me = client.whoami()
        assert (me.username, me.admin) == ("system", True)
        assert client._session().headers["User-Agent"] == UA
        assert UA.startswith("space-bridge/")


def test_api_user_must_be_named_in_ascii(forum):
    # acting as a non-ASCII member looks its id up as the API user, who must go by name
    with pytest.raises(ValueError, match="API username must be ASCII"):
        DiscourseClient(forum.url, forum.api_key, api_username="محمد")


# -- errors -----------------------------------------------------------------------------------------
def test_title_too_short_is_a_typed_error_with_discourses_message_and_not_retried(forum, counter):
    with client_for(forum, sleep=lambda s: pytest.fail("nothing may be retried")) as client:
        with pytest.raises(DiscourseValidationError) as info:
            client.create_topic("Too short", BODY)
    err = info.value
    assert err.status == 422 and err.operation == "create_post" and not err.retryable
    assert "Title is too short (minimum is 15 characters)" in err.errors
    assert "Title is too short (minimum is 15 characters)" in str(err)
    assert counter.sent == [("POST", "/posts.json", 422)]
    assert isinstance(outbox_failure(err), __import__("bridge.outbox", fromlist=["x"]).PermanentFailure)


def test_other_refusals(forum):
    with client_for(forum) as client:
        client.create_topic("A topic with an external id", BODY, external_id="news-1")
        with pytest.raises(DiscourseValidationError) as info:
            client.create_topic("Another topic, same external id", BODY, external_id="news-1")
        assert info.value.errors == ("External has already been taken",)
        with pytest.raises(NotFound, match="no Discourse category with the slug 'nowhere'"):
            client.create_topic("A topic in no known category", BODY, category="nowhere")
        with pytest.raises(DiscourseValidationError) as info:
            client.create_topic("A topic in an unknown category id", BODY, category=999)
        assert info.value.status == 400
        with pytest.raises(NotFound):
            client.update_post(999999, "Text that does not matter at all.")


def test_wrong_key_is_an_auth_error_without_the_key(forum, counter, caplog):
    wrong = "wrong-key-0123456789abcdef-SECRETVALUE"
    caplog.set_level(logging.DEBUG)
    with client_for(forum, api_key=wrong) as client:
        with pytest.raises(DiscourseAuthError) as info:
            client.get_topic(1)
        assert "The API username or key is invalid" in str(info.value)
        assert info.value.status == 403 and not info.value.retryable
        for text in (str(info.value), repr(info.value), repr(client), repr(client._api), str(vars(client._api)),
                     caplog.text):
            assert wrong not in text
    assert counter.statuses() == [403]


def test_secrets_are_absent_from_every_error_text(forum, caplog):
    caplog.set_level(logging.DEBUG)
    with client_for(forum) as client:
        enable_connect(client)
        errors = []
        for call in (lambda: client.create_topic("Too short", BODY),
                     lambda: client.update_post(999999, "Text that does not matter at all."),
                     lambda: client.sync_sso("", "nobody@example.org")):
            with pytest.raises(Exception) as info:
                call()
            errors.append(info.value)
    with DiscourseClient("http://127.0.0.1:9", forum.api_key, connect_secret=CONNECT_SECRET, pacer=Pacer(100000),
                         max_retries=1, sleep=lambda s: None) as offline:
        with pytest.raises(DiscourseUnavailable) as info:
            offline.get_topic(1)
        errors.append(info.value)
        assert info.value.retryable and not info.value.maybe_applied  # never connected
    for err in errors:
        for text in (str(err), repr(err), " ".join(map(str, err.args))):
            assert forum.api_key not in text and CONNECT_SECRET not in text
    assert forum.api_key not in caplog.text and CONNECT_SECRET not in caplog.text


def test_unlisted_route_is_refused_before_sending(forum, counter):
    with client_for(forum) as client:
        with pytest.raises(UnlistedRoute, match="GET /top.json is not in"):
            client._api.top_topics()  # a pydiscourse method the bridge has not listed
        with pytest.raises(UnlistedRoute):
            client._call("DELETE", "/t/1.json")
    assert counter.sent == []


# -- rate limits and pacing --------------------------------------------------------------------------
def test_429_from_the_forum_is_waited_out_and_the_call_succeeds(forum, counter):
    forum.set_rate_limit(3, 2)
    with client_for(forum) as client:  # pacing far above the forum's limit
        started = time.monotonic()
        for _ in range(4):
            client.get_topic_by_external_id("absent")
        elapsed = time.monotonic() - started
    assert counter.statuses().count(429) == 1
    assert counter.statuses()[-1] == 404  # the repeated request got its answer
    assert elapsed >= 1.0  # wait_seconds (1-2 s) was respected


def test_429_all_threads_hold_off(forum):
    pacer = Pacer(100000)
    pacer.hold_off(1.5)
    assert 1.4 < pacer.delay() <= 1.5
    with client_for(forum, pacer=pacer) as client:
        started = time.monotonic()
        client.whoami()
        assert time.monotonic() - started >= 1.4


def test_rate_limited_after_the_allowed_retries(forum, counter):
    forum.set_rate_limit(1, 30)
    waits = []
    pacer = Pacer(100000)
    with client_for(forum, pacer=pacer, max_rate_limit_retries=2, sleep=waits.append) as client:
        client.whoami()
        with pytest.raises(DiscourseRateLimited) as info:
            client.whoami()
    err = info.value
    assert err.retryable and err.status == 429 and 25 <= err.retry_after <= 30
    assert counter.statuses() == [200, 429, 429, 429]
    slept = [w for w in waits if w > 0.05]
    assert len(slept) == 2 and all(24 <= w <= 30 for w in slept)  # the pacer's hold-off, slept by the client
    later = outbox_failure(err)
    assert type(later).__name__ == "RetryLater" and 25 <= later.seconds <= 30


def test_pacing_uses_the_burst_and_keeps_under_the_limit(forum, counter):
    # The double counts like Discourse's lib/rate_limiter.rb, here 4 requests per 4 s: the pacer,
    # told the same window, sends the first 4 at once and the rest a window (and margin) later.
    forum.set_rate_limit(4, 4)
    with client_for(forum, pacer=Pacer(60, window_seconds=4)) as client:
        started = time.monotonic()
        for _ in range(4):
            client.get_topic_by_external_id("absent")
        burst = time.monotonic() - started
        for _ in range(2):
            client.get_topic_by_external_id("absent")
        elapsed = time.monotonic() - started
    assert counter.statuses() == [404] * 6  # no 429
    assert burst < 2  # no spacing within the window's allowance
    assert elapsed >= 4 + WINDOW_MARGIN


def test_max_wait_lets_a_job_retry_later_instead_of_sleeping(forum, counter):
    pacer = Pacer(1)  # one request a minute
    with client_for(forum, pacer=pacer, max_wait=0.2) as client:
        assert client.next_request_delay() == 0
        client.whoami()
        delay = client.next_request_delay()
        assert 60 < delay <= 60 + WINDOW_MARGIN
        with pytest.raises(DiscourseRateLimited, match="not sent") as info:
            client.whoami()
        assert info.value.retryable and 59 < info.value.retry_after <= delay
        later = outbox_failure(info.value)
        assert type(later).__name__ == "RetryLater" and later.seconds == info.value.retry_after
    assert len(counter.sent) == 1


def test_pacer_allows_the_windows_burst_then_waits_for_the_oldest_to_leave():
    clock = [100.0]
    pacer = Pacer(3, headroom=1.0, clock=lambda: clock[0])  # 3 a minute
    assert pacer.capacity == 3 and pacer.span == 60 + WINDOW_MARGIN
    assert [pacer.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]  # the burst the window allows
    assert pacer.delay() == 60 + WINDOW_MARGIN
    with pytest.raises(SlotTooFar) as info:
        pacer.reserve(max_wait=30)
    assert info.value.wait == 60 + WINDOW_MARGIN and pacer.delay() == 60 + WINDOW_MARGIN  # nothing reserved
    clock[0] = 130.0
    assert pacer.reserve() == 30 + WINDOW_MARGIN  # when the first of the three leaves the window
    clock[0] = 1000.0
    assert [pacer.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]  # a quiet spell gives the burst back
    pacer.hold_off(5)
    clock[0] = 2000.0
    assert pacer.delay() == 0.0
    pacer.hold_off(5)
    assert pacer.delay() == 5.0  # after a 429 nobody sends, whatever the window allows

    shared = Pacer(600, window_seconds=6, headroom=0.98, clock=lambda: 0.0)  # 58 per 7.25 s; a stopped clock
    waits: list[float] = []
    lock = threading.Lock()

    def take():
        w = shared.reserve()
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=take) for _ in range(150)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    slots = sorted(waits)
    assert shared.capacity == 58
    # whichever thread took which slot: never more than `capacity` starts in any span
    assert all(slots[i + shared.capacity] - slots[i] >= shared.span for i in range(len(slots) - shared.capacity))
    assert slots.count(0.0) == 58


def test_one_pacer_per_forum_in_the_process():
    a = pacer_for("https://forum.example.test/", 60)
    assert pacer_for("https://FORUM.example.test", 60) is a
    assert pacer_for("https://forum.example.test", 120) is a and a.requests_per_minute == 120
    assert pacer_for("https://other.example.test", 60) is not a
    with pytest.raises(ValueError):
        Pacer(0)


# -- client-only behaviour (recorded HTTP) -------------------------------------------------------------
FORUM = "https://forum.example.test"
KEY = "k" * 64


def offline_client(**kw) -> DiscourseClient:
    kw.setdefault("sleep", lambda s: None)
    return DiscourseClient(FORUM, KEY, "system", connect_secret=CONNECT_SECRET, user_agent=UA,
                           pacer=Pacer(100000), **kw)


TOPIC = {"id": 5, "title": "A mirrored topic title", "slug": "a-mirrored-topic-title", "category_id": 1,
         "posts_count": 1, "visible": True, "post_stream": {"posts": [{"id": 9, "post_number": 1}], "stream": [9]}}
POST = {"id": 9, "topic_id": 5, "post_number": 1, "raw": BODY, "topic_slug": "a-mirrored-topic-title",
        "username": "system"}


@responses.activate
def test_5xx_then_success_is_retried_with_backoff():
    responses.get(f"{FORUM}/t/5.json", status=502, body="<html>Bad gateway</html>")
    responses.get(f"{FORUM}/t/5.json", status=503, json={"errors": ["read only"]})
    responses.get(f"{FORUM}/t/5.json", json=TOPIC)
    waits: list[float] = []
    topic = offline_client(sleep=waits.append).get_topic(5)
    assert topic.id == 5 and topic.first_post_id == 9
    assert len(responses.calls) == 3
    backoffs = [w for w in waits if w > 0.001]  # not the pacing's sub-millisecond waits
    assert 1 <= len(backoffs) <= 2 and all(w <= 8 for w in backoffs)
    sent = responses.calls[0].request
    assert sent.headers["User-Agent"] == UA and sent.headers["Api-Key"] == KEY
    assert sent.headers["Api-Username"] == "system" and sent.headers["Accept"] == "application/json"


@responses.activate
def test_network_error_then_success_is_retried():
    responses.get(f"{FORUM}/posts/9.json", body=requests.ConnectionError("connection reset by peer"))
    responses.get(f"{FORUM}/posts/9.json", body=requests.ReadTimeout("read timed out"))
    responses.get(f"{FORUM}/posts/9.json", json=POST)
    assert offline_client().get_post(9).raw == BODY
    assert len(responses.calls) == 3


@responses.activate
def test_5xx_exhausted_is_retryable_unavailable():
    responses.get(f"{FORUM}/t/5.json", status=500, json={"errors": ["boom"]})
    with pytest.raises(DiscourseUnavailable, match="server error: boom") as info:
        offline_client(max_retries=2).get_topic(5)
    assert info.value.retryable and info.value.status == 500
    assert len(responses.calls) == 3
    assert outbox_failure(info.value) is info.value  # the outbox's own back-off


@responses.activate
def test_a_post_that_may_have_been_processed_is_not_repeated():
    responses.post(f"{FORUM}/posts.json", status=502)
    with pytest.raises(DiscourseUnavailable) as info:
        offline_client().create_reply(5, REPLY)
    assert info.value.maybe_applied and len(responses.calls) == 1
    responses.post(f"{FORUM}/categories.json", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(DiscourseUnavailable):
        offline_client().create_category("Events")
    assert len(responses.calls) == 2


@responses.activate
def test_a_post_that_never_connected_is_retried():
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    refused = requests.ConnectionError(MaxRetryError(None, "/posts.json", NewConnectionError(None, "refused")))
    responses.post(f"{FORUM}/posts.json", body=refused)
    responses.post(f"{FORUM}/posts.json", json=dict(POST, id=10, post_number=2, raw=REPLY))
    assert offline_client().create_reply(5, REPLY).id == 10
    assert len(responses.calls) == 2


@responses.activate
def test_topic_with_external_id_is_retried_and_found_when_the_first_attempt_went_through():
    responses.post(f"{FORUM}/posts.json", status=504)
    responses.post(f"{FORUM}/posts.json", status=422, json={"action": "create_post",
                                                           "errors": ["External has already been taken"]})
    responses.get(f"{FORUM}/t/external_id/news-7.json", status=301,
                  headers={"Location": f"{FORUM}/t/a-mirrored-topic-title/5.json"})
    responses.get(f"{FORUM}/t/5.json", json=TOPIC)
    responses.get(f"{FORUM}/posts/9.json", json=POST)
    post = offline_client().create_topic("A mirrored topic title", BODY, external_id="news-7")
    assert (post.id, post.topic_id) == (9, 5)
    assert [c.request.method for c in responses.calls] == ["POST", "POST", "GET", "GET", "GET"]


@responses.activate
def test_external_id_taken_without_a_lost_attempt_is_an_error():
    responses.post(f"{FORUM}/posts.json", status=422, json={"errors": ["External has already been taken"]})
    with pytest.raises(DiscourseValidationError):
        offline_client().create_topic("A mirrored topic title", BODY, external_id="news-7")
    assert len(responses.calls) == 1


@responses.activate
def test_secrets_stay_out_of_urls():
    responses.post(f"{FORUM}/admin/users/sync_sso.json", json={"id": 3, "username": "grace", "external_id": "wm-5"})
    responses.put(f"{FORUM}/admin/site_settings/discourse_connect_secret.json", body="")
    client = offline_client()
    user = client.sync_sso("wm-5", "grace@example.org", username="grace")
    assert user.external_id == "wm-5"
    client.set_site_setting("discourse_connect_secret", CONNECT_SECRET)
    sso_call, setting_call = responses.calls
    assert urlsplit(sso_call.request.url).query == ""
    form = parse_qs(sso_call.request.body)
    payload = parse_qs(base64.b64decode(form["sso"][0]).decode())
    assert payload == {"external_id": ["wm-5"], "email": ["grace@example.org"], "username": ["grace"]}
    assert urlsplit(setting_call.request.url).query == ""
    assert parse_qs(setting_call.request.body) == {"discourse_connect_secret": [CONNECT_SECRET]}


@responses.activate
def test_429_without_discourse_body_uses_retry_after():
    responses.get(f"{FORUM}/t/5.json", status=429, headers={"Retry-After": "7"}, body="slow down")
    responses.get(f"{FORUM}/t/5.json", json=TOPIC)
    waits: list[float] = []
    client = offline_client(sleep=waits.append)
    assert client.get_topic(5).id == 5
    slept = [w for w in waits if w > 0.05]
    assert len(slept) == 1 and 6.5 < slept[0] <= 7.0


def test_every_operation_is_in_the_route_table():
    for name, route in ROUTES.items():
        assert route.method in ("GET", "POST", "PUT", "DELETE") and route.template.endswith(".json"), name
