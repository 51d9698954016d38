"""Each blog as DiscourseConnect consumer: `GET /sso/wordpress/<site>`, for every site of
``wordpress.sites`` with a ``connect_secret`` (the site's space-bridge mu-plugin,
deploy/wordpress/space-bridge/sso.php, is the consumer). A blog may run wp-discourse's
DiscourseConnect client instead, which knows only Discourse's path: ``/session/sso_provider``
leads it here (sso/session_path.py); the fields below include all that client reads (external_id,
email, username, name, nonce, return_sso_url: its lib/sso-client/client.php).

What it is told: the member, the wiki groups as they are (``groups``), the WordPress role the
site's ``roles`` give (``custom.role``) and the wiki username (``custom.wiki_username``). The
login name is the forum name in Latin letters: WordPress keeps logins ASCII (sanitize_user with
$strict, wp-includes/formatting.php).

Log-out and demotion go through the mu-plugin's signed REST routes (the WordPress admin client,
bridge/clients/wordpress/accounts.py): a failed log-out queues ``sso.logout_wordpress``
{site, sub}; a member the wiki locked or blocked gets ``sso.demote_wordpress`` {site, sub[, role]}
(every role on that site goes, ``role``: ``""`` unless the payload names one, and the member is
logged out). There is nothing to re-sync: the blog reads the fields again at the member's next
login there.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import structlog

from bridge.clients.errors import outbox_failure
from bridge.clients.wordpress.accounts import DEFAULT_TIMEOUT, WordPressSSOError, call
from bridge.outbox import Job, PermanentFailure
from sso import usernames
from sso.consumers.base import LOGGED_OUT, LOGOUT_TIMEOUT, QUEUED, UNKNOWN, Consumer, member_fields

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bridge.config import Settings, WordPressSite
    from bridge.outbox import Handler, Outbox
    from sso.accounts import Account
    from sso.settings import SsoSettings

log = structlog.get_logger(__name__)

PREFIX = "wordpress:"
LOGOUT_WORDPRESS = "sso.logout_wordpress"
DEMOTE_WORDPRESS = "sso.demote_wordpress"


def logout(site: WordPressSite, external_id: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), site.connect_secret.get_secret_value(), "logout",
                {"external_id": str(external_id)}, timeout=timeout)


def demote(site: WordPressSite, external_id: str, role: str = "", *, timeout: float = DEFAULT_TIMEOUT) -> dict:
    return call(str(site.url), site.connect_secret.get_secret_value(), "demote",
                {"external_id": str(external_id), "role": role}, timeout=timeout)


def _run(settings: Settings, job: Job, action) -> None:
    name, sub = job.payload.get("site"), job.payload.get("sub")
    if not name or not sub:
        raise PermanentFailure("payload needs site and sub")
    site = next((s for s in settings.wordpress.sites if s.name == name), None)
    if site is None or site.connect_secret is None:
        raise PermanentFailure(f"no WordPress site {name!r} with a connect_secret")
    try:
        answer = action(site, str(sub))
    except WordPressSSOError as exc:
        raise outbox_failure(exc) from exc
    log.info(f"{job.kind}.done", site=name, found=answer.get("found"), job_id=job.id)


def handlers(settings: Settings) -> dict[str, Handler]:
    """``sso.demote_wordpress`` ({site, sub[, role]}) and ``sso.logout_wordpress`` ({site, sub}),
    the retry of a failed single log-out."""
    def demote_job(job: Job) -> None:
        _run(settings, job, lambda site, sub: demote(site, sub, str(job.payload.get("role") or "")))

    return {DEMOTE_WORDPRESS: demote_job, LOGOUT_WORDPRESS: lambda job: _run(settings, job, logout)}


def wordpress_role(account: Account, site: WordPressSite) -> str:
    for group, role in site.roles.items():
        if group in account.groups:
            return role
    return site.default_role


def wordpress_fields(account: Account, username: str, site: WordPressSite, sso: SsoSettings) -> dict[str, Any]:
    """The fields for a blog's mu-plugin: the member, the wiki groups as they are (`groups`) and
    the WordPress role the site's `roles` give (`custom.role`)."""
    fields = member_fields(account, username, sso)
    fields.update({
        "groups": ",".join(g for g in account.groups if g not in ("*",)),
        "custom.role": wordpress_role(account, site),
        "custom.wiki_username": account.username,
    })
    if not account.email_confirmed:
        fields["require_activation"] = True
    return fields


@dataclasses.dataclass(frozen=True)
class WordPress(Consumer):
    """One blog of ``wordpress.sites`` with a ``connect_secret``."""

    site: WordPressSite

    route = "/sso/wordpress/<site>"
    endpoint = "wordpress"
    # a blog may run wp-discourse's DiscourseConnect client instead of the mu-plugin; that client
    # sends its members to <provider>/session/sso_provider (lib/sso-client/query-redirect.php)
    at_discourse_path = True

    @classmethod
    def configured(cls, settings: Settings) -> list[Consumer]:
        return [cls(PREFIX + site.name, site.connect_secret.get_secret_value(), site.url, site)
                for site in settings.wordpress.sites if site.connect_secret is not None]

    @classmethod
    def name_for(cls, **view_args: str) -> str:
        return PREFIX + view_args["site"]

    def view_args(self) -> dict[str, str]:
        return {"site": self.site.name}

    @classmethod
    def handlers(cls, settings: Settings, engine: sa.Engine) -> dict[str, Handler]:
        return handlers(settings)

    def answer_fields(self, engine: sa.Engine, account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
        return wordpress_fields(account, usernames.transliterate(username), self.site, sso)

    def log_out(self, settings: Settings, outbox: Outbox | None, sub: str, stamp: int) -> str:
        try:
            found = logout(self.site, sub, timeout=LOGOUT_TIMEOUT).get("found")
            return LOGGED_OUT if found else UNKNOWN
        except WordPressSSOError as exc:
            log.warning("sso.logout.wordpress_failed", sub=sub, site=self.site.name, error=str(exc))
            if outbox is not None:
                outbox.enqueue(LOGOUT_WORDPRESS, {"site": self.site.name, "sub": sub},
                               key=f"logout:wordpress:{self.site.name}:{sub}:{stamp}")
            return QUEUED

    def queue_suspend(self, outbox: Outbox, sub: str, stamp: str, job_kinds: set[str]) -> bool:
        if DEMOTE_WORDPRESS not in job_kinds:
            return False
        outbox.enqueue(DEMOTE_WORDPRESS, {"site": self.site.name, "sub": sub},
                       key=f"{DEMOTE_WORDPRESS}:{self.site.name}:{sub}:{stamp}")
        return True
