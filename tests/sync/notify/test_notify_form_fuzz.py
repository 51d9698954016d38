"""Whatever a browser or a script sends to the notify pages, the answer is never a 5xx, and what
gets stored is always something the planner can read.

Hypothesis fills every field of the settings form (and adds unknown ones), with and without the
session's token, logged in with and without a confirmed email address, and sends any text as an
unsubscribe token, by GET, by the button's POST and as a one-click POST.
"""

from __future__ import annotations

import time

import pytest
from notify_helpers import ALICE, BOB, add_members, log_in, settings_for
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bridge import store
from bridge.app import create_app
from sync.notify import preferences as prefs_
from sync.notify.schema import CHANNELS, EVENTS, FREQUENCIES

TEXT = st.text(max_size=300)
HOSTILE = st.sampled_from(["", " ", "\x00", "<script>alert(1)</script>", "a|b", "،،", "en,,es", "x" * 3000,
                           "meta.wikimedia.org", "127.0.0.1:8080", "\u202eevil", "Community News"])
FIELD = st.one_of(TEXT, HOSTILE)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('notify-fuzz')}/bridge.db"
    engine = store.make_engine(url)
    store.upgrade(engine)
    add_members(engine)
    application = create_app(settings_for(url), engine)
    application.testing = False  # an exception is a 500
    yield application
    engine.dispose()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=st.lists(st.one_of(st.sampled_from(EVENTS), TEXT), max_size=8),
       categories=FIELD, tags=FIELD, languages=st.one_of(FIELD, st.just("es, pt-br")), wiki=FIELD,
       channel=st.one_of(st.sampled_from(CHANNELS), FIELD), frequency=st.one_of(st.sampled_from(FREQUENCIES), FIELD),
       uselang=st.one_of(st.sampled_from(["", "es", "ar", "xx"]), TEXT), extra=st.dictionaries(TEXT, TEXT, max_size=3),
       good_token=st.booleans(), member=st.sampled_from([ALICE, BOB]))
@example(events=list(EVENTS), categories="a, b", tags="", languages="es", wiki="", channel="talk",
         frequency="weekly", uselang="ar", extra={}, good_token=True, member=ALICE)
def test_any_settings_form(app, events, categories, tags, languages, wiki, channel, frequency, uselang, extra,
                           good_token, member):
    client = app.test_client()
    token = log_in(client, member)
    data = {**extra, "events": events, "categories": categories, "tags": tags, "languages": languages, "wiki": wiki,
            "channel": channel, "frequency": frequency, "uselang": uselang,
            "csrf_token": token if good_token else "x" * 43}
    response = client.post("/me/notifications", data=data)
    assert response.status_code in (303, 400), response.get_data(as_text=True)[:500]
    assert (response.status_code == 303) <= good_token
    stored = prefs_.get(app.extensions["space_bridge"]["engine"], member)
    prefs_.validate(stored)  # whatever was stored is readable and valid
    if response.status_code == 303:
        assert stored.channel == (channel or "none") and stored.events == set(events)  # no radio chosen: none
    page = client.get("/me/notifications?" + ("uselang=" + uselang if uselang.isascii() and uselang.isalnum() else ""))
    assert page.status_code == 200


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(token=st.one_of(TEXT, HOSTILE, st.text(alphabet="abcdef0123456789.-_ABC", max_size=120)),
       uselang=st.sampled_from(["", "es", "ar", "\x00"]))
def test_any_unsubscribe_token(app, token, uselang):
    client = app.test_client()
    engine = app.extensions["space_bridge"]["engine"]
    before = prefs_.get(engine, ALICE), prefs_.get(engine, BOB)
    for response in (client.get("/me/notifications/unsubscribe", query_string={"t": token, "uselang": uselang}),
                     client.post("/me/notifications/unsubscribe", data={"t": token, "uselang": uselang}),
                     client.post("/me/notifications/unsubscribe", query_string={"t": token},
                                 data={"List-Unsubscribe": "One-Click"})):
        assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert (prefs_.get(engine, ALICE), prefs_.get(engine, BOB)) == before
    time.sleep(0)
