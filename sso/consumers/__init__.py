"""The DiscourseConnect consumers of this bridge: the protocol and the registry.

The provider (sso/provider.py), the single log-out (sso/logout.py) and the re-check
(sso/recheck.py) loop over `consumers(settings)`; the feature (sso/feature.py) adds `handlers`
and `schedule` to the worker. To add a third kind of consumer, write one module here with a
subclass of `Consumer` (sso/consumers/base.py says what each method must do) and add it to
`KINDS`; its name prefix, route and job kinds must not clash with the others'.

    for consumer in consumers(settings):      # the forum, then each blog with a connect_secret
        consumer.name, consumer.platform      # "discourse", "wordpress:blog"
        consumer.answer_fields(engine, account, username, settings.sso)
        consumer.log_out(settings, outbox, sub, stamp)    # "ok" | "unknown" | "queued"
        consumer.queue_suspend(outbox, sub, stamp, job_kinds)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sso.consumers.base import LOGOUT_TIMEOUT, Consumer
from sso.consumers.discourse import Discourse
from sso.consumers.wordpress import WordPress

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bridge.config import Settings
    from bridge.outbox import Handler

__all__ = ["KINDS", "LOGOUT_TIMEOUT", "Consumer", "by_name", "consumers", "handlers", "schedule"]

#: every kind of consumer, in the order the log-out and the re-check visit their instances
KINDS: tuple[type[Consumer], ...] = (Discourse, WordPress)


def consumers(settings: Settings) -> list[Consumer]:
    """The configured consumers: the forum (when configured), then each blog with a connect_secret."""
    return [consumer for kind in KINDS for consumer in kind.configured(settings)]


def by_name(settings: Settings) -> dict[str, Consumer]:
    """The configured consumers by `name`; two with the same name are a bug of a kind's module."""
    found: dict[str, Consumer] = {}
    for consumer in consumers(settings):
        if consumer.name in found:
            raise ValueError(f"two DiscourseConnect consumers are named {consumer.name!r}")
        found[consumer.name] = consumer
    return found


def handlers(settings: Settings, engine: sa.Engine) -> dict[str, Handler]:
    """Every job kind the consumers bring (log-out retries, suspensions, demotions, re-syncs)."""
    found: dict[str, Handler] = {}
    for kind in KINDS:
        for job_kind, handler in kind.handlers(settings, engine).items():
            if job_kind in found:
                raise ValueError(f"job kind {job_kind!r} is brought by two kinds of consumer")
            found[job_kind] = handler
    return found


def schedule(scheduler: Any, settings: Settings, engine: sa.Engine) -> None:
    """Add the consumers' periodic jobs (none today): `scheduler.every(seconds, function, name)`."""
    for kind in KINDS:
        kind.schedule(scheduler, settings, engine)
