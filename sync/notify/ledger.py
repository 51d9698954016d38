"""What was sent to each member and what waits for their digest (tables notify_sent, notify_pending).

Storage only, for the delivery jobs (sync/notify/deliver.py). A sent row is written in the same
transaction that ends the delivery's work, keyed like the delivery: a job run again after a
crash finds it and sends nothing. The talk-page cap counts the member's rows of the day on the
talk channel; a happening folded into a digest is a pending row, once per member however often
it is folded (the unique (sub, happening_id)).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from bridge.store import reader, utcnow
from sync.notify.schema import pending, sent

TALK_WRITTEN = "talk"  # the channel of a sent row that is a talk-page edit (counted by the cap)


def was_sent(conn_or_engine, key: str) -> bool:
    query = sa.select(sent.c.key).where(sent.c.key == key)
    if isinstance(conn_or_engine, sa.Connection):
        return conn_or_engine.execute(query).first() is not None
    with reader(conn_or_engine) as conn:
        return conn.execute(query).first() is not None


def record(conn: sa.Connection, key: str, sub: str, kind: str, channel: str, now: dt.datetime | None = None) -> bool:
    """Note that `key` was sent (or settled) for `sub`; False if it already was."""
    if was_sent(conn, key):
        return False
    conn.execute(sa.insert(sent).values(key=key[:255], sub=sub, kind=kind, channel=channel, sent_at=now or utcnow()))
    return True


def talk_edits_since(conn_or_engine, sub: str, since: dt.datetime) -> int:
    """The member's talk-page edits for single happenings since `since` (the cap's count)."""
    query = sa.select(sa.func.count()).select_from(sent).where(
        sent.c.sub == sub, sent.c.channel == TALK_WRITTEN, sent.c.kind == "event", sent.c.sent_at >= since)
    if isinstance(conn_or_engine, sa.Connection):
        return conn_or_engine.execute(query).scalar_one()
    with reader(conn_or_engine) as conn:
        return conn.execute(query).scalar_one()


def add_pending(conn: sa.Connection, sub: str, happening_id: str, reason: str, happening: dict[str, Any],
                now: dt.datetime | None = None) -> bool:
    """Keep the happening for the member's next digest; False when it already waits (or went)."""
    exists = conn.execute(sa.select(pending.c.id).where(pending.c.sub == sub,
                                                        pending.c.happening_id == happening_id)).first()
    if exists is not None:
        return False
    conn.execute(sa.insert(pending).values(sub=sub, happening_id=happening_id, reason=reason, happening=happening,
                                           added_at=now or utcnow(), digest_key=None))
    return True


def waiting(engine, sub: str, until: dt.datetime) -> list[Any]:
    """The member's happenings waiting for a digest, added before `until`, oldest first."""
    with reader(engine) as conn:
        return list(conn.execute(sa.select(pending).where(
            pending.c.sub == sub, pending.c.digest_key.is_(None), pending.c.added_at <= until)
            .order_by(pending.c.added_at, pending.c.id)))


def members_waiting(engine, until: dt.datetime) -> list[str]:
    """Every member with something waiting for a digest since before `until`."""
    with reader(engine) as conn:
        return [r[0] for r in conn.execute(sa.select(pending.c.sub).where(
            pending.c.digest_key.is_(None), pending.c.added_at <= until).distinct().order_by(pending.c.sub))]


def settle(conn: sa.Connection, ids: Iterable[int], digest_key: str) -> None:
    """The rows went out in the digest `digest_key` (or were dropped: the key says so)."""
    ids = list(ids)
    for start in range(0, len(ids), 500):
        conn.execute(sa.update(pending).where(pending.c.id.in_(ids[start:start + 500])).values(digest_key=digest_key[:255]))
