"""Who a member is on the forum, for the flows that act in a member's name (the mirror posts a
blog post's topic as its author).

A member is found by external id only: the Wikimedia central user id (`sub`) that a
DiscourseConnect login stored on their accounts. Never by a name or an email: display names,
nicknames and real names are chosen by their owners, so matching them would let anyone post
as anyone.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bridge.store import accounts, reader, sso_members


def forum_username(engine: Engine, external_id: str | int) -> str | None:
    """The forum username of the member with this external id; None when no login ever gave
    them one (sso/usernames.py) or their Wikimedia account is blocked (sso/accounts.py)."""
    sub = str(external_id)
    with reader(engine) as conn:
        found = conn.execute(sa.select(sso_members.c.username).where(sso_members.c.sub == sub)).scalar()
        blocked = conn.execute(sa.select(accounts.c.blocked).where(accounts.c.sub == sub)).scalar()
    return found if found and not blocked else None
