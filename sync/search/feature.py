"""The search feature: one search over the blogs and the forum (issue 15).

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); on unless
`search: enabled: false`. It serves the search (sync/search/web.py), keeps the index in step with
what the other flows publish (sync/search/feed.py: the posts the mirror reads, the forum's web
hooks), looks at every platform periodically for what a lost web hook missed, and adds
`space-bridge search reindex` (sync/search/commands.py).
"""

from __future__ import annotations

from bridge import features
from sync.search.settings import SearchSettings

# The flow's modules are imported when the shell calls in (see sso/feature.py for why).


def _enabled(settings) -> bool:
    section = getattr(settings, "search", None)
    return section is not None and section.enabled


def _blueprints(ctx: features.Context):
    from sync.search import web
    from sync.search.engines import for_database

    return (web.blueprint(for_database(ctx.engine, ctx.settings.search), ctx.settings.search),)


def _handlers(settings, engine):
    from sync.search import feed

    return feed.handlers(settings, engine)


def _schedule(scheduler, settings, engine) -> None:
    from sync.search import feed

    scheduler.every(settings.search.reconcile_interval_seconds, lambda: feed.reconcile_all(settings, engine),
                    "search-reconcile")
    if settings.wordpress.sites:
        scheduler.every(settings.search.views_interval_seconds, lambda: feed.refresh_all_views(settings, engine),
                        "search-views")


def _subscriber(name):
    def call(settings, engine, **data):
        from sync.search import feed

        return getattr(feed, name)(settings, engine, **data)

    return call


def _commands():
    from sync.search.commands import search_group

    return (search_group,)


FEATURE = features.Feature(
    name="search",
    enabled=_enabled,
    config_sections={"search": SearchSettings},
    blueprints=_blueprints,
    handlers=_handlers,
    schedule=_schedule,
    commands=_commands,
    subscribers={"blog.post_read": _subscriber("on_post_read"), "blog.post_changed": _subscriber("on_post_changed"),
                 "forum.webhook": _subscriber("on_forum_webhook")},
)
