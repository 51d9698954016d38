"""Kinds of relay target: the interface every kind implements, and the registry of kinds.

A kind is a factory `(settings, target_config) -> Target`, registered in TARGET_KINDS under
the `kind` of sync.relay.settings.RelayTarget. The relay.deliver handler (sync/relay/deliver.py)
builds each configured target once per worker process (a factory may keep connections) and
calls `deliver(message, event)` for every job of that target:

- return normally once the message is delivered (or already was: deliver must be idempotent,
  a job can run twice);
- raise bridge.outbox.RetryLater(seconds) for a temporary failure (the job runs again later),
  bridge.outbox.PermanentFailure for one retrying cannot fix (dead-lettered at once); any
  other exception is retried with the outbox's backoff and dead-lettered after max_attempts.

One failing target never blocks another: each event x target is its own job.

A kind's module is listed in _BUILTIN below and imported on first use; it either calls
`register("kind", factory)` or defines a module-level `build(settings, target) -> Target`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bridge.config import Settings
    from sync.relay.settings import RelayTarget
    from sync.relay.events import Event
    from sync.relay.render import Message


@runtime_checkable
class Target(Protocol):
    def deliver(self, message: "Message", event: "Event") -> None:
        """Deliver one rendered message; raise RetryLater / PermanentFailure on failure."""


TargetFactory = Callable[["Settings", "RelayTarget"], Target]

TARGET_KINDS: dict[str, TargetFactory] = {}

# kind -> module that registers it when imported (imported lazily: the irc library, Apprise,
# SMTP are only loaded by a bridge that has such targets).
_BUILTIN = {
    "wiki": "sync.relay.targets.wiki",
    "irc": "sync.relay.targets.irc",
    "apprise": "sync.relay.targets.apprise",
    "email": "sync.relay.targets.email",
}


def register(kind: str, factory: TargetFactory) -> TargetFactory:
    TARGET_KINDS[kind] = factory
    return factory


def factory_for(kind: str) -> TargetFactory:
    """The registered factory of `kind`, importing its module first if needed (LookupError if none)."""
    if kind not in TARGET_KINDS and kind in _BUILTIN:
        try:
            module = importlib.import_module(_BUILTIN[kind])
        except ModuleNotFoundError as exc:
            if exc.name != _BUILTIN[kind]:
                raise
        else:
            # A module may register itself, or just define build(settings, target).
            if kind not in TARGET_KINDS and callable(getattr(module, "build", None)):
                TARGET_KINDS[kind] = module.build
    if kind not in TARGET_KINDS:
        raise LookupError(f"no relay target kind '{kind}' in this bridge")
    return TARGET_KINDS[kind]


def build(settings: "Settings", target: "RelayTarget") -> Target:
    return factory_for(target.kind)(settings, target)
