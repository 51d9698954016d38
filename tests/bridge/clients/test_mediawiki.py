"""MediaWiki client: unit tests against a scripted api.php (responses), then integration
tests against the real MediaWiki of the local stack (``-m stack``)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qsl, urlsplit

import mwclient
import mwclient.sleep
import pytest
import requests
import responses

from bridge.clients.mediawiki import (
    EditResult,
    MediaWikiAuthError,
    MediaWikiClient,
    MediaWikiLagError,
    MediaWikiUnavailable,
    PageNotFound,
    PageProtected,
    WikiReadOnly,
)

API = "https://wiki.example.test/w/api.php"
BOT = "Bridge@space"
SECRET = "bot5ecretp4ssw0rdxyz"
UA = "space-bridge-tests/1.0 (https://example.test/contact; ops@example.test)"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """mwclient's back-off sleeps, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(mwclient.sleep.time, "sleep", recorded.append)
    return recorded


class FakeWiki:
    """A scripted api.php.  ``overrides[(action, detail)]`` is a list of (status, headers,
    body-dict) answers used in turn before the normal answer; detail is the token type for
    ``meta=tokens`` and the module otherwise."""

    def __init__(self, login_result: str = "Success"):
        self.requests: list[dict] = []
        self.overrides: dict[tuple[str, str], list[tuple[int, dict, dict]]] = {}
        self.login_result = login_result
        self.edits: list[dict] = []
        responses.add_callback(responses.GET, API, callback=self._answer)
        responses.add_callback(responses.POST, API, callback=self._answer)

    def _params(self, request) -> dict:
        params = dict(parse_qsl(urlsplit(request.url).query))
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            params.update(parse_qsl(body))
        return params

    def _answer(self, request):
        params = self._params(request)
        self.requests.append({"params": params, "headers": dict(request.headers)})
        action = params.get("action")
        detail = params.get("type") if params.get("meta") == "tokens" else action
        queued = self.overrides.get((action, detail))
        if queued:
            status, headers, body = queued.pop(0)
            return status, headers, json.dumps(body)
        return 200, {}, json.dumps(self._normal(action, params))

    def _normal(self, action: str, params: dict) -> dict:
        userinfo = {"id": 1, "name": "Bridge", "rights": ["read", "edit", "createpage", "writeapi"]}
        if action == "query" and params.get("meta") == "tokens":
            token = params["type"]
            return {"query": {"tokens": {f"{token}token": f"{token}-token+\\"}}}
        if action == "login":
            if self.login_result != "Success":
                return {"login": {"result": self.login_result,
                                  "reason": "Incorrect username or password entered. Please try again."}}
            return {"login": {"result": "Success", "lgusername": "Bridge"}}
        if action == "query" and "siteinfo" in params.get("meta", ""):
            return {"query": {"general": {"generator": "MediaWiki 1.39.0"},
                              "namespaces": {"0": {"id": 0, "*": ""}}, "userinfo": userinfo}}
        if action == "query" and params.get("prop") == "info":
            return {"query": {"pages": {"7": {"pageid": 7, "ns": 0, "title": params["titles"],
                                              "protection": []}}, "userinfo": userinfo}}
        if action == "edit":
            self.edits.append(params)
            return {"edit": {"result": "Success", "pageid": 7, "title": params["title"], "newrevid": 42}}
        raise AssertionError(f"unexpected request {params}")

    def queue(self, action: str, detail: str, *answers: tuple[int, dict, dict]) -> None:
        self.overrides.setdefault((action, detail), []).extend(answers)


LAGGED = (200, {"X-Database-Lag": "7", "Retry-After": "9", "MediaWiki-API-Error": "maxlag"},
          {"error": {"code": "maxlag", "info": "Waiting for db2: 7 seconds lagged.", "lag": 7}})


def client(**kwargs) -> MediaWikiClient:
    kwargs.setdefault("user_agent", UA)
    return MediaWikiClient(API, BOT, SECRET, **kwargs)


def assert_secret_free(exc: BaseException) -> None:
    for text in (str(exc), repr(exc), repr(exc.args), repr(getattr(exc, "info", None))):
        assert SECRET not in text
    assert exc.__context__ is None and exc.__cause__ is None


# -- unit ----------------------------------------------------------------------------------


