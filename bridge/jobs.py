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

    return {"bridge.probe": probe, **wordpress_accounts.handlers(settings), **logout.handlers(settings), **_sso_handlers(settings, engine)}


def _sso_handlers(settings, engine) -> dict[str, Handler]:
    """DiscourseConnect provider jobs (sso/provider.py, sso/recheck.py): forum-side only."""
    if settings.discourse is None:
        return {}
    from sso import provider, recheck

    return {provider.SYNC_DISCOURSE: provider.sync_discourse_handler(settings, engine),
            recheck.SUSPEND_DISCOURSE: recheck.suspend_discourse_handler(settings)}


def schedule(scheduler, settings, engine) -> None:
    outbox = Outbox(engine, settings.outbox)
    keep = settings.outbox.keep_done_days
    if keep:
        def purge():
            removed = outbox.purge_done(dt.timedelta(days=keep))
            if removed:
                log.info("outbox.purged", removed=removed, older_than_days=keep)

        scheduler.every(3600, purge, "outbox-purge")

    if settings.wikimedia is not None:
        from sso import provider

        def purge_sso_nonces():
            removed = provider.purge_nonces(engine)
            if removed:
                log.info("sso.nonces_purged", removed=removed)

        scheduler.every(3600, purge_sso_nonces, "sso-nonce-purge")

    hours = settings.sso.recheck_interval_hours
    if hours and settings.wikimedia is not None and settings.mediawiki is not None:
        from bridge import platforms
        from sso import recheck

        kinds = set(handlers(settings, engine))

        def sso_recheck():
            with platforms.mediawiki(settings) as client:
                recheck.recheck(settings, engine, outbox, client, job_kinds=kinds)

        scheduler.every(hours * 3600, sso_recheck, "sso-recheck")


# -- WordPress -> Discourse mirror (sync/mirror.py, sync/replies.py, sync/reconcile.py) ----
_handlers_before_mirror = handlers
_schedule_before_mirror = schedule


def handlers(settings, engine) -> dict[str, Handler]:  # noqa: F811 - adds the mirror's kinds
    found = _handlers_before_mirror(settings, engine)
    if settings.discourse is not None and settings.wordpress.sites:
        from sync.mirror import mirror_handlers

        found.update(mirror_handlers(settings, engine))
    return found


def schedule(scheduler, settings, engine) -> None:  # noqa: F811 - adds the periodic reconcile
    _schedule_before_mirror(scheduler, settings, engine)
    if settings.discourse is not None and settings.wordpress.sites:
        from sync.reconcile import reconcile_all

        scheduler.every(settings.mirror.reconcile_interval_seconds, lambda: reconcile_all(settings, engine),
                        "mirror-reconcile")


# -- relay of Space activity to wiki pages, IRC and chats (sync/relay) ---------------------
_handlers_before_relay = handlers


def handlers(settings, engine) -> dict[str, Handler]:  # noqa: F811 - adds relay.deliver
    found = _handlers_before_relay(settings, engine)
    if settings.relay.targets:
        from sync.relay.deliver import relay_handlers

        found.update(relay_handlers(settings, engine))
    return found


# -- mailing-list digest (sync/relay/targets/email.py) -------------------------------------
_handlers_before_digest, _schedule_before_digest = handlers, schedule


def handlers(settings, engine) -> dict[str, Handler]:  # noqa: F811 - adds relay.digest
    found = _handlers_before_digest(settings, engine)
    if settings.relay.digest is not None:
        from sync.relay.targets import email as digest

        found.update(digest.handlers(settings, engine))
    return found


def schedule(scheduler, settings, engine) -> None:  # noqa: F811 - adds the digest's periodic check
    _schedule_before_digest(scheduler, settings, engine)
    if settings.relay.digest is not None:
        from sync.relay.targets import email as digest

        digest.schedule(scheduler, settings, engine)
