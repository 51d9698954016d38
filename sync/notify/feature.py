"""The notify feature: members choose what reaches them, and leave in one click (issue 16).

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); on unless
`notify: enabled: false`. It serves /me/notifications (when Wikimedia login is configured: the
page is a member's) and the signed unsubscribe links (sync/notify/web.py), over the members'
choices in `notify_preferences` (sync/notify/preferences.py). It hears the blogs, the forum and
the logins (bridge/events.py), plans who hears of what (sync/notify/fanout.py, plan.py) and
sends (sync/notify/deliver.py, channels.py, render.py), with daily and weekly digests.
"""

from __future__ import annotations

from bridge import features
from sync.notify.settings import NotifySettings

# The flow's modules are imported when the shell calls in (see sso/feature.py for why).


def _enabled(settings) -> bool:
    section = getattr(settings, "notify", None)
    return section is not None and section.enabled


def _blueprints(ctx: features.Context):
    from sync.notify import web

    return (web.blueprint(ctx.settings, ctx.engine, ctx.settings.notify,
                          member_pages=ctx.settings.wikimedia is not None),)


def _handlers(settings, engine):
    from sync.notify import deliver

    return deliver.handlers(settings, engine)


def _schedule(scheduler, settings, engine) -> None:
    from sync.notify import deliver

    deliver.schedule(scheduler, settings, engine)


def _subscriber(module: str, name: str):
    def call(settings, engine, **data):
        import importlib

        return getattr(importlib.import_module(f"sync.notify.{module}"), name)(settings, engine, **data)

    return call


FEATURE = features.Feature(
    name="notify",
    enabled=_enabled,
    config_sections={"notify": NotifySettings},
    blueprints=_blueprints,
    handlers=_handlers,
    schedule=_schedule,
    subscribers={"blog.post_read": _subscriber("fanout", "on_post_read"),
                 "blog.post_changed": _subscriber("fanout", "on_post_changed"),
                 "forum.webhook": _subscriber("fanout", "on_forum_webhook"),
                 "member.login": _subscriber("deliver", "on_login")},
    checks=lambda settings: __import__("sync.notify.checks", fromlist=["probes"]).probes(settings),  # `space-bridge doctor`
)
