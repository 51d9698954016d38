"""The route table: every request the Discourse client may send, and where it is described
(why a table, and how it is checked: the package's docstring)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OPENAPI", "ROUTES", "Route", "UnlistedRoute", "route_for"]

#: ``source`` of a route described by Discourse's official OpenAPI description
#: (discourse/discourse_api_docs, openapi.json).
OPENAPI = "openapi"


@dataclass(frozen=True)
class Route:
    """One request the client may send. ``idempotent``: repeating it after a lost answer is
    harmless, so it may be retried after a read time-out or a 5xx."""

    method: str
    template: str
    idempotent: bool
    source: str = OPENAPI

    @property
    def pattern(self) -> re.Pattern:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.template)) + "$")


# Source-reproduced routes: "<Discourse source file>#<action>"; the paths are those of
# config/routes.rb (admin namespace; web hooks under its `scope "/api"`), with `.json`.
_USERS = "app/controllers/admin/users_controller.rb"
_SITE_SETTINGS = "app/controllers/admin/site_settings_controller.rb"
_WEB_HOOKS = "app/controllers/admin/web_hooks_controller.rb"

#: Every operation of the client: name -> route. Nothing else can be sent.
ROUTES: dict[str, Route] = {
    # topics and posts
    "create_post": Route("POST", "/posts.json", idempotent=False),
    "get_post": Route("GET", "/posts/{id}.json", idempotent=True),
    "update_post": Route("PUT", "/posts/{id}.json", idempotent=True),
    "get_topic": Route("GET", "/t/{id}.json", idempotent=True),
    "get_topic_by_external_id": Route("GET", "/t/external_id/{external_id}.json", idempotent=True),
    "update_topic": Route("PUT", "/t/-/{id}.json", idempotent=True),
    "update_topic_status": Route("PUT", "/t/{id}/status.json", idempotent=True),
    "get_topic_posts": Route("GET", "/t/{id}/posts.json", idempotent=True),
    "list_latest": Route("GET", "/latest.json", idempotent=True),
    # categories
    "list_categories": Route("GET", "/categories.json", idempotent=True),
    "create_category": Route("POST", "/categories.json", idempotent=False),
    # groups
    "get_group": Route("GET", "/groups/{name}.json", idempotent=True),
    "create_group": Route("POST", "/admin/groups.json", idempotent=False),
    # users
    "get_user": Route("GET", "/u/{username}.json", idempotent=True),
    "get_user_by_external_id": Route("GET", "/u/by-external/{external_id}.json", idempotent=True),
    "log_out_user": Route("POST", "/admin/users/{id}/log_out.json", idempotent=True),
    "suspend_user": Route("PUT", "/admin/users/{id}/suspend.json", idempotent=True),
    "sync_sso": Route("POST", "/admin/users/sync_sso.json", idempotent=True, source=f"{_USERS}#sync_sso"),
    # site settings
    "list_site_settings": Route("GET", "/admin/site_settings.json", idempotent=True,
                                source=f"{_SITE_SETTINGS}#index"),
    "update_site_setting": Route("PUT", "/admin/site_settings/{name}.json", idempotent=True,
                                 source=f"{_SITE_SETTINGS}#update"),
    # web hooks
    "list_web_hooks": Route("GET", "/admin/api/web_hooks.json", idempotent=True, source=f"{_WEB_HOOKS}#index"),
    "create_web_hook": Route("POST", "/admin/api/web_hooks.json", idempotent=False, source=f"{_WEB_HOOKS}#create"),
    "update_web_hook": Route("PUT", "/admin/api/web_hooks/{id}.json", idempotent=True, source=f"{_WEB_HOOKS}#update"),
}

_COMPILED = [(name, r.method, r.pattern) for name, r in ROUTES.items()]


class UnlistedRoute(RuntimeError):
    """A programming error: the client was asked to send a request that :data:`ROUTES` does
    not list. Nothing was sent."""


def route_for(method: str, path: str) -> str:
    """The name of the listed route for (method, path), or :class:`UnlistedRoute`."""
    method = method.upper()
    for name, m, rx in _COMPILED:
        if m == method and rx.match(path):
            return name
    raise UnlistedRoute(f"{method} {path} is not in bridge.clients.discourse.ROUTES; list it (with its source) "
                        "before using it")