@responses.activate
def test_every_request_carries_maxlag_and_the_descriptive_user_agent(sleeps):
    wiki = FakeWiki()
    result = client(maxlag=4).append_section("Talk:Space", "News", "Hello.", "bridge: new post")

    assert result == EditResult(title="Talk:Space", page_id=7, revision_id=42, changed=True)
    assert [r["params"]["action"] for r in wiki.requests] == ["query", "login", "query", "query", "query", "edit"]
    assert all(r["params"].get("maxlag") == "4" for r in wiki.requests)
    assert all(r["headers"]["User-Agent"].startswith(UA + " mwclient/") for r in wiki.requests)
    edit = wiki.edits[0]
    assert (edit["section"], edit["sectiontitle"], edit["text"], edit["summary"]) == (
        "new", "News", "Hello.", "bridge: new post")
    assert sleeps == []


@responses.activate
def test_maxlag_answer_waits_retry_after_then_retries(sleeps):
    wiki = FakeWiki()
    wiki.queue("edit", "edit", LAGGED, LAGGED)
    result = client(retry_timeout=1).append_text("Space", "\nmore", "bridge")

    assert result.revision_id == 42
    assert len(wiki.edits) == 1
    # mwclient waits max(Retry-After, retry_timeout * (retries - 1)).
    assert sleeps == [9, 9]


@responses.activate
def test_maxlag_error_without_headers_is_retried_too(sleeps):
    wiki = FakeWiki()
    wiki.queue("edit", "edit", (200, {}, LAGGED[2]))
    client().prepend_text("Space", "top\n", "bridge")
    assert len(wiki.edits) == 1
    assert sleeps == [5]


@responses.activate
def test_lag_that_does_not_end_gives_a_retryable_lag_error_after_bounded_retries(sleeps):
    wiki = FakeWiki()
    # Lag during the login itself: mwclient's MaximumRetriesExceeded would carry lgpassword.
    wiki.queue("login", "login", *[LAGGED] * 10)
    with pytest.raises(MediaWikiLagError) as caught:
        client(max_retries=3).login()

    assert caught.value.retryable
    assert len(sleeps) == 3
    assert sum(1 for r in wiki.requests if r["params"]["action"] == "login") == 4
    assert_secret_free(caught.value)


@responses.activate
def test_server_errors_during_login_give_a_retryable_error_without_the_password(sleeps):
    wiki = FakeWiki()
    wiki.queue("login", "login", *[(503, {}, {"error": "busy"})] * 10)
    with pytest.raises(MediaWikiUnavailable) as caught:
        client(max_retries=2).login()
    assert not isinstance(caught.value, MediaWikiLagError)
    assert caught.value.retryable
    assert_secret_free(caught.value)


@responses.activate
def test_connection_failure_is_unavailable(sleeps):
    responses.add(responses.GET, API, body=requests.ConnectionError("connection refused"))
    with pytest.raises(MediaWikiUnavailable) as caught:
        client(max_retries=1).login()
    assert caught.value.retryable


@responses.activate
def test_refused_login_is_auth_error_without_the_password(sleeps):
    FakeWiki(login_result="Failed")
    with pytest.raises(MediaWikiAuthError) as caught:
        client().append_text("Space", "x", "bridge")
    assert caught.value.code == "Failed"
    assert "Incorrect username or password" in str(caught.value)
    assert not caught.value.retryable
    assert_secret_free(caught.value)


@responses.activate
def test_read_only_wiki_is_a_retryable_refusal(sleeps):
    wiki = FakeWiki()
    wiki.queue("edit", "edit", (200, {}, {"error": {"code": "readonly", "info": "The wiki is in read-only mode.",
                                                    "readonlyreason": "Maintenance"}}))
    with pytest.raises(WikiReadOnly) as caught:
        client().append_section("Space", "h", "t", "s")
    assert caught.value.retryable
    assert caught.value.code == "readonly"


@responses.activate
def test_protected_page_is_a_final_refusal(sleeps):
    wiki = FakeWiki()
    wiki.queue("edit", "edit", (200, {}, {"error": {"code": "protectedpage",
                                                    "info": "This page has been protected to prevent editing."}}))
    with pytest.raises(PageProtected) as caught:
        client().append_section("Space", "h", "t", "s")
    assert not caught.value.retryable
    assert caught.value.code == "protectedpage"


@responses.activate
def test_lost_session_logs_in_again_once_and_retries_the_edit(sleeps):
    wiki = FakeWiki()
    wiki.queue("edit", "edit", (200, {}, {"error": {"code": "assertuserfailed",
                                                    "info": "You are no longer logged in"}}))
    result = client().append_section("Space", "h", "t", "s")
    assert result.revision_id == 42
    assert sum(1 for r in wiki.requests if r["params"]["action"] == "login") == 2
    assert len(wiki.edits) == 1


