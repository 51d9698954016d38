"""Clients of the configured platforms, built from the one configuration model.

Flows ask here for "the WordPress client of site X" and never see URLs or credentials;
`space-bridge platforms check` uses the same constructors to tell an operator, before the
first real job, whether each platform accepts the configured credentials.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.clients import user_agent
from bridge.clients.discourse import DiscourseClient, DiscourseError
from bridge.clients.mediawiki import MediaWikiClient, MediaWikiError
from bridge.clients.wordpress import WordPressClient, WordPressError
from bridge.config import Settings


def wordpress(settings: Settings, site_name: str) -> WordPressClient:
    site = settings.site(site_name)
    return WordPressClient(site.url, site.username, site.password.get_secret_value(), transport=site.transport,
                           user_agent=user_agent(settings.bridge.user_agent_contact))


def mediawiki(settings: Settings) -> MediaWikiClient:
    mw = settings.mediawiki
    if mw is None:
        raise LookupError(f"no mediawiki section in {settings.source}")
    return MediaWikiClient(mw.api_url, mw.username, mw.password.get_secret_value(),
                           user_agent=user_agent(settings.bridge.user_agent_contact), maxlag=mw.maxlag)


def discourse(settings: Settings, *, max_wait: float | None = None, max_retries: int = 4) -> DiscourseClient:
    """The forum's client. `max_wait`: the longest a request may wait for its pacing slot
    before raising DiscourseRateLimited (None: wait as long as needed); see
    bridge.clients.discourse for when a job handler should set it."""
    d = settings.discourse
    if d is None:
        raise LookupError(f"no discourse section in {settings.source}")
    return DiscourseClient(d.url, d.api_key.get_secret_value(), d.api_username,
                           connect_secret=d.connect_secret.get_secret_value(),
                           requests_per_minute=d.requests_per_minute,
                           user_agent=user_agent(settings.bridge.user_agent_contact), max_wait=max_wait,
                           max_retries=max_retries)


@dataclass(frozen=True)
class Check:
    platform: str
    ok: bool
    detail: str


def check_all(settings: Settings) -> list[Check]:
    """Log in to every configured platform once; never raises, reports each result."""
    results = []
    for site in settings.wordpress.sites:
        name = f"wordpress:{site.name}"
        try:
            with wordpress(settings, site.name) as client:
                me = client.whoami()
            results.append(Check(name, True, f"{site.url} via {site.transport} as {me.name or site.username}"))
        except (WordPressError, OSError) as exc:
            results.append(Check(name, False, f"{site.url} via {site.transport}: {exc}"))
    if settings.mediawiki:
        try:
            with mediawiki(settings) as client:
                client.login()
            results.append(Check("mediawiki", True, f"{settings.mediawiki.api_url} as {settings.mediawiki.username}"))
        except (MediaWikiError, OSError) as exc:
            results.append(Check("mediawiki", False, f"{settings.mediawiki.api_url}: {exc}"))
    if settings.discourse:
        d = settings.discourse
        try:
            with discourse(settings, max_retries=1) as client:
                me = client.whoami()
            if me.admin:
                results.append(Check("discourse", True, f"{d.url} as {me.username} (admin)"))
            else:
                results.append(Check("discourse", False, f"{d.url}: {me.username} is not an admin; "
                                                         "setup and user sync need an admin API user"))
        except (DiscourseError, OSError) as exc:
            results.append(Check("discourse", False, f"{d.url}: {exc}"))
    return results
