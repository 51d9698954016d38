"""/me/notifications in real Chromium, in English and Arabic, on a desktop and a 390 px phone.

A member opens the page logged out, goes through the Wikimedia login (the Wikimedia double's
login form and consent) and lands back on it; picks events and filters, types a bad language
code and gets the message beside the field with everything they typed still there; corrects it
and sees the choices saved. The same page in Arabic is right to left, on a phone too, and no
page is wider than the phone's screen. An unsubscribe link from an email opens, without a login,
a page with one button that unsubscribes. Screenshots go to test-artifacts/browser/<test name>/.
"""

from __future__ import annotations

import re
import threading
import time
import types

import pytest
from werkzeug.serving import make_server

# with the other browser tests: real Chromium (deploy/dev/browser.sh), run under the stack lock
pytestmark = pytest.mark.stack

PHONE, DESKTOP = 390, 1280
MEMBER, MEMBER_SUB = "Alice Member", "1001"  # deploy/dev/wikimedia_double/users.py: confirmed email


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from doubles.wikimedia import WikimediaDouble

    from bridge import config, store
    from bridge.app import create_app

    tmp = tmp_path_factory.mktemp("notify")
    holder = types.SimpleNamespace(app=None)
    server = make_server("127.0.0.1", 0, lambda environ, start: holder.app(environ, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    with WikimediaDouble(redirect_uri=url + "/oauth/callback") as wm:
        settings = config.parse({
            "bridge": {"public_url": url, "secret_key": "browser-notify-secret-key-0123456789abcdef",
                       "database_url": f"sqlite:///{tmp}/bridge.db", "state_dir": str(tmp / "state"),
                       "log_format": "console"},
            "wikimedia": {"oauth_base_url": wm.url, "client_id": wm.client_id, "client_secret": wm.client_secret,
                          "timeout_seconds": 10},
            "mediawiki": {"api_url": "https://meta.wikimedia.org/w/api.php", "username": "Bot@notify",
                          "password": "not-used-by-these-pages"},
            # a mail server is known, so email is a choice for a member with a confirmed address
            "notify": {"email": {"sender": "space@example.org", "smtp": {"host": "127.0.0.1", "port": 2525}}},
        }, "<browser notify test>")
        engine = store.make_engine(settings.bridge.database_url)
        store.upgrade(engine)
        holder.app = create_app(settings, engine)
        thread.start()
        try:
            yield types.SimpleNamespace(url=url, settings=settings, engine=engine, wm=wm)
        finally:
            server.shutdown()
            server.server_close()
            engine.dispose()


def overflow(page) -> int:
    """How many pixels the page is wider than its window (0: no horizontal scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def log_in(page, site, path: str) -> None:
    """Open `path` logged out: the Wikimedia login and consent, then back at `path`."""
    from doubles.wikimedia import DEFAULT_PASSWORD

    page.goto(site.url + path)
    page.wait_for_url(re.compile(r".*Special(%3A|:)UserLogin.*"))
    page.fill("input[name=wpName]", MEMBER)
    page.fill("input[name=wpPassword]", DEFAULT_PASSWORD)
    page.click("button[name=wploginattempt]")
    page.wait_for_url(re.compile(r".*(Special(%3A|:)OAuth(%2F|/)approve|/me/notifications).*"))
    if "approve" in page.url:
        page.click("#mw-mwoauth-accept")
    page.wait_for_url(re.compile(re.escape(site.url + path)))


def test_settings_in_english_and_arabic_on_desktop_and_phone(site, page, shots):
    from sync.notify import preferences

    site.wm.reset()
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    log_in(page, site, "/me/notifications")
    assert page.inner_text("h1") == "What reaches me"
    assert MEMBER in page.inner_text(".intro")
    assert page.is_checked("#notify-channel-none") and not page.is_checked("#notify-event-mentions")
    assert page.input_value("#notify-wiki") == "meta.wikimedia.org"
    assert page.is_enabled("#notify-channel-email")  # Alice's address is confirmed
    shots("en-desktop")

    # choices, with one mistake: the message is beside the field and nothing typed is lost
    page.check("label[for=notify-event-new_posts]")  # clicking the label ticks the box
    page.check("#notify-event-mentions")
    page.fill("#notify-categories", "Community News, Events")
    page.fill("#notify-tags", "wikidata")
    page.fill("#notify-languages", "es, Spanish")
    page.check("#notify-channel-talk")
    page.check("#notify-frequency-daily")
    page.click("#notify-save")
    page.wait_for_selector("#notify-errors")
    assert "Languages: “Spanish” is not a language code" in page.inner_text("#notify-languages-error").replace(
        "\u2068", "").replace("\u2069", "")
    assert page.input_value("#notify-categories") == "Community News, Events"
    assert page.is_checked("#notify-event-mentions") and page.is_checked("#notify-frequency-daily")
    assert preferences.get(site.engine, MEMBER_SUB).events == frozenset()
    shots("en-desktop-error")

    page.fill("#notify-languages", "es, ar")
    page.click("#notify-save")
    page.wait_for_selector("#notify-saved")
    saved = preferences.get(site.engine, MEMBER_SUB)
    assert saved.events == {"new_posts", "mentions"} and saved.channel == "talk" and saved.frequency == "daily"
    assert saved.categories == {"community-news", "events"} and saved.languages == {"es", "ar"}
    assert saved.wiki == "meta.wikimedia.org"
    shots("en-desktop-saved")

    page.set_viewport_size({"width": PHONE, "height": 800})
    page.goto(site.url + "/me/notifications")
    assert overflow(page) == 0
    shots("en-phone")

    # Arabic, right to left: the language link keeps the member on the page
    page.set_viewport_size({"width": DESKTOP, "height": 900})
    page.click("nav.languages a[lang=ar]")
    page.wait_for_url(re.compile(r".*uselang=ar.*"))
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.inner_text("h1") == "ما يصلني"
    assert page.is_checked("#notify-event-mentions")
    # the form's right edge is the page's: text starts on the right
    box, main = page.locator("#notify-events legend").bounding_box(), page.locator("main").bounding_box()
    assert main["x"] + main["width"] - (box["x"] + box["width"]) < 60
    shots("ar-desktop")

    page.set_viewport_size({"width": PHONE, "height": 800})
    page.fill("#notify-wiki", "ليس ويكي")
    page.click("#notify-save")
    page.wait_for_selector("#notify-errors")
    assert "الويكي الرئيسي الخاص بي" in page.inner_text("#notify-wiki-error")
    assert page.get_attribute("html", "dir") == "rtl" and overflow(page) == 0
    shots("ar-phone-error")
    # a wiki the bridge has no bot account on is refused, naming the one it writes on
    page.fill("#notify-wiki", "ar.wikipedia.org")
    page.click("#notify-save")
    page.wait_for_selector("#notify-errors")
    refusal = page.inner_text("#notify-wiki-error").replace("\u2068", "").replace("\u2069", "")
    assert "ar.wikipedia.org" in refusal and "meta.wikimedia.org" in refusal
    shots("ar-phone-wiki-refused")
    page.fill("#notify-wiki", "Meta.Wikimedia.org")
    page.click("#notify-save")
    page.wait_for_selector("#notify-saved")
    assert page.inner_text("#notify-saved") == "حُفظت إعدادات الإشعارات الخاصة بك."
    assert preferences.get(site.engine, MEMBER_SUB).wiki == "meta.wikimedia.org"
    assert overflow(page) == 0
    shots("ar-phone-saved")


def test_unsubscribe_link_without_logging_in(site, page, shots):
    from sync.notify import preferences, unsubscribe

    preferences.save(site.engine, preferences.Preferences(
        sub=MEMBER_SUB, events=frozenset({"mentions"}), categories=frozenset(), tags=frozenset(),
        languages=frozenset(), channel="email", frequency="instant", wiki=None, updated_at=None))
    link, _ = unsubscribe.for_settings(site.settings, MEMBER_SUB, "mentions", time.time())
    for width, lang in ((PHONE, "ar"), (DESKTOP, "en")):
        page.set_viewport_size({"width": width, "height": 700})
        page.goto(link + f"&uselang={lang}")
        assert page.get_attribute("html", "dir") == ("rtl" if lang == "ar" else "ltr")
        assert overflow(page) == 0
        shots(f"unsubscribe-{lang}-{width}")
    assert preferences.get(site.engine, MEMBER_SUB).events == {"mentions"}  # opening the link changed nothing
    page.click("#notify-unsubscribe")
    page.wait_for_selector("text=You are unsubscribed")
    assert preferences.get(site.engine, MEMBER_SUB).events == frozenset()
    shots("unsubscribed-en")
