"""The search feature: one search over the blogs and the forum (issue 15).

Found by the shell through the `space_bridge.features` entry point (pyproject.toml); off unless
`search: enabled: true` (sync/search/settings.py says why). This slice serves /search.json over the index; feeding the index
from the mirror and the forum's web hooks, the /search page and the reindex command come next.
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


FEATURE = features.Feature(
    name="search",
    enabled=_enabled,
    config_sections={"search": SearchSettings},
    blueprints=_blueprints,
)
