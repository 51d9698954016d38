"""Every client's errors share PlatformError, and one function turns any of them into the
outbox's outcome: RetryLater when the platform said when, the error itself (the outbox's own
back-off) when it may pass, PermanentFailure when repeating cannot help."""

from __future__ import annotations

import pytest

import bridge.clients.discourse
from bridge.clients.discourse import (DiscourseAuthError, DiscourseError, DiscourseRateLimited,
                                      DiscourseUnavailable, DiscourseValidationError, NotFound)
from bridge.clients.errors import PlatformError, outbox_failure
from bridge.clients.mediawiki import (EditConflict, InvalidTitle, MediaWikiAuthError, MediaWikiEditRefused,
                                      MediaWikiError, MediaWikiLagError, MediaWikiUnavailable, PageNotFound,
                                      PageProtected, UserBlocked, WikiReadOnly)
from bridge.clients.wordpress import (BridgeMetaUnavailable, PostNotFound, WordPressAuthError, WordPressError,
                                      WordPressPermissionError, WordPressSSOError, WordPressUnavailable)
from bridge.outbox import PermanentFailure, RetryLater

FINAL = [
    DiscourseError("Discourse GET /x.json: odd", status=418),
    DiscourseValidationError("Discourse POST /posts.json: Title is too short", status=422, errors=["Title"]),
    DiscourseAuthError("Discourse GET /u/system.json: invalid_access", status=403),
    NotFound("Discourse GET /t/9.json: not found", status=404),
    WordPressError("WordPress REST POST /wp/v2/posts: bad", code="rest_invalid_param", status=400),
    WordPressAuthError("WordPress REST GET /wp/v2/users/me: no", code="incorrect_password", status=401),
    WordPressPermissionError("WordPress REST POST /wp/v2/posts/1: may not", code="rest_cannot_edit", status=403),
    PostNotFound("WordPress REST GET /wp/v2/posts/9: gone", code="rest_post_invalid_id", status=404),
    BridgeMetaUnavailable("no space-bridge mu-plugin"),
    WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/logout: HTTP 400", 400),
    WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/logout: HTTP 401 bad_signature", 401),
    WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/logout: HTTP 403", 403),
    WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/logout: HTTP 404 rest_no_route", 404),
    MediaWikiError("MediaWiki wiki.example edit: odd", code="somethingelse"),
    MediaWikiAuthError("MediaWiki login refused", code="Failed"),
    MediaWikiEditRefused("MediaWiki edit refused", code="abusefilter-disallowed"),
    PageProtected("MediaWiki page is protected", code="protectedpage"),
    UserBlocked("MediaWiki the bot account is blocked", code="blocked"),
    PageNotFound("MediaWiki no such page", code="missingtitle"),
    InvalidTitle("MediaWiki invalid title", code="invalidtitle"),
]

#: Retryable, and the platform did not say when: the outbox's back-off decides.
BACK_OFF = [
    DiscourseUnavailable("Discourse GET /t/1.json: server error", status=502, maybe_applied=True),
    WordPressUnavailable("WordPress REST GET /wp/v2/posts/1 timed out after 30s"),
    WordPressUnavailable("WordPress REST GET /wp/v2/posts/1: busy", status=429),
    MediaWikiUnavailable("MediaWiki HTTP 503"),
    MediaWikiLagError("MediaWiki database lag", code="maxlag"),
    WikiReadOnly("MediaWiki wiki is read-only", code="readonly"),
]

#: Retryable after a known time.
TIMED = [
    (DiscourseRateLimited("Discourse POST /posts.json: rate limited", status=429, retry_after=42.0), 42.0),
    (DiscourseRateLimited("not sent, the next free slot is 3.5 s away", retry_after=3.5), 3.5),
    (WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/logout: ConnectionError"), 30.0),
    (WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/demote: HTTP 500", 500), 30.0),
    (WordPressSSOError("https://blog.example/wp-json/space-bridge/v1/demote: HTTP 429", 429), 30.0),
    (EditConflict("MediaWiki edit conflict", code="editconflict"), 2.0),
]

ALL = FINAL + BACK_OFF + [exc for exc, _ in TIMED]


@pytest.mark.parametrize("exc", ALL, ids=lambda e: type(e).__name__)
def test_every_client_error_is_a_platform_error(exc):
    assert isinstance(exc, PlatformError)
    assert isinstance(exc.retryable, bool)
    assert exc.retry_after is None or exc.retry_after > 0
    assert exc.message and exc.message in str(exc)


@pytest.mark.parametrize("exc", FINAL, ids=lambda e: f"{type(e).__name__}-{e.status}")
def test_a_final_error_dead_letters_the_job_with_its_text(exc):
    assert not exc.retryable
    outcome = outbox_failure(exc)
    assert type(outcome) is PermanentFailure
    assert str(outcome) == str(exc)


@pytest.mark.parametrize("exc", BACK_OFF, ids=lambda e: type(e).__name__)
def test_a_retryable_error_without_a_time_is_left_to_the_outbox_back_off(exc):
    assert exc.retryable and exc.retry_after is None
    assert outbox_failure(exc) is exc


@pytest.mark.parametrize(("exc", "seconds"), TIMED, ids=lambda e: type(e).__name__)
def test_a_retryable_error_with_a_time_is_retried_then(exc, seconds):
    outcome = outbox_failure(exc)
    assert type(outcome) is RetryLater
    assert outcome.seconds == seconds
    assert str(outcome) == str(exc)


def test_the_discourse_name_is_the_same_function():
    assert bridge.clients.discourse.outbox_failure is outbox_failure


@pytest.mark.parametrize("exc", [e for e in ALL if isinstance(e, WordPressError)], ids=lambda e: type(e).__name__)
def test_wordpress_errors_map_as_the_mirror_handlers_did_inline(exc):
    # sync/mirror.py and sync/replies.py wrote: `if exc.retryable: raise` else PermanentFailure(str(exc))
    outcome = outbox_failure(exc)
    if exc.retryable:
        assert outcome is exc
    else:
        assert type(outcome) is PermanentFailure and str(outcome) == str(exc)


@pytest.mark.parametrize("status", [0, 400, 401, 403, 404, 409, 429, 500, 502, 503])
def test_wordpress_sso_errors_map_as_the_sso_jobs_did_inline(status):
    # the sso jobs wrote (before bridge/clients/errors.py): PermanentFailure for 400/401/403/404, else RetryLater(30)
    exc = WordPressSSOError(f"https://blog.example/wp-json/space-bridge/v1/logout: HTTP {status}", status)
    outcome = outbox_failure(exc)
    if status in (400, 401, 403, 404):
        assert type(outcome) is PermanentFailure
    else:
        assert type(outcome) is RetryLater and outcome.seconds == 30
    assert str(outcome) == str(exc)
    assert exc.status == status


def test_an_instance_may_say_otherwise_than_its_class():
    exc = PlatformError("a platform said: come back in a minute", status=503, retryable=True, retry_after=60)
    assert exc.retryable and not PlatformError.retryable
    assert outbox_failure(exc).seconds == 60
    assert type(outbox_failure(PlatformError("no", status=400))) is PermanentFailure
