"""The notify feature: members choose what reaches them, and leave in one click (issue 16).

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); on unless
`notify: enabled: false`. It serves /me/notifications (when Wikimedia login is configured: the
page is a member's) and the signed unsubscribe links (sync/notify/web.py), over the members'
choices in `notify_preferences` (sync/notify/preferences.py).
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


FEATURE = features.Feature(
    name="notify",
    enabled=_enabled,
    config_sections={"notify": NotifySettings},
    blueprints=_blueprints,
    # The planner that sends notifications (sync/notify/plan.py, deliver.py) plugs in here:
    # handlers=_handlers,        # job kind -> handler (deliveries, digests)
    # schedule=_schedule,        # periodic jobs (digests at notify.digest_hour_utc, list re-reads)
    # subscribers={...},         # events other flows publish (forum.webhook, blog.post_read, ...)
)
