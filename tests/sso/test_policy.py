"""The login policy: a pure function, checked rule by rule against a table of profiles."""

from __future__ import annotations

import datetime as dt

import pytest

from bridge.config import PolicySettings
from sso import policy
from sso.profile import parse_profile

NOW = dt.datetime(2026, 11, 27, 12, 0, 0)


def profile(**overrides):
    data = {"sub": 1001, "username": "Alice Member", "editcount": 1500, "confirmed_email": True,
            "blocked": False, "registered": "20150312104500", "groups": ["*", "user", "autoconfirmed"],
            "rights": ["read", "edit"], "grants": ["mwoauth-authonlyprivate"],
            "email": "alice@example.org", "realname": "Alice"}
    data.update(overrides)
    return parse_profile({k: v for k, v in data.items() if v is not ...})


STRICT = dict(min_edit_count=100, min_account_age_days=30)

CASES = [
    # (name, profile overrides, policy settings, allowed, reason, params, email_unconfirmed)
    ("ordinary member", {}, {}, True, policy.ALLOWED, (), False),
    ("ordinary member, strict thresholds", {}, STRICT, True, policy.ALLOWED, (), False),
    ("blocked", {"blocked": True}, {}, False, policy.BLOCKED, (), False),
    ("blocked, blocks allowed by policy", {"blocked": True}, {"deny_blocked": False}, True, policy.ALLOWED, (), False),
    ("hidden user: only sub and blocked", {"username": ..., "editcount": ..., "confirmed_email": ...,
                                            "registered": ..., "email": ..., "blocked": True},
     {}, False, policy.BLOCKED, (), False),
    ("hidden user with blocks allowed", {"username": ..., "email": ..., "blocked": True}, {"deny_blocked": False},
     False, policy.PROFILE_INCOMPLETE, (), False),
    ("not attached to a central account", {"sub": False}, {}, False, policy.PROFILE_INCOMPLETE, (), False),
    ("unconfirmed email, required", {"confirmed_email": False}, {}, False, policy.EMAIL_UNCONFIRMED, (), False),
    ("unconfirmed email, not required", {"confirmed_email": False}, {"require_confirmed_email": False},
     True, policy.ALLOWED, (), True),
    ("no email address", {"email": ""}, {}, False, policy.EMAIL_MISSING, (), False),
    ("no email grant", {"email": ...}, {"require_confirmed_email": False}, False, policy.EMAIL_MISSING, (), False),
    ("low edit count", {"editcount": 3}, STRICT, False, policy.EDIT_COUNT, (100, 3), False),
    ("edit count exactly the minimum", {"editcount": 100}, STRICT, True, policy.ALLOWED, (), False),
    ("young account", {"registered": "20261126120000"}, STRICT, False, policy.ACCOUNT_AGE, (30, 1), False),
    ("account exactly old enough", {"registered": "20261028120000"}, STRICT, True, policy.ALLOWED, (), False),
    ("no registration date: predates tracking", {"registered": None}, STRICT, True, policy.ALLOWED, (), False),
    ("edit count checked before age", {"editcount": 3, "registered": "20261126120000"}, STRICT,
     False, policy.EDIT_COUNT, (100, 3), False),
    ("deny list", {}, {"deny_users": ["Alice Member"]}, False, policy.DENY_LIST, ("Alice Member",), False),
    ("deny list, MediaWiki spelling", {}, {"deny_users": ["alice_Member"]}, False, policy.DENY_LIST,
     ("Alice Member",), False),
    ("deny list by central id", {}, {"deny_users": ["#1001"]}, False, policy.DENY_LIST, ("Alice Member",), False),
    ("deny list wins over allow list", {}, {"deny_users": ["Alice Member"], "allow_users": ["Alice Member"]},
     False, policy.DENY_LIST, ("Alice Member",), False),
    ("allow list skips thresholds", {"editcount": 3, "registered": "20261126120000"},
     {**STRICT, "allow_users": ["Alice_Member"]}, True, policy.ALLOW_LIST, (), False),
    ("allow list skips email confirmation, recorded", {"confirmed_email": False}, {"allow_users": ["#1001"]},
     True, policy.ALLOW_LIST, (), True),
    ("allow list does not lift a block", {"blocked": True}, {"allow_users": ["Alice Member"]},
     False, policy.BLOCKED, (), False),
    ("allow list still needs an address", {"email": ""}, {"allow_users": ["Alice Member"]},
     False, policy.EMAIL_MISSING, (), False),
    ("someone else on the lists", {}, {"deny_users": ["Bob"], "allow_users": ["Carol"]}, True, policy.ALLOWED, (), False),
    ("non-ASCII name on the deny list", {"username": "Женя"}, {"deny_users": ["женя"]},
     False, policy.DENY_LIST, ("Женя",), False),
]


@pytest.mark.parametrize("overrides, settings, allowed, reason, params, unconfirmed",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_policy(overrides, settings, allowed, reason, params, unconfirmed):
    decision = policy.evaluate(profile(**overrides), PolicySettings(**settings), now=NOW)
    assert decision == policy.Decision(allowed, reason, params, unconfirmed)


def test_every_refusal_reason_is_listed():
    reasons = {c[4] for c in CASES if not c[3]}
    assert reasons == set(policy.REFUSALS)


@pytest.mark.parametrize("raw, canonical", [
    ("ziko_van_Dijk", "Ziko van Dijk"), ("  Ziko  van__Dijk ", "Ziko van Dijk"), ("женя", "Женя"), ("", ""),
])
def test_usernames_compare_like_mediawiki(raw, canonical):
    assert policy.normalise_username(raw) == canonical


def test_default_now_is_utc():
    young = profile(registered=dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S"))
    assert policy.evaluate(young, PolicySettings(min_account_age_days=1)).reason == policy.ACCOUNT_AGE
