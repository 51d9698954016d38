"""The account store, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from sso import accounts

PROFILE = {"sub": 1001, "username": "Alice Member", "editcount": 1500, "confirmed_email": True, "blocked": False,
           "registered": "20150312104500", "groups": ["*", "user"], "rights": ["read"],
           "grants": ["mwoauth-authonlyprivate"], "email": "alice@example.org", "realname": "Alice"}
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)


def test_login_creates_then_refreshes_the_account(engine):
    assert accounts.get(engine, 1001) is None
    first = accounts.upsert_from_profile(engine, PROFILE, now=T0)
    assert first.sub == "1001" and first.username == "Alice Member" and first.email == "alice@example.org"
    assert first.registered == dt.datetime(2015, 3, 12, 10, 45)
    assert (first.created_at, first.updated_at, first.last_login_at, first.platforms) == (T0, T0, T0, ())

    renamed = {**PROFILE, "username": "Alice Renamed", "editcount": 1600, "blocked": True, "groups": ["*", "user", "sysop"]}
    later = T0 + dt.timedelta(days=1)
    second = accounts.upsert_from_profile(engine, renamed, now=later)
    assert (second.username, second.editcount, second.blocked, second.groups) == (
        "Alice Renamed", 1600, True, ("*", "user", "sysop"))
    assert (second.created_at, second.updated_at, second.last_login_at) == (T0, later, later)
    assert accounts.get(engine, "1001") == second


def test_recheck_keeps_last_login_and_platforms(engine):
    accounts.upsert_from_profile(engine, PROFILE, now=T0)
    accounts.mark_platform(engine, 1001, "discourse")
    rechecked = accounts.upsert_from_profile(engine, {**PROFILE, "blocked": True}, login=False,
                                             now=T0 + dt.timedelta(hours=3))
    assert rechecked.blocked and rechecked.last_login_at == T0 and rechecked.platforms == ("discourse",)


def test_mark_platform_is_idempotent_and_needs_an_account(engine):
    accounts.upsert_from_profile(engine, PROFILE)
    accounts.mark_platform(engine, 1001, "discourse")
    accounts.mark_platform(engine, 1001, "wordpress")
    assert accounts.mark_platform(engine, 1001, "discourse").platforms == ("discourse", "wordpress")
    with pytest.raises(KeyError):
        accounts.mark_platform(engine, 9999, "discourse")


def test_profile_without_identity_is_refused(engine):
    with pytest.raises(ValueError):
        accounts.upsert_from_profile(engine, {"sub": 7, "blocked": True})


def test_non_ascii_names_round_trip(engine):
    acc = accounts.upsert_from_profile(engine, {**PROFILE, "sub": 42, "username": "Женя", "realname": "Женя Ц."})
    assert accounts.get(engine, 42).username == "Женя" and acc.realname == "Женя Ц."


def test_all_accounts_pages_through_every_row(engine):
    for n in range(7):
        accounts.upsert_from_profile(engine, {**PROFILE, "sub": 100 + n, "username": f"Member {n}"})
    listed = list(accounts.all_accounts(engine, batch_size=3))
    assert [a.sub for a in listed] == [str(100 + n) for n in range(7)]


def test_concurrent_first_logins_make_one_account(engine):
    errors = []

    def login():
        try:
            for _ in range(5):
                accounts.upsert_from_profile(engine, PROFILE)
                accounts.mark_platform(engine, 1001, "discourse")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=login) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [a.sub for a in accounts.all_accounts(engine)] == ["1001"]
    assert accounts.get(engine, 1001).platforms == ("discourse",)


def test_to_json_is_serialisable(engine):
    import json

    data = accounts.upsert_from_profile(engine, PROFILE, now=T0).to_json()
    assert json.loads(json.dumps(data))["last_login_at"] == "2026-01-01T12:00:00Z"
