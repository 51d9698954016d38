"""sso/members.py, the member look-up the mirror posts through: by external id only."""

from __future__ import annotations

import sqlalchemy as sa

from bridge.store import accounts, sso_members, utcnow
from sso import members


def _member(engine, sub: str, username: str, *, blocked: bool | None = False) -> None:
    """sso_members row (the forum name) and, unless `blocked` is None, the accounts row."""
    now = utcnow()
    with engine.begin() as conn:
        if blocked is not None:
            conn.execute(sa.insert(accounts).values(
                sub=sub, username=f"Wiki {username}", email=f"{username}@example.org", email_confirmed=True,
                realname=username, groups=[], editcount=1, registered=None, blocked=blocked, platforms=[],
                last_login_at=now, created_at=now, updated_at=now))
        conn.execute(sa.insert(sso_members).values(sub=sub, username=username, username_lower=username.lower(),
                                                   discourse_fields_hash=None, created_at=now, updated_at=now))


def test_forum_username_by_external_id_only(engine):
    _member(engine, "101", "Boss")
    _member(engine, "102", "Locked", blocked=True)
    _member(engine, "103", "Unprofiled", blocked=None)
    assert members.forum_username(engine, "101") == "Boss"
    assert members.forum_username(engine, 101) == "Boss"
    assert members.forum_username(engine, "102") is None   # a blocked member posts as no one
    assert members.forum_username(engine, "103") == "Unprofiled"  # no accounts row: not known to be blocked
    assert members.forum_username(engine, "999") is None
    for not_an_id in ("Boss", "boss", "Wiki Boss", "Boss@example.org"):
        assert members.forum_username(engine, not_an_id) is None, not_an_id
