"""The log-out confirmation page in real Chromium, in English, Spanish and Arabic (right to left).

GET /logout shows the page and changes nothing; its one button logs the member out; a form
whose token was tampered with is refused with a page that says nothing was done. Screenshots
go to test-artifacts/browser/<test name>/."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.stack

MEMBER = "Alice Member"
BUTTONS = {"en": "Log out", "es": "Cerrar sesión", "ar": "تسجيل الخروج"}


def bridge_login(page, space):
    from doubles.wikimedia import DEFAULT_PASSWORD

    page.goto(space.bridge_url + "/login?next=/whoami")
    if "UserLogin" in page.url:
        page.fill("input[name=wpName]", MEMBER)
        page.fill("input[name=wpPassword]", DEFAULT_PASSWORD)
        page.click("button[name=wploginattempt]")
    page.wait_for_url(re.compile(r".*(/whoami|OAuth(%2F|/)approve).*"))
    if "approve" in page.url:
        page.click("#mw-mwoauth-accept")
        page.wait_for_url(re.compile(re.escape(space.bridge_url) + "/whoami"))
    assert '"logged_in":true' in page.content().replace(" ", "")


def whoami_status(page, space) -> int:
    return page.goto(space.bridge_url + "/whoami").status


def test_logout_confirmation_in_three_languages(space, page, shots):
    bridge_login(page, space)
    for lang, button in BUTTONS.items():
        page.goto(space.bridge_url + f"/logout?next=%2Fwhoami&uselang={lang}")
        html = page.locator("html")
        assert html.get_attribute("lang") == lang
        assert html.get_attribute("dir") == ("rtl" if lang == "ar" else "ltr")
        assert page.inner_text("#space-bridge-logout") == button
        assert MEMBER in page.inner_text("main")
        box, main = page.locator("#space-bridge-logout").bounding_box(), page.locator("main").bounding_box()
        # the button starts on the reading side: the right edge in Arabic, the left one otherwise
        if lang == "ar":
            assert main["x"] + main["width"] - (box["x"] + box["width"]) < 80
        else:
            assert box["x"] - main["x"] < 80
        shots(f"confirmation-{lang}")
    assert whoami_status(page, space) == 200, "showing the page logged the member out"

    # a tampered form (as another site's would be): refused, still logged in
    page.goto(space.bridge_url + "/logout?next=%2Fwhoami&uselang=ar")
    page.eval_on_selector("input[name=csrf_token]", "e => e.value = 'forged-token-0123456789abcdef0123456789'")
    page.click("#space-bridge-logout")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("dir") == "rtl"
    assert "ما زلت مسجّل الدخول" in page.inner_text("h1")
    shots("refused-ar")
    assert whoami_status(page, space) == 200

    # the button itself
    page.goto(space.bridge_url + "/logout?next=%2Fwhoami&uselang=ar")
    page.click("#space-bridge-logout")
    page.wait_for_url(space.bridge_url + "/whoami")
    assert whoami_status(page, space) == 401
