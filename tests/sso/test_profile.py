"""Reading the profile JSON of Wikimedia's OAuth 2.0 resource endpoint."""

from __future__ import annotations

import datetime as dt

import pytest

from sso.profile import ProfileError, parse_mw_timestamp, parse_profile

FULL = {"sub": 12345, "username": "Ziko van Dijk", "editcount": 1500, "confirmed_email": True,
        "email_verified": True, "blocked": False, "registered": "20150312104500",
        "groups": ["*", "user", "autoconfirmed"], "rights": ["read", "edit"],
        "grants": ["mwoauth-authonlyprivate"], "realname": "Ziko", "email": "ziko@example.org"}


def test_full_profile():
    p = parse_profile(FULL)
    assert (p.sub, p.username, p.editcount, p.confirmed_email, p.blocked) == ("12345", "Ziko van Dijk", 1500, True, False)
    assert p.registered == dt.datetime(2015, 3, 12, 10, 45, 0)
    assert p.groups == ("*", "user", "autoconfirmed") and p.grants == ("mwoauth-authonlyprivate",)
    assert (p.email, p.realname, p.complete) == ("ziko@example.org", "Ziko", True)


def test_hidden_user_has_only_sub_and_blocked():
    p = parse_profile({"sub": 7, "blocked": True})
    assert (p.sub, p.username, p.blocked, p.email, p.complete) == ("7", None, True, None, False)


def test_identity_only_grant_has_no_email_and_empty_email_is_none():
    assert parse_profile({k: v for k, v in FULL.items() if k not in ("email", "realname")}).email is None
    assert parse_profile({**FULL, "email": "", "realname": ""}).email is None


def test_unattached_account_has_no_sub_and_missing_blocked_fails_closed():
    assert parse_profile({**FULL, "sub": False}).sub is None
    assert parse_profile({k: v for k, v in FULL.items() if k != "blocked"}).blocked is True


def test_registration_formats():
    assert parse_mw_timestamp(None) is None
    assert parse_mw_timestamp("20010115000000") == dt.datetime(2001, 1, 15)
    assert parse_mw_timestamp("2015-03-12T10:45:00Z") == dt.datetime(2015, 3, 12, 10, 45)


@pytest.mark.parametrize("bad", [[], "profile", {"sub": [1]}, {"sub": True}, {**FULL, "registered": "yesterday"},
                                 {**FULL, "editcount": "many"}])
def test_not_a_profile(bad):
    with pytest.raises(ProfileError):
        parse_profile(bad)
