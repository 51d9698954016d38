"""The login feature: Wikimedia login, the DiscourseConnect provider, single log-out and the re-check.

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); on when the
configuration has a `wikimedia` section.
"""

from __future__ import annotations

from bridge import features
from sso.settings import SsoSettings

# The flow's modules are imported when the shell calls in, not when the entry point is loaded:
# every command loads the features to read its configuration, and must do so before metrics or
# logging are set up (bridge/cli_support.py), so a feature module imports only its settings.


def _init_app(app, ctx: features.Context) -> None:
    from sso import logout, provider, wikimedia

    wikimedia.init_app(app, ctx.settings, ctx.engine)  # /login, /oauth/callback, /whoami
    provider.init_app(app, ctx.settings, ctx.engine, ctx.outbox)  # /sso/discourse, /sso/wordpress/<site>
    logout.init_app(app)  # GET /logout asks, POST /logout does it


def _handlers(settings, engine):
    from sso import consumers

    return consumers.handlers(settings, engine)  # log-out retries, suspensions, demotions, re-syncs


def _schedule(scheduler, settings, engine) -> None:
    import structlog

    from bridge import platforms
    from bridge.outbox import Outbox
    from sso import consumers, provider, recheck

    log = structlog.get_logger(__name__)

    def purge_sso_nonces():
        removed = provider.purge_nonces(engine)
        if removed:
            log.info("sso.nonces_purged", removed=removed)

    scheduler.every(3600, purge_sso_nonces, "sso-nonce-purge")
    consumers.schedule(scheduler, settings, engine)

    hours = settings.sso.recheck_interval_hours
    if hours and settings.mediawiki is not None:
        from bridge import jobs  # the kinds of every enabled feature, which only the shell knows

        kinds = set(jobs.handlers(settings, engine))
        outbox = Outbox(engine, settings.outbox)

        def sso_recheck():
            with platforms.mediawiki(settings) as client:
                recheck.recheck(settings, engine, outbox, client, job_kinds=kinds)

        scheduler.every(hours * 3600, sso_recheck, "sso-recheck")


FEATURE = features.Feature(
    name="login",
    enabled=lambda settings: settings.wikimedia is not None,
    config_sections={"sso": SsoSettings},
    init_app=_init_app,
    handlers=_handlers,
    schedule=_schedule,
    checks=lambda settings: __import__("sso.checks", fromlist=["probes"]).probes(settings),  # `space-bridge doctor`
)
