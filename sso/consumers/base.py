"""What the bridge, as DiscourseConnect provider, needs to know about one kind of consumer.

The handshake itself is the same for every consumer (sso/provider.py: signature, return URL,
nonce, login, signed answer); what differs is what the consumer is told, how a member is logged
out of it or locked out of it after a wiki block, and how later changes reach it. A kind of
consumer (the forum, the blogs' mu-plugin) is one subclass of `Consumer` in a module of this
package, listed once in `sso.consumers.KINDS`; each configured instance (the forum; each blog
with a `connect_secret`) is one object of it. The provider, the log-out and the re-check loop
over the instances and never name a platform.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from sso import redirects

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bridge.config import Settings
    from bridge.outbox import Handler, Outbox
    from sso.accounts import Account
    from sso.settings import SsoSettings

#: what a log-out answers for one consumer (the values of POST /logout's log line)
LOGGED_OUT, UNKNOWN, QUEUED = "ok", "unknown", "queued"
#: seconds a platform gets to log a member out before POST /logout queues a retry instead
LOGOUT_TIMEOUT = 3.0


def member_fields(account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
    """The fields every consumer gets first, in this order (the forum's fields hash depends on it)."""
    avatar = None
    if sso.avatar_url:
        avatar = sso.avatar_url.format(username=quote(account.username.replace(" ", "_"), safe=""), sub=account.sub)
    return {"external_id": account.sub, "email": account.email, "username": username,
            "name": account.realname or account.username, "avatar_url": avatar}


@dataclasses.dataclass(frozen=True)
class Consumer(abc.ABC):
    """One configured DiscourseConnect consumer.

    `name` is the consumer's key everywhere the bridge records it: the nonce table, the platform
    recorded on the account (`accounts.platforms`), the log-out's results and the log lines. It
    must stay the same across releases ("discourse", "wordpress:<site>"): accounts carry it.
    """

    name: str
    secret: str
    base_url: str

    # -- the kind: its route and its jobs --------------------------------------------------------
    #: the provider's URL rule for this kind and its endpoint name (blueprint "sso_provider")
    route: ClassVar[str]
    endpoint: ClassVar[str]
    #: whether this kind's instances may also start at Discourse's own provider path,
    #: /session/sso_provider, which names no consumer (sso/session_path.py): clients written for
    #: Discourse as provider, such as wp-discourse's DiscourseConnect client, only know that path
    at_discourse_path: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def configured(cls, settings: Settings) -> list[Consumer]:
        """The instances the configuration has, in configuration order."""

    @classmethod
    @abc.abstractmethod
    def name_for(cls, **view_args: str) -> str:
        """The `name` of the instance the route's arguments point at (it may not exist)."""

    def view_args(self) -> dict[str, str]:
        """The arguments of `route` that point at this instance (the inverse of `name_for`)."""
        return {}

    @classmethod
    def handlers(cls, settings: Settings, engine: sa.Engine) -> dict[str, Handler]:
        """The outbox job kinds this kind brings (log-out retries, suspensions, re-syncs)."""
        return {}

    @classmethod
    def schedule(cls, scheduler: Any, settings: Settings, engine: sa.Engine) -> None:
        """Add this kind's periodic jobs: `scheduler.every(seconds, function, name)`."""

    # -- one instance ----------------------------------------------------------------------------
    @property
    def platform(self) -> str:
        """What `accounts.mark_platform` records once the member logged in here."""
        return self.name

    def return_url_ok(self, url: str) -> bool:
        """Whether a signed answer may go to `url` (default: only to the consumer's own origin)."""
        return redirects.same_origin(url, self.base_url)

    @abc.abstractmethod
    def answer_fields(self, engine: sa.Engine, account: Account, username: str, sso: SsoSettings) -> dict[str, Any]:
        """The member's fields in the signed answer (without nonce and return URL); `username`
        is the forum name usernames.assign gave the member. May record what was sent."""

    def after_login(self, settings: Settings, engine: sa.Engine, outbox: Outbox, account: Account) -> None:
        """Called after every Wikimedia login: queue a re-sync of what changed. Must not raise."""

    @abc.abstractmethod
    def log_out(self, settings: Settings, outbox: Outbox | None, sub: str, stamp: int) -> str:
        """End the member's sessions here, synchronously and briefly; LOGGED_OUT, UNKNOWN (no such
        user) or QUEUED (failed: a retry job is in `outbox`). Must not raise."""

    @abc.abstractmethod
    def queue_suspend(self, outbox: Outbox, sub: str, stamp: str, job_kinds: set[str]) -> bool:
        """Queue the job that suspends or demotes a member the wiki has locked or blocked; False
        when this bridge has no handler for it (`job_kinds`), so nothing was queued."""
