"""Who a member is on the forum, for the flows that act in a member's name (the mirror posts a
blog post's topic as its author).

A member is found by external id only: the Wikimedia central user id (`sub`) that a
DiscourseConnect login stored on their accounts. Never by a name or an email: display names,
nicknames and real names are chosen by their owners, so matching them would let anyone post
as anyone.

The forum username is the forum's, not the bridge's idea of it: Discourse may have given the
member another name than the one the bridge sent (lib/user_name_suggester.rb: a name in the
forum's ``reserved_usernames`` or already held by a local account gets a number, ``Support`` ->
``Support1``), and posting under the bridge's name would then fail, or act as someone else. So a
flow that asks with a forum `lookup` gets the name the forum answers for the external id
(``GET /u/by-external/{external_id}.json``), and the bridge stores it for its next answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from bridge.store import accounts, reader, sso_members
from sso import usernames

log = structlog.get_logger(__name__)


def forum_username(engine: Engine, external_id: str | int, lookup: Callable[[str], Any] | None = None) -> str | None:
    """The forum username of the member with this external id; None when their Wikimedia account
    is blocked (sso/accounts.py), and, without `lookup`, when no login ever gave them one
    (sso/usernames.py).

    `lookup(external_id)`: the forum's user with that external id (anything with a `username`)
    or None; with it the answer is the forum's name (None: the forum has no such member), and
    the bridge's stored name follows it (:func:`learn`).
    """
    sub = str(external_id)
    with reader(engine) as conn:
        found = conn.execute(sa.select(sso_members.c.username).where(sso_members.c.sub == sub)).scalar()
        blocked = conn.execute(sa.select(accounts.c.blocked).where(accounts.c.sub == sub)).scalar()
    if blocked:
        return None
    if lookup is None:
        return found or None
    user = lookup(sub)
    name = getattr(user, "username", None) or None
    if name is not None and name != found:
        learn(engine, sub, name)
    return name


def learn(engine: Engine, sub: str, forum_name: str) -> bool:
    """Keep the name the forum gave the member (it answered a sync or a look-up by external id);
    False when it could not be stored (another member of this bridge holds it)."""
    before = usernames.stored(engine, sub)
    if not forum_name or forum_name == before:
        return False
    if usernames.adopt(engine, sub, forum_name):
        log.info("sso.forum_username_learned", sub=str(sub), bridge_name=before, forum_name=forum_name)
        return True
    log.warning("sso.forum_username_conflict", sub=str(sub), bridge_name=before, forum_name=forum_name)
    return False
