"""Which job kinds this bridge handles, and which periodic jobs it schedules.

The flows (sync/, sso/) add their handlers and periodic jobs here as they land, so
`space-bridge worker` is the one process that performs all deferred work.
"""

from __future__ import annotations

import datetime as dt

import structlog

from bridge.outbox import Handler, Job, Outbox

log = structlog.get_logger(__name__)


def probe(job: Job) -> None:
    """A job that does nothing but prove the workers run (`space-bridge outbox probe`)."""
    log.info("outbox.probe", job_id=job.id, note=job.payload.get("note"))


def handlers(settings, engine) -> dict[str, Handler]:
    from sso import logout, wordpress_accounts

    return {"bridge.probe": probe, **wordpress_accounts.handlers(settings), **logout.handlers(settings)}


def schedule(scheduler, settings, engine) -> None:
    outbox = Outbox(engine, settings.outbox)
    keep = settings.outbox.keep_done_days
    if keep:
        def purge():
            removed = outbox.purge_done(dt.timedelta(days=keep))
            if removed:
                log.info("outbox.purged", removed=removed, older_than_days=keep)

        scheduler.every(3600, purge, "outbox-purge")
