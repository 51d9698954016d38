"""Member accounts: one per Wikimedia central user id (`sub`), refreshed from the profile.

    account = upsert_from_profile(engine, profile)            # at each login (sets last_login_at)
    account = upsert_from_profile(engine, profile, login=False)   # a periodic re-check
    account = get(engine, sub)                                # None when unknown
    account = mark_platform(engine, sub, "discourse")         # the member used the forum
    for account in all_accounts(engine): ...                  # ordered by sub

Writes are single statements or short transactions that are safe when two requests for the same
member race (two tabs finishing a login at once): the upsert is one INSERT .. ON CONFLICT DO
UPDATE on both SQLite and PostgreSQL, and `mark_platform` locks the row it changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from bridge.store import accounts, is_sqlite, reader, utcnow
from sso.profile import Profile, parse_profile


@dataclasses.dataclass(frozen=True)
class Account:
    sub: str
    username: str
    email: str | None
    email_confirmed: bool
    realname: str | None
    groups: tuple[str, ...]
    editcount: int
    registered: dt.datetime | None
    blocked: bool
    platforms: tuple[str, ...]
    last_login_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    def to_json(self) -> dict[str, Any]:
        def iso(value: dt.datetime | None) -> str | None:
            return value.isoformat() + "Z" if value else None

        return {
            "sub": self.sub, "username": self.username, "email": self.email,
            "email_confirmed": self.email_confirmed, "realname": self.realname,
            "groups": list(self.groups), "editcount": self.editcount,
            "registered": iso(self.registered), "blocked": self.blocked,
            "platforms": list(self.platforms), "last_login_at": iso(self.last_login_at),
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


def _account(row: Mapping[str, Any]) -> Account:
    return Account(
        sub=row["sub"], username=row["username"], email=row["email"],
        email_confirmed=bool(row["email_confirmed"]), realname=row["realname"],
        groups=tuple(row["groups"] or ()), editcount=int(row["editcount"]),
        registered=row["registered"], blocked=bool(row["blocked"]),
        platforms=tuple(row["platforms"] or ()), last_login_at=row["last_login_at"],
        created_at=row["created_at"], updated_at=row["updated_at"],
    )


def _insert(engine: Engine):
    return (sqlite.insert if is_sqlite(engine) else postgresql.insert)(accounts)


def upsert_from_profile(engine: Engine, profile: Profile | Mapping[str, Any], *, login: bool = True,
                        now: dt.datetime | None = None) -> Account:
    """Create or refresh the account of `profile` (a `Profile` or the profile JSON).

    Everything Wikimedia says about the member is replaced; `platforms` and `created_at` are
    kept. `login=False` (a re-check, not a login) leaves `last_login_at` alone.
    """
    if not isinstance(profile, Profile):
        profile = parse_profile(profile)
    if not profile.complete:
        raise ValueError("a profile without a central id or a username cannot have an account")
    now = now or utcnow()
    values = {
        "username": profile.username, "email": profile.email,
        "email_confirmed": profile.confirmed_email, "realname": profile.realname,
        "groups": list(profile.groups), "editcount": profile.editcount,
        "registered": profile.registered, "blocked": profile.blocked, "updated_at": now,
    }
    if login:
        values["last_login_at"] = now
    stmt = _insert(engine).values(sub=profile.sub, platforms=[], created_at=now,
                                  **{"last_login_at": None, **values})
    stmt = stmt.on_conflict_do_update(index_elements=[accounts.c.sub], set_=values)
    with engine.begin() as conn:
        conn.execute(stmt)
        row = conn.execute(sa.select(accounts).where(accounts.c.sub == profile.sub)).mappings().one()
    return _account(row)


def get(engine: Engine, sub: str | int) -> Account | None:
    with reader(engine) as conn:
        row = conn.execute(sa.select(accounts).where(accounts.c.sub == str(sub))).mappings().first()
    return _account(row) if row else None


def mark_platform(engine: Engine, sub: str | int, platform: str) -> Account:
    """Add `platform` to the places the member has used (idempotent); KeyError if unknown."""
    if not platform or not platform.strip():
        raise ValueError("platform name is empty")
    sub = str(sub)
    with engine.begin() as conn:
        query = sa.select(accounts).where(accounts.c.sub == sub)
        if not is_sqlite(engine):  # SQLite: BEGIN IMMEDIATE already holds the write lock
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise KeyError(f"no account with sub {sub}")
        platforms = list(row["platforms"] or [])
        if platform not in platforms:
            platforms.append(platform)
            conn.execute(sa.update(accounts).where(accounts.c.sub == sub)
                         .values(platforms=platforms, updated_at=utcnow()))
            row = conn.execute(sa.select(accounts).where(accounts.c.sub == sub)).mappings().one()
    return _account(row)


def all_accounts(engine: Engine, batch_size: int = 500) -> Iterator[Account]:
    """Every account, ordered by `sub`, read in batches (keyset pagination, no long transaction)."""
    last: str | None = None
    while True:
        query = sa.select(accounts).order_by(accounts.c.sub).limit(batch_size)
        if last is not None:
            query = query.where(accounts.c.sub > last)
        with reader(engine) as conn:
            rows = conn.execute(query).mappings().all()
        if not rows:
            return
        for row in rows:
            yield _account(row)
        last = rows[-1]["sub"]
