"""The members' choices as the planner reads them, on SQLite and PostgreSQL.

What a member saved comes back whole; a member who chose nothing gets nothing (defaults: no
event, channel none); `wanting(event)` is exactly the members who chose that event and a
channel; unsubscribing stops one event or everything; and a value that cannot be stored is
refused naming its field, before anything is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import sqlalchemy as sa

from bridge.store import utcnow
from sync.notify import preferences as prefs_
from sync.notify.preferences import EVENTS, InvalidPreference, Preferences
from sync.notify.schema import preferences as table


def chosen(sub, events=(), channel="talk", **changes) -> Preferences:
    base = prefs_.defaults(sub)
    wiki = "meta.wikimedia.org" if channel == "talk" else None
    return dataclasses.replace(base, events=frozenset(events), channel=channel, wiki=changes.pop("wiki", wiki),
                               **changes)


def test_defaults_deliver_nothing(engine):
    got = prefs_.get(engine, "42")
    assert got == prefs_.defaults("42")
    assert got.events == frozenset() and got.channel == "none" and got.frequency == "instant"
    assert prefs_.wanting(engine, "new_posts") == []


def test_saved_choices_come_back_whole(engine):
    saved = chosen("7", EVENTS, channel="email", categories=frozenset({"community-news", "تقنية"}),
                   tags=frozenset({"wikidata"}), languages=frozenset({"es", "pt-br"}), frequency="weekly",
                   wiki="es.wikipedia.org")
    before = utcnow()
    prefs_.save(engine, saved)
    got = prefs_.get(engine, "7")
    assert dataclasses.replace(got, updated_at=None) == saved
    assert got.updated_at is not None and got.updated_at >= before - dt.timedelta(seconds=1)
    with engine.connect() as conn:  # a connection works too (the planner reads inside its own transaction)
        assert prefs_.get(conn, "7").events == frozenset(EVENTS)


def test_saving_again_replaces_every_choice(engine):
    prefs_.save(engine, chosen("7", EVENTS, tags=frozenset({"a", "b"})))
    prefs_.save(engine, chosen("7", {"mentions"}, channel="none"))
    got = prefs_.get(engine, "7")
    assert got.events == {"mentions"} and got.tags == frozenset() and got.channel == "none" and got.wiki is None


def test_wanting_is_the_members_who_chose_the_event_and_a_channel(engine):
    prefs_.save(engine, chosen("1", {"new_posts", "mentions"}))
    prefs_.save(engine, chosen("2", {"mentions"}, channel="email"))
    prefs_.save(engine, chosen("3", {"mentions"}, channel="none"))  # chose it, but nowhere to send it
    prefs_.save(engine, chosen("4", {"replies_to_my_posts"}))
    assert [p.sub for p in prefs_.wanting(engine, "mentions")] == ["1", "2"]
    assert [p.sub for p in prefs_.wanting(engine, "new_posts")] == ["1"]
    assert prefs_.wanting(engine, "first_reply_to_my_blog_post") == []
    with pytest.raises(ValueError):
        prefs_.wanting(engine, "everything")


def test_a_category_key_is_found_with_one_like(engine):
    """The lists are stored "|a|b|": the planner may filter in SQL, and a key never matches a longer one."""
    prefs_.save(engine, chosen("1", {"new_posts"}, categories=frozenset({"news", "community-news"})))
    prefs_.save(engine, chosen("2", {"new_posts"}, categories=frozenset({"newsletter"})))
    with engine.connect() as conn:
        subs = conn.execute(sa.select(table.c.sub).where(table.c.categories.like("%|news|%"))).scalars().all()
    assert subs == ["1"]


def test_unsubscribe_one_event_or_everything(engine):
    prefs_.save(engine, chosen("1", {"new_posts", "mentions"}))
    prefs_.unsubscribe(engine, "1", "mentions")
    assert prefs_.get(engine, "1").events == {"new_posts"}
    assert [p.sub for p in prefs_.wanting(engine, "new_posts")] == ["1"]
    prefs_.unsubscribe(engine, "1")
    assert prefs_.get(engine, "1").channel == "none"
    assert prefs_.wanting(engine, "new_posts") == []
    prefs_.unsubscribe(engine, "nobody")  # nothing to stop is no error
    assert prefs_.get(engine, "nobody") == prefs_.defaults("nobody")


@pytest.mark.parametrize("change, field", [
    ({"events": frozenset({"everything"})}, "events"),
    ({"channel": "pigeon"}, "channel"),
    ({"frequency": "hourly"}, "frequency"),
    ({"categories": frozenset({"Not A Key"})}, "categories"),
    ({"tags": frozenset({"a|b"})}, "tags"),
    ({"tags": frozenset(f"t{i}" for i in range(prefs_.MAX_ITEMS + 1))}, "tags"),
    ({"languages": frozenset({"english"})}, "languages"),
    ({"wiki": "not a host"}, "wiki"),
    ({"wiki": None}, "wiki"),  # a talk page needs its wiki
    ({"sub": ""}, "sub"),
])
def test_what_cannot_be_stored_is_refused_naming_the_field(engine, change, field):
    with pytest.raises(InvalidPreference) as raised:
        prefs_.save(engine, dataclasses.replace(chosen("9", {"new_posts"}), **change))
    assert raised.value.field == field and str(raised.value).startswith(field + ":")
    assert isinstance(raised.value, ValueError)
    assert prefs_.get(engine, "9") == prefs_.defaults("9")


def test_typed_lists_become_keys():
    assert prefs_.parse_list("categories", " Community  News, ,events_2026 ") == {"community-news", "events-2026"}
    assert prefs_.parse_list("tags", "ويكي بيانات، المنح") == {"ويكي-بيانات", "المنح"}  # the Arabic comma separates too
    assert prefs_.parse_list("languages", "ES, pt_BR") == {"es", "pt-br"}
    with pytest.raises(InvalidPreference) as raised:
        prefs_.parse_list("languages", "en, Español")
    assert (raised.value.field, raised.value.code, raised.value.params) == ("languages", "language", ("Español",))


def test_ten_thousand_members_one_event(engine):
    """The planner's question at the issue's scale: one indexed range, answered whole."""
    now = utcnow()
    rows = [{"sub": str(n), **{f"event_{e}": (e == "mentions") == (n % 3 == 0) for e in EVENTS}, "categories": "",
             "tags": "", "languages": "", "channel": "none" if n % 10 == 0 else "talk", "frequency": "instant",
             "wiki": "meta.wikimedia.org", "updated_at": now} for n in range(10_000)]
    with engine.begin() as conn:
        conn.execute(table.insert(), rows)
    want = prefs_.wanting(engine, "mentions")
    assert len(want) == len([n for n in range(10_000) if n % 3 == 0 and n % 10 != 0])
    assert all(p.events == {"mentions"} for p in want)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            plan = " ".join(str(r) for r in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT sub FROM notify_preferences WHERE event_mentions = 1 AND channel != 'none'"))
        assert "ix_notify_preferences_event_mentions_channel" in plan