def test_repr_and_construction_make_no_request_and_hide_the_password():
    c = MediaWikiClient.from_host("wiki.example.test", BOT, SECRET, path="/w/", scheme="https")
    assert c.api_url == API
    assert SECRET not in repr(c)
    with pytest.raises(ValueError):
        MediaWikiClient("https://wiki.example.test/w/index.php", BOT, SECRET)


# -- the real MediaWiki (local stack) ------------------------------------------------------


@pytest.fixture(scope="module")
def mw_stack(stack) -> dict:
    return stack["mediawiki"]


@pytest.fixture(scope="module")
def bot(mw_stack):
    with MediaWikiClient(mw_stack["api_url"], mw_stack["bot_user"], mw_stack["bot_password"], user_agent=UA) as c:
        yield c


def unique_title(label: str) -> str:
    return f"Space bridge test/{label} {uuid.uuid4().hex[:8]}"


@pytest.mark.stack
def test_append_sections_and_read_them_back(bot):
    title = unique_title("sections")
    first = bot.append_section(title, "New post: Hello & <welcome>", "A '''first''' post.", "bridge: post 1")
    second = bot.append_section(title, "New post: Second", "Another post.", "bridge: post 2")

    assert first.changed and second.changed
    assert second.revision_id > first.revision_id
    text = bot.get_wikitext(title)
    assert "== New post: Hello & <welcome> ==" in text
    assert "A '''first''' post." in text
    assert text.index("== New post: Hello") < text.index("== New post: Second ==") < text.index("Another post.")
    headings = [(s.level, s.heading) for s in bot.sections(title)]
    assert headings == [(2, "New post: Hello & <welcome>"), (2, "New post: Second")]


@pytest.mark.stack
def test_prepend_and_append_text(bot):
    title = unique_title("text")
    bot.append_text(title, "middle", "bridge: create")
    bot.prepend_text(title, "top\n", "bridge: prepend")
    bot.append_text(title, "\nbottom", "bridge: append")
    assert bot.get_wikitext(title) == "top\nmiddle\nbottom"


@pytest.mark.stack
def test_missing_pages(bot):
    title = unique_title("missing")
    with pytest.raises(PageNotFound):
        bot.get_wikitext(title)
    with pytest.raises(PageNotFound):
        bot.append_section(title, "h", "t", "s", create=False)
    assert not bot.page_exists(title)


@pytest.mark.stack
def test_wrong_bot_password_is_auth_error(mw_stack):
    wrong = "x" + mw_stack["bot_password"][1:][::-1]
    c = MediaWikiClient(mw_stack["api_url"], mw_stack["bot_user"], wrong, user_agent=UA)
    with pytest.raises(MediaWikiAuthError) as caught:
        c.append_section(unique_title("never"), "h", "t", "s")
    assert wrong not in str(caught.value) and wrong not in repr(caught.value.args)
    assert caught.value.__context__ is None


@pytest.mark.stack
def test_protected_page_refuses_the_bot(bot, mw_stack):
    title = unique_title("protected")
    bot.append_text(title, "Protected text", "bridge: create")
    api = urlsplit(mw_stack["api_url"])
    admin = mwclient.Site(api.netloc, path=api.path.rpartition("/")[0] + "/", scheme=api.scheme, clients_useragent=UA)
    admin.clientlogin(username=mw_stack["admin_user"], password=mw_stack["admin_password"])
    admin.post("protect", title=title, protections="edit=sysop", reason="test", token=admin.get_token("csrf"))

    with pytest.raises(PageProtected) as caught:
        bot.append_section(title, "h", "t", "s")
    assert not caught.value.retryable
    assert bot.get_wikitext(title) == "Protected text"


@pytest.mark.stack
def test_real_maxlag_refusal_is_backed_off_and_reported(mw_stack, sleeps):
    # A single-server wiki reports a lag of -1, so maxlag=-2 makes MediaWiki refuse every
    # request with a real maxlag error (Retry-After: 5), as a lagged Wikimedia wiki would.
    c = MediaWikiClient(mw_stack["api_url"], mw_stack["bot_user"], mw_stack["bot_password"], user_agent=UA,
                        maxlag=-2, max_retries=2, retry_timeout=1)
    with pytest.raises(MediaWikiLagError) as caught:
        c.append_text(unique_title("lag"), "x", "s")
    assert caught.value.retryable
    assert sleeps == [5, 5]
