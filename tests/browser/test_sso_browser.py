"""One Wikimedia login for the forum and the blog, and one log-out for both, in real Chromium.

A member logs in on the forum (the Discourse double) with the Wikimedia account (the Wikimedia
double: login form, consent), lands back logged in; opens the real WordPress and is logged in
after one click, without consenting again; logs out from WordPress, which goes through the
bridge's /logout confirmation page, whose button logs the member out of both. Screenshots of each step go to
test-artifacts/browser/<test name>/."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.stack

MEMBER = "Alice Member"
EMAIL = "alice@example.org"


def forum_status(page, forum_url) -> str:
    page.goto(forum_url + "/")
    return page.inner_text("#current-user")


def test_one_login_for_forum_and_blog_and_one_logout(space, page, shots):
    from doubles.wikimedia import DEFAULT_PASSWORD

    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url) if r.is_navigation_request() else None)  # redirects too
    existing = space.wp_admin.by_email(EMAIL)
    if existing:  # an earlier run's member: start from a blog that does not know them
        space.wp_admin.delete(existing["id"])

    # 1. the forum, logged out; "Log in" goes to the bridge, then to Wikimedia's login form
    assert "Log in" in forum_status(page, space.forum.url)
    shots("forum-logged-out")
    page.click("#current-user a")
    page.wait_for_url(re.compile(r".*Special(%3A|:)UserLogin.*"))
    page.fill("input[name=wpName]", MEMBER)
    page.fill("input[name=wpPassword]", DEFAULT_PASSWORD)
    shots("wikimedia-login-form")
    page.click("button[name=wploginattempt]")

    # 2. consent, once
    page.wait_for_url(re.compile(r".*Special(%3A|:)OAuth(%2F|/)approve.*"))
    shots("wikimedia-consent")
    page.click("#mw-mwoauth-accept")

    # 3. back on the forum, logged in
    page.wait_for_url(re.compile(re.escape(space.forum.url) + r"/.*"))
    page.wait_for_selector("#current-user strong")
    assert MEMBER.replace(" ", "_") in page.inner_text("#current-user") or "Logged in as" in page.inner_text("#current-user")
    shots("forum-logged-in")

    # 4. the blog: one click, no consent
    before = len(seen)
    page.goto(space.wp_url + "/wp-login.php")
    shots("wordpress-login-page")
    page.click("#space-bridge-login")
    page.wait_for_url(re.compile(re.escape(space.wp_url) + r"/wp-admin/.*"))
    assert not any("approve" in u for u in seen[before:]), "asked to consent again"
    assert not any("UserLogin" in u for u in seen[before:]), "asked to log in again"
    shots("wordpress-logged-in")
    user = space.wp_admin.by_email(EMAIL)
    assert user is not None and user["roles"] == ["subscriber"]
    space.wp_admin.created.append(user["id"])

    # 5. log out on the blog: it continues at the bridge's /logout, whose confirmation button logs
    #    the member out of both
    page.goto(space.wp_url + "/wp-admin/profile.php")
    href = page.get_attribute("#wp-admin-bar-logout a", "href")
    page.goto(href)
    page.wait_for_url(re.compile(re.escape(space.bridge_url) + r"/logout\?next=.*"))
    shots("bridge-logout-confirmation")
    page.click("#space-bridge-logout")
    page.wait_for_url(re.compile(re.escape(space.wp_url) + r"/wp-login\.php.*loggedout.*"))
    shots("after-logout")
    assert "Log in" in forum_status(page, space.forum.url) and "Logged in as" not in page.inner_text("#current-user")
    shots("forum-logged-out-again")
    page.goto(space.wp_url + "/wp-admin/profile.php")
    page.wait_for_url(re.compile(re.escape(space.wp_url) + r"/wp-login\.php.*"))
    shots("wordpress-logged-out-again")
    resp = page.goto(space.bridge_url + "/whoami")
    assert resp.status == 401
    space.wp_admin.cleanup()
