"""Periodic re-check of every known account against the wiki: global locks and blocks.

A member who was fine at the last login may since have been globally locked or blocked. Every
``sso.recheck_interval_hours`` the leader worker (bridge/jobs.py `schedule`) asks the wiki of
``mediawiki.api_url`` (on Wikimedia: meta.wikimedia.org) about each account that is not marked
blocked yet, with one query per member (MediaWikiClient.user_status:
``list=users&usprop=blockinfo`` for a block on that wiki, ``meta=globaluserinfo&guiuser=`` for a
CentralAuth global lock). A locked or blocked member:

- is marked ``blocked`` on the account, so the bridge's session no longer counts
  (sso.wikimedia.current_account) and no new DiscourseConnect answer is given;
- gets an outbox job ``sso.suspend_discourse`` when the member used the forum (handler below:
  the Discourse user found by external id, suspended for ``sso.suspend_days`` and logged out);
- gets ``sso.demote_wordpress`` {site, sub} for each blog the member used, when this bridge has
  a handler for that kind (sso/wordpress_accounts.py); without one nothing is queued.

A member who is unblocked later is marked unblocked at the next login (the profile says so);
lifting a forum suspension stays a moderator's decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import sqlalchemy as sa
import structlog

from bridge.outbox import Job, Outbox, PermanentFailure
from bridge.store import accounts as accounts_table
from bridge.store import utcnow
from sso import accounts

log = structlog.get_logger(__name__)

SUSPEND_DISCOURSE = "sso.suspend_discourse"
DEMOTE_WORDPRESS = "sso.demote_wordpress"
SUSPEND_REASON = "Wikimedia account locked or blocked (Space bridge re-check)"


def mark_blocked(engine: sa.Engine, sub: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(accounts_table).where(accounts_table.c.sub == str(sub))
                     .values(blocked=True, updated_at=utcnow()))


def recheck(settings, engine: sa.Engine, outbox: Outbox, client, *, job_kinds: Iterable[str] = ()) -> dict[str, int]:
    """One pass over every account not yet marked blocked; returns counts (checked, blocked,
    failed, queued). `client`: a MediaWikiClient; `job_kinds`: the kinds this bridge handles."""
    kinds = set(job_kinds)
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
        queued = []
        if settings.discourse is not None and "discourse" in account.platforms and SUSPEND_DISCOURSE in kinds:
            outbox.enqueue(SUSPEND_DISCOURSE, {"sub": account.sub}, key=f"{SUSPEND_DISCOURSE}:{account.sub}:{stamp}")
            queued.append("discourse")
        if DEMOTE_WORDPRESS in kinds:
            for site in settings.wordpress.sites:
                if site.connect_secret is not None and f"wordpress:{site.name}" in account.platforms:
                    outbox.enqueue(DEMOTE_WORDPRESS, {"site": site.name, "sub": account.sub},
                                   key=f"{DEMOTE_WORDPRESS}:{site.name}:{account.sub}:{stamp}")
                    queued.append(f"wordpress:{site.name}")
        counts["queued"] += len(queued)
        log.info("sso.recheck_blocked", sub=account.sub, username=account.username, locked=bool(status.get("locked")),
                 blocked=bool(status.get("blocked")), block_expiry=status.get("block_expiry"), queued=queued)
    log.info("sso.recheck_done", **counts)
    return counts


def suspend_discourse_handler(settings, client_factory: Callable | None = None):
    """Handler of sso.suspend_discourse ({sub}): suspend the forum user with that external id
    and end their forum sessions (nothing to do when the forum has no such user)."""
    from bridge import platforms
    from bridge.clients.discourse import DiscourseError, outbox_failure

    factory = client_factory or (lambda: platforms.discourse(settings, max_wait=30, max_retries=1))

    def handle(job: Job) -> None:
        sub = str(job.payload.get("sub") or "")
        if not sub:
            raise PermanentFailure("the job has no sub")
        until = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=settings.sso.suspend_days)
        try:
            with factory() as client:
                user = client.user_by_external_id(sub)
                if user is None:
                    log.info("sso.suspend_discourse_no_user", sub=sub, job_id=job.id)
                    return
                client.suspend_user(user.id, until, SUSPEND_REASON)
                client.log_out_user(user.id)
        except DiscourseError as exc:
            raise outbox_failure(exc) from None
        log.info("sso.suspend_discourse_done", sub=sub, user_id=user.id, username=user.username, job_id=job.id)

    return handle
