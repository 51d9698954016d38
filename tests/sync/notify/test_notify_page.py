"""/me/notifications and the unsubscribe link as a member's browser and mail client use them,
on SQLite and PostgreSQL.

The settings page is a logged-in member's (others are sent to the Wikimedia login and back),
saves only with the session's CSRF token, says what is wrong field by field in the member's
language while keeping what was typed, and offers email only with a confirmed address. The
unsubscribe link works without logging in, never changes anything on GET, and stops exactly
what its token names for exactly whom it names.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from notify_helpers import ALICE, BOB, SECRET_KEY, add_members, log_in, settings_for

from bridge.app import create_app
from sync.notify import preferences as prefs_
from sync.notify import unsubscribe as u

PAGE = "/me/notifications"
UNSUB = "/me/notifications/unsubscribe"
KEY = u.secret(SECRET_KEY)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def form_data(token, **fields) -> dict:
    data = {"csrf_token": token, "categories": "", "tags": "", "languages": "", "channel": "none",
            "frequency": "instant", "wiki": "", "events": []}
    data.update(fields)
    return data


def test_the_page_is_behind_the_wikimedia_login(client):
    response = client.get(PAGE + "?uselang=es")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": [PAGE + "?uselang=es"], "uselang": ["es"]}
    assert client.post(PAGE, data={"events": "mentions"}).status_code == 303  # to the login; nothing saved
    assert prefs_.get(client.application.extensions["space_bridge"]["engine"], ALICE) == prefs_.defaults(ALICE)


def test_a_member_sees_their_choices_and_nothing_is_chosen_for_them(client):
    log_in(client, ALICE)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = soup(response)
    assert "Alice Example" in page.select_one(".intro").text
    assert not page.select("input[name=events][checked]")
    assert page.select_one("input[name=channel][checked]")["value"] == "none"
    assert page.select_one("input[name=frequency][checked]")["value"] == "instant"
    assert page.select_one("#notify-wiki")["value"] == "es.wikipedia.org"  # the configured wiki's host
    for fieldset in page.select("fieldset"):
        assert fieldset.legend.text.strip()
    for field in page.select("input:not([type=hidden])"):
        assert page.select_one(f"label[for='{field['id']}']"), field
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]  # default-src 'none': no script runs


def test_saving_stores_the_choices_and_says_so(client):
    token = log_in(client, ALICE)
    response = client.post(PAGE, data=form_data(
        token, events=["new_posts", "mentions"], categories="Community News, Events", tags="wikidata",
        languages="es, AR", channel="email", frequency="daily"))
    assert response.status_code == 303 and response.headers["Location"] == PAGE
    engine = client.application.extensions["space_bridge"]["engine"]
    got = prefs_.get(engine, ALICE)
    assert got.events == {"new_posts", "mentions"} and got.channel == "email" and got.frequency == "daily"
    assert got.categories == {"community-news", "events"} and got.tags == {"wikidata"} and got.languages == {"es", "ar"}
    page = soup(client.get(PAGE))
    assert page.select_one("#notify-saved").text.strip() == "Your notification settings were saved."
    assert {i["value"] for i in page.select("input[name=events][checked]")} == {"new_posts", "mentions"}
    assert page.select_one("#notify-categories")["value"] == "community-news, events"
    assert not soup(client.get(PAGE)).select_one("#notify-saved")  # said once


def test_talk_page_channel_keeps_the_home_wiki_the_bridge_can_write_on(client):
    token = log_in(client, ALICE)
    engine = client.application.extensions["space_bridge"]["engine"]
    client.post(PAGE, data=form_data(token, events=["mentions"], channel="talk", wiki="ES.Wikipedia.org"))
    got = prefs_.get(engine, ALICE)
    assert (got.channel, got.wiki) == ("talk", "es.wikipedia.org")
    # a wiki the bridge has no bot account on: said at once, rather than never written
    answer = client.post(PAGE, data=form_data(token, events=["mentions"], channel="talk", wiki="meta.wikimedia.org"))
    assert answer.status_code == 400
    assert "cannot write on meta.wikimedia.org; it writes talk pages on es.wikipedia.org only" in \
        soup(answer).find(id="notify-wiki-error").text.replace("\u2068", "").replace("\u2069", "")
    assert prefs_.get(engine, ALICE).wiki == "es.wikipedia.org"
    client.post(PAGE, data=form_data(token, events=["mentions"], channel="email", wiki="meta.wikimedia.org"))
    assert prefs_.get(engine, ALICE).channel == "email"  # the wiki matters only for the talk page
    client.post(PAGE, data=form_data(token, events=["mentions"], channel="talk", wiki=""))  # empty: the default
    assert prefs_.get(engine, ALICE).wiki == "es.wikipedia.org"


@pytest.mark.parametrize("token", [None, "", "not-the-token-0123456789abcdef0123456789"])
def test_a_post_without_the_session_token_saves_nothing(client, token):
    log_in(client, ALICE)
    data = form_data(token, events=["mentions"], channel="email")
    if token is None:
        del data["csrf_token"]
    response = client.post(PAGE + "?uselang=es", data=data)
    assert response.status_code == 400
    assert soup(response).h1.text == "No se guardó nada"
    assert prefs_.get(client.application.extensions["space_bridge"]["engine"], ALICE) == prefs_.defaults(ALICE)


def test_a_token_of_another_session_saves_nothing(app):
    other, mine = app.test_client(), app.test_client()
    stolen = log_in(other, BOB)
    log_in(mine, ALICE)
    assert mine.post(PAGE, data=form_data(stolen, events=["mentions"])).status_code == 400
    assert prefs_.get(app.extensions["space_bridge"]["engine"], ALICE) == prefs_.defaults(ALICE)


def test_spanish_messages_name_the_field_and_keep_what_was_typed(client):
    token = log_in(client, ALICE)
    response = client.post(PAGE, data=form_data(
        token, uselang="es", events=["new_posts"], categories="Comunidad", tags="x" * 150, languages="es, Español",
        channel="talk", wiki="no es un wiki"))
    assert response.status_code == 400
    page = soup(response)
    errors = [li.text for li in page.select("#notify-errors li")]
    assert errors[0] == ("\u2068Etiquetas\u2069: «\u2068" + "x" * 100 + "…\u2069» es demasiado largo "
                         "(como máximo \u2068100\u2069 caracteres).")
    assert errors[1] == "\u2068Idiomas\u2069: «\u2068Español\u2069» no es un código de idioma como en, es o pt-br."
    assert errors[2].startswith("\u2068Mi wiki principal\u2069: «\u2068no es un wiki\u2069»")
    assert page.select_one("#notify-errors h2").text == "No se guardó nada. Corrige lo siguiente:"
    # nothing is lost: the form shows what was typed, the invalid fields marked and described
    assert page.select_one("#notify-categories")["value"] == "Comunidad"
    assert page.select_one("#notify-languages")["value"] == "es, Español"
    assert page.select_one("#notify-wiki")["value"] == "no es un wiki"
    assert page.select_one("input[name=channel][checked]")["value"] == "talk"
    assert page.select_one("#notify-languages")["aria-invalid"] == "true"
    assert "notify-languages-error" in page.select_one("#notify-languages")["aria-describedby"]
    assert prefs_.get(client.application.extensions["space_bridge"]["engine"], ALICE) == prefs_.defaults(ALICE)


def test_arabic_is_right_to_left_with_arabic_messages(client):
    token = log_in(client, ALICE)
    response = client.post(PAGE, data=form_data(token, uselang="ar", languages="عربي", frequency="hourly"))
    assert response.status_code == 400
    page = soup(response)
    assert (page.html["lang"], page.html["dir"]) == ("ar", "rtl")
    errors = [li.text for li in page.select("#notify-errors li")]
    assert errors == ["\u2068اللغات\u2069: «\u2068عربي\u2069» ليس رمز لغة مثل en أو es أو pt-br.",
                      "\u2068كم مرة\u2069: هذا الاختيار ليس من الخيارات التي يعرضها النموذج."]
    assert page.select_one("input[name=uselang]")["value"] == "ar"  # the next try stays in Arabic


def test_email_is_offered_only_with_a_confirmed_address(client):
    token = log_in(client, BOB)
    page = soup(client.get(PAGE))
    assert page.select_one("#notify-channel-email").has_attr("disabled")
    assert "confirmed email" in page.select_one("#notify-email-help").text
    response = client.post(PAGE, data=form_data(token, events=["mentions"], channel="email"))
    assert response.status_code == 400
    assert "email needs a confirmed email address" in soup(response).select_one("#notify-channel-error").text
    assert prefs_.get(client.application.extensions["space_bridge"]["engine"], BOB) == prefs_.defaults(BOB)


# -- unsubscribe ----------------------------------------------------------------------------------
def _subscribed(engine):
    for sub in (ALICE, BOB):
        prefs_.save(engine, prefs_.Preferences(
            sub=sub, events=frozenset({"mentions", "new_posts"}), categories=frozenset(), tags=frozenset(),
            languages=frozenset(), channel="talk", frequency="instant", wiki="meta.wikimedia.org", updated_at=None))


def test_get_never_unsubscribes(client):
    engine = client.application.extensions["space_bridge"]["engine"]
    _subscribed(engine)
    token = u.link_token(KEY, ALICE, "mentions", time.time())
    for _ in range(2):  # a mail scanner, then the member
        response = client.get(UNSUB + "?" + urlencode({"t": token, "uselang": "es"}))
        assert response.status_code == 200
    page = soup(response)
    assert "Alice Example" in page.select_one(".message").text and "Menciones de mí" in page.select_one(".message").text
    assert page.form["method"] == "post" and page.select_one("input[name=t]")["value"] == token
    assert response.headers["Referrer-Policy"] == "no-referrer"  # the token is in the address
    assert prefs_.get(engine, ALICE).events == {"mentions", "new_posts"}


def test_the_button_unsubscribes_without_logging_in(client):
    engine = client.application.extensions["space_bridge"]["engine"]
    _subscribed(engine)
    response = client.post(UNSUB, data={"t": u.link_token(KEY, ALICE, "mentions", time.time())})
    assert response.status_code == 200
    assert soup(response).h1.text == "You are unsubscribed"
    assert prefs_.get(engine, ALICE).events == {"new_posts"}
    assert prefs_.get(engine, BOB).events == {"mentions", "new_posts"}  # only the member the token names
    client.post(UNSUB, data={"t": u.link_token(KEY, BOB, None, time.time())})
    assert prefs_.get(engine, BOB).channel == "none" and prefs_.wanting(engine, "new_posts")[0].sub == ALICE


def test_one_click_post_unsubscribes_at_once(client):
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` to the header's URI, no cookie."""
    engine = client.application.extensions["space_bridge"]["engine"]
    _subscribed(engine)
    link = u.headers(KEY, "http://localhost", ALICE, None, time.time())["List-Unsubscribe"][1:-1]
    response = client.post(link.removeprefix("http://localhost"), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert prefs_.get(engine, ALICE).channel == "none"
    assert prefs_.get(engine, BOB).channel == "talk"


@pytest.mark.parametrize("make, reason", [
    (lambda: u.link_token(KEY, ALICE, None, time.time())[:-1] + "0", "signature"),
    (lambda: u.link_token(u.secret("some-other-secret-key-0123456789abc"), ALICE, None, time.time()), "signature"),
    (lambda: u.link_token(KEY, ALICE, None, time.time() - 366 * 86400), "expired"),
    (lambda: "../../etc/passwd", "malformed"),
    (lambda: "", "malformed"),
])
def test_bad_links_are_refused_plainly_and_change_nothing(client, make, reason):
    engine = client.application.extensions["space_bridge"]["engine"]
    _subscribed(engine)
    token = make()
    get = client.get(UNSUB + "?" + urlencode({"t": token}))
    post = client.post(UNSUB, data={"t": token})
    one_click = client.post(UNSUB + "?" + urlencode({"t": token}), data={"List-Unsubscribe": "One-Click"})
    assert (get.status_code, post.status_code, one_click.status_code) == (400, 400, 400)
    assert soup(get).select_one(".message")["data-reason"] == reason
    assert ("expired" in soup(post).select_one(".message").text) == (reason == "expired")
    assert prefs_.get(engine, ALICE).channel == "talk" and prefs_.get(engine, ALICE).events == {"mentions", "new_posts"}


def test_notify_turned_off_serves_nothing(engine, db_url):
    add_members(engine)
    app = create_app(settings_for(db_url, {"enabled": False}), engine)
    assert app.test_client().get(PAGE).status_code == 404
    assert app.test_client().get(UNSUB + "?t=x").status_code == 404


def test_without_wikimedia_login_only_the_unsubscribe_links_are_served(engine, db_url):
    """The settings page is a member's and needs the login; a link already sent still works."""
    settings = settings_for(db_url)
    settings = settings.model_copy(update={"wikimedia": None})
    _subscribed(engine)
    client = create_app(settings, engine).test_client()
    assert client.get(PAGE).status_code == 404
    assert client.post(UNSUB, data={"t": u.link_token(KEY, ALICE, None, time.time())}).status_code == 200
    assert prefs_.get(engine, ALICE).channel == "none"


def test_email_is_not_offered_when_no_mail_server_is_known(engine, db_url):
    """A choice the bridge could not honour is no choice (sync/notify/settings.py `mail`)."""
    from notify_helpers import ALICE, add_members, log_in, settings_for

    settings = settings_for(db_url)
    data = settings.model_dump(mode="python")
    data["notify"]["email"] = None
    bare = type(settings).model_validate(data)
    add_members(engine)
    client = create_app(bare, engine).test_client()
    token = log_in(client, ALICE)
    page = client.get("/me/notifications").get_data(as_text=True)
    email = BeautifulSoup(page, "html.parser").find("input", attrs={"name": "channel", "value": "email"})
    assert email.has_attr("disabled")
    answer = client.post("/me/notifications", data={"csrf_token": token, "events": "mentions", "channel": "email",
                                                      "frequency": "instant"})
    assert answer.status_code == 400
