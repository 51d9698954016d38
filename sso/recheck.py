"""Periodic re-check of every known account against the wiki: global locks and blocks.

A member who was fine at the last login may since have been globally locked or blocked. Every
``sso.recheck_interval_hours`` the leader worker (the login feature's `schedule`) asks the wiki of
``mediawiki.api_url`` (on Wikimedia: meta.wikimedia.org) about each account that is not marked
blocked yet, with one query per member (MediaWikiClient.user_status:
``list=users&usprop=blockinfo`` for a block on that wiki, ``meta=globaluserinfo&guiuser=`` for a
CentralAuth global lock). A locked or blocked member:

- is marked ``blocked`` on the account, so the bridge's session no longer counts
  (sso.wikimedia.current_account) and no new DiscourseConnect answer is given;
- gets, from each configured DiscourseConnect consumer the member used (sso/consumers/), the
  job that suspends or demotes them there, when this bridge has a handler for that kind (without
  one nothing is queued): ``sso.suspend_discourse`` {sub} for the forum (the Discourse user
  found by external id, suspended for ``sso.suspend_days`` and logged out), ``sso.demote_wordpress``
  {site, sub} for each blog.

A member who is unblocked later is marked unblocked at the next login (the profile says so);
lifting a forum suspension stays a moderator's decision.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
import structlog

from bridge.outbox import Outbox
from bridge.store import accounts as accounts_table
from bridge.store import utcnow
from sso import accounts, consumers

# the old import paths of the suspension jobs, used by sso/feature.py and the tests

log = structlog.get_logger(__name__)


def mark_blocked(engine: sa.Engine, sub: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(accounts_table).where(accounts_table.c.sub == str(sub))
                     .values(blocked=True, updated_at=utcnow()))


def recheck(settings, engine: sa.Engine, outbox: Outbox, client, *, job_kinds: Iterable[str] = ()) -> dict[str, int]:
    """One pass over every account not yet marked blocked; returns counts (checked, blocked,
    failed, queued). `client`: a MediaWikiClient; `job_kinds`: the kinds this bridge handles."""
    kinds = set(job_kinds)
    used = consumers.consumers(settings)
    counts = {"checked": 0, "blocked": 0, "failed": 0, "queued": 0}
    for account in accounts.all_accounts(engine):
        if account.blocked:
            continue
        try:
            status = client.user_status(account.username)
        except Exception as exc:  # noqa: BLE001 - one failure must not stop the pass
            counts["failed"] += 1
            log.warning("sso.recheck_failed", sub=account.sub, username=account.username, error=str(exc)[:300])
            continue
        counts["checked"] += 1
        if not (status.get("locked") or status.get("blocked")):
            continue
        mark_blocked(engine, account.sub)
        counts["blocked"] += 1
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        queued = [consumer.name for consumer in used
                  if consumer.platform in account.platforms and consumer.queue_suspend(outbox, account.sub, stamp, kinds)]
        counts["queued"] += len(queued)
        log.info("sso.recheck_blocked", sub=account.sub, username=account.username, locked=bool(status.get("locked")),
                 blocked=bool(status.get("blocked")), block_expiry=status.get("block_expiry"), queued=queued)
    log.info("sso.recheck_done", **counts)
    return counts
